"""Probability that the price touches a liquidation price within a horizon (GBM or Merton)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from liqcascade.errors import InputError
from liqcascade.jsonutil import AsDict
from liqcascade.risk._checks import _check_barrier, _positive, parse_side
from liqcascade.risk.models import (
    DEFAULT_CONFIDENCE,
    DEFAULT_N_PATHS,
    DEFAULT_SEED,
    JumpDiffusion,
    _clopper_pearson,
    gbm_touch,
    simulate_log_extremes,
    step_grid,
)


@dataclass(frozen=True)
class LiquidationProbability(AsDict):
    """Probability that the price touches the liquidation price within the horizon.

    ``ci_low``/``ci_high``/``standard_error`` are ``None`` for the closed-form GBM model;
    for the simulated jump model they are the Clopper-Pearson interval at ``confidence`` and
    ``sqrt(p(1-p)/n_paths)``.
    """

    probability: float
    model: str
    price: float
    liq_price: float
    side: int
    horizon_days: float
    vol_annual: float
    drift_annual: float
    log_drift_annual: float
    distance_frac: float
    distance_sigma: float
    jump_intensity_annual: float = 0.0
    jump_mean_log: float = 0.0
    jump_std_log: float = 0.0
    ci_low: float | None = None
    ci_high: float | None = None
    standard_error: float | None = None
    confidence: float | None = None
    n_paths: int | None = None
    n_steps: int | None = None
    seed: int | None = None


def prob_liquidation(
    price: float,
    liq_price: float,
    side: int | str,
    vol_annual: float,
    horizon_days: float,
    *,
    drift_annual: float = 0.0,
    model: str = "gbm",
    jump_intensity_annual: float = 0.0,
    jump_mean_log: float = 0.0,
    jump_std_log: float = 0.0,
    n_paths: int = DEFAULT_N_PATHS,
    n_steps: int | None = None,
    seed: int = DEFAULT_SEED,
    confidence: float = DEFAULT_CONFIDENCE,
) -> LiquidationProbability:
    """Probability of touching ``liq_price`` (quote per base) within ``horizon_days``.

    ``model="gbm"`` uses the closed form (:func:`prob_hit_gbm`); ``model="jump"`` simulates the
    Merton jump-diffusion with ``n_paths`` paths from ``numpy.random.default_rng(seed)`` and
    returns a Clopper-Pearson interval. ``vol_annual`` and ``drift_annual`` are annualised
    over 365 days; ``drift_annual`` is the drift of the price (default 0, so the log-price
    drifts by ``-vol^2/2``).

    Examples
    --------
    >>> r = prob_liquidation(100_000, 90_000, "long", 0.6, 7)
    >>> round(r.probability, 4)
    0.2158
    """
    price = _positive("price", price)
    liq_price = _positive("liq_price", liq_price)
    sd = parse_side(side)
    horizon_days = _positive("horizon_days", horizon_days)
    _check_barrier(price, liq_price, sd)
    if not 0.0 < confidence < 1.0:
        raise InputError(f"confidence={confidence!r}: expected a fraction in (0, 1)")
    jd = JumpDiffusion(
        vol_annual=vol_annual,
        drift_annual=drift_annual,
        jump_intensity_annual=jump_intensity_annual,
        jump_mean_log=jump_mean_log,
        jump_std_log=jump_std_log,
    )
    c = math.log(liq_price / price)
    dist_sigma, p_gbm = gbm_touch(c, jd.vol_annual, horizon_days, jd.drift_annual)
    common: dict[str, Any] = dict(
        price=price,
        liq_price=liq_price,
        side=sd,
        horizon_days=horizon_days,
        vol_annual=jd.vol_annual,
        drift_annual=jd.drift_annual,
        log_drift_annual=jd.log_drift_annual,
        distance_frac=sd * (price - liq_price) / price,
        distance_sigma=float(dist_sigma),
    )
    if model == "gbm":
        if jd.has_jumps:
            raise InputError("model='gbm' takes no jump parameters; use model='jump'")
        return LiquidationProbability(probability=float(p_gbm), model="gbm", **common)
    if model != "jump":
        raise InputError(f"model={model!r}: expected 'gbm' or 'jump'")
    jump = _simulated(jd, sd, c, horizon_days, n_paths, n_steps, seed, confidence)
    return LiquidationProbability(model="jump", **jump, **common)


def _simulated(
    jd: JumpDiffusion,
    side: int,
    log_barrier: float,
    horizon_days: float,
    n_paths: int,
    n_steps: int | None,
    seed: int,
    confidence: float,
) -> dict[str, Any]:
    """Share of simulated paths touching ``log_barrier``, its interval and the run's settings."""
    rng = np.random.default_rng(seed)
    steps, _ = step_grid(horizon_days, n_steps)
    mn, mx, _ = simulate_log_extremes(jd, horizon_days, n_paths=n_paths, n_steps=steps, rng=rng)
    reached = mn <= log_barrier if side == 1 else mx >= log_barrier
    hits = int(np.count_nonzero(reached))
    p = hits / n_paths
    lo, hi = _clopper_pearson(hits, n_paths, confidence)
    return dict(
        probability=p,
        jump_intensity_annual=jd.jump_intensity_annual,
        jump_mean_log=jd.jump_mean_log,
        jump_std_log=jd.jump_std_log,
        ci_low=lo,
        ci_high=hi,
        standard_error=math.sqrt(p * (1 - p) / n_paths),
        confidence=confidence,
        n_paths=n_paths,
        n_steps=steps,
        seed=seed,
    )
