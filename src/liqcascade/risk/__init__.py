"""Risk tools for traders: liquidation distance, liquidation probability, safe sizing, stops.

Everything here is about one position (or one account) against the venue's own margin rules
(:mod:`liqcascade.margin`). Formulas, defaults and sources are stated in ``docs/risk.md``.
Every name below is importable from ``liqcascade.risk``; each idea has its own module:

* :mod:`.models`: the price models (Merton jump-diffusion, GBM first passage, simulation);
* :mod:`.probability`: probability of touching a liquidation price within a horizon;
* :mod:`.fit`: volatility and jumps fitted to klines (files or the data store);
* :mod:`.position`: one isolated position on the venue's rules, and price-move what-ifs;
* :mod:`.sizing`: the largest size or leverage under a target liquidation probability;
* :mod:`.stops`: protective stop, hedge and size cut on common simulated paths;
* :mod:`.clusters`: dense liquidation bands near the price, from a liquidation map;
* :mod:`.account`: every position and margin pool of a book.

Conventions
-----------
* ``side`` is +1 long, -1 short (the strings ``"long"``/``"short"`` are accepted too).
* Volatility ``vol_annual`` and drift ``drift_annual`` are annualised over a 365-day year
  (crypto trades every day). ``drift_annual`` (``mu``) is the drift of the *price*:
  ``E[S_T] = S_0 * exp(mu*T)``, so the log-price drifts by ``mu - vol^2/2`` (GBM) and by
  ``mu - vol^2/2 - lambda*kappa`` under Merton jump-diffusion, ``kappa = E[e^J] - 1``.
* A position is liquidated when the (mark) price touches its liquidation price at any time
  within the horizon (continuous monitoring, "barrier hit"), not only at the horizon.

Models
------
``gbm``: closed form for the first passage of a drifted Brownian motion in log-price
(reflection principle; e.g. Borodin & Salminen, *Handbook of Brownian Motion*, 2.1.1.4;
Shreve, *Stochastic Calculus for Finance II*, 7.2.2)::

    y_t = a t + s W_t,  c < 0 (barrier in log units, oriented so the barrier is below)
    P(min_{t<=T} y_t <= c) = Phi((c - aT)/(s sqrt T)) + exp(2 a c / s^2) Phi((c + aT)/(s sqrt T))

``jump``: Merton (1976) jump-diffusion, simulated with a seeded ``numpy.random.Generator``.
Within each step the diffusion's running minimum and maximum are drawn *exactly* from the
Brownian-bridge extreme law (given both end points, ``min = (x0 + x1 - sqrt((x1-x0)^2 -
2 s^2 dt ln U))/2``), and jumps are applied at the end of the step. The barrier crossing of
the continuous path is therefore not missed between steps; only the jump time is rounded to
the step grid. The probability is a binomial proportion over paths, reported with a
Clopper-Pearson interval.
"""

from __future__ import annotations

from liqcascade.jumps import SECONDS_PER_YEAR
from liqcascade.risk._checks import parse_side
from liqcascade.risk.account import AccountRisk, account_risk, load_positions
from liqcascade.risk.clusters import ClusterBand, ClusterWarning, cluster_warning
from liqcascade.risk.fit import FittedModel, fit_from_klines, fit_from_store, read_klines
from liqcascade.risk.models import (
    DAYS_PER_YEAR,
    DEFAULT_CONFIDENCE,
    DEFAULT_N_PATHS,
    DEFAULT_SEED,
    JUMP_PARAMETERS,
    JumpDiffusion,
    default_n_steps,
    price_model,
    prob_hit_gbm,
    simulate_log_extremes,
)
from liqcascade.risk.position import MoveOutcome, PositionRisk, move_what_if, position_risk
from liqcascade.risk.probability import (
    DEFAULT_HORIZONS_DAYS,
    HorizonCurve,
    LiquidationProbability,
    prob_liquidation,
    probability_by_horizon,
)
from liqcascade.risk.sizing import (
    SafeSize,
    SizingKeywords,
    SizingModel,
    safe_leverage,
    safe_size,
)
from liqcascade.risk.stops import StopAnalysis, StopScenario, simulate_stop_paths, stop_analysis

__all__ = [
    "DAYS_PER_YEAR",
    "DEFAULT_HORIZONS_DAYS",
    "DEFAULT_CONFIDENCE",
    "DEFAULT_N_PATHS",
    "DEFAULT_SEED",
    "JUMP_PARAMETERS",
    "SECONDS_PER_YEAR",
    "AccountRisk",
    "ClusterBand",
    "ClusterWarning",
    "FittedModel",
    "JumpDiffusion",
    "HorizonCurve",
    "LiquidationProbability",
    "MoveOutcome",
    "PositionRisk",
    "SafeSize",
    "SizingKeywords",
    "SizingModel",
    "StopAnalysis",
    "StopScenario",
    "account_risk",
    "cluster_warning",
    "default_n_steps",
    "fit_from_klines",
    "fit_from_store",
    "load_positions",
    "move_what_if",
    "parse_side",
    "position_risk",
    "price_model",
    "prob_hit_gbm",
    "prob_liquidation",
    "probability_by_horizon",
    "read_klines",
    "safe_leverage",
    "safe_size",
    "simulate_log_extremes",
    "simulate_stop_paths",
    "stop_analysis",
]
