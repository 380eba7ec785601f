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
    price_model,
    simulate_log_extremes,
    step_grid,
)


@dataclass(frozen=True)
class LiquidationProbability(AsDict):
    """Probability that the price touches the liquidation price within the horizon.

    The fields from ``ci_low`` on are ``None`` for the closed-form GBM model and describe the
    simulation for the jump model.
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
    """Drift of the log-price per year: ``mu - vol^2/2 - lambda*kappa``."""
    distance_frac: float
    """``side*(price - liq_price)/price``, the distance to the liquidation price (> 0)."""
    distance_sigma: float
    """``|ln(liq_price/price)| / (vol*sqrt(horizon))``: the distance in volatility units."""
    jump_intensity_annual: float = 0.0
    jump_mean_log: float = 0.0
    jump_std_log: float = 0.0
    ci_low: float | None = None
    """Clopper-Pearson interval of ``probability`` at ``confidence``: lower end."""
    ci_high: float | None = None
    standard_error: float | None = None
    """``sqrt(p(1-p)/n_paths)``."""
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
    jd = price_model(
        model,
        vol_annual,
        drift_annual,
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
        return LiquidationProbability(probability=float(p_gbm), model="gbm", **common)
    jump = _simulated(jd, sd, c, horizon_days, n_paths, n_steps, seed, confidence)
    return LiquidationProbability(model="jump", **jump, **common)


#: Horizons (days) of :func:`probability_by_horizon` by default: six hours to a year.
DEFAULT_HORIZONS_DAYS: tuple[float, ...] = (
    0.25,
    0.5,
    1,
    2,
    3,
    5,
    7,
    10,
    14,
    21,
    30,
    45,
    60,
    90,
    180,
    365,
)


@dataclass(frozen=True)
class HorizonCurve:
    """The closed-form (GBM) probability of liquidation at each of several horizons."""

    horizon_days: tuple[float, ...]
    probability: tuple[float, ...]
    price: float
    liq_price: float
    side: int
    vol_annual: float
    drift_annual: float

    def to_polars(self) -> Any:
        """One row per horizon: ``horizon_days``, ``probability``."""
        import polars as pl

        return pl.DataFrame(
            {"horizon_days": list(self.horizon_days), "probability": list(self.probability)},
            schema={"horizon_days": pl.Float64, "probability": pl.Float64},
        )

    def plot(self, chosen: LiquidationProbability | None = None, title: str = "") -> Any:
        """The curve on a log horizon axis, with ``chosen`` (one horizon's result) marked."""
        from liqcascade import plotting

        go = plotting.graph_objects("HorizonCurve.plot")
        fig = go.Figure(
            go.Scatter(
                x=list(self.horizon_days),
                y=list(self.probability),
                name="P(liquidation), GBM",
                mode="lines+markers",
            )
        )
        if chosen is not None:
            fig.add_trace(
                go.Scatter(
                    x=[chosen.horizon_days],
                    y=[chosen.probability],
                    name="chosen horizon",
                    mode="markers",
                    marker={"size": 12},
                )
            )
        return plotting.styled(
            fig,
            title or "Probability of liquidation by horizon",
            xaxis={"title": {"text": "horizon (days)"}, "type": "log"},
            yaxis={"title": {"text": "probability"}, "tickformat": ".1%", "range": [0, 1]},
        )


def probability_by_horizon(
    price: float,
    liq_price: float,
    side: int | str,
    vol_annual: float,
    horizons_days: tuple[float, ...] = DEFAULT_HORIZONS_DAYS,
    *,
    drift_annual: float = 0.0,
) -> HorizonCurve:
    """:func:`prob_liquidation` (closed-form GBM) at each horizon of ``horizons_days``.

    Examples
    --------
    >>> c = probability_by_horizon(100_000, 90_000, "long", 0.6, (1, 7, 30))
    >>> [round(p, 4) for p in c.probability]
    [0.0008, 0.2158, 0.5686]
    """
    probs = tuple(
        prob_liquidation(
            price, liq_price, side, vol_annual, h, drift_annual=drift_annual
        ).probability
        for h in horizons_days
    )
    return HorizonCurve(
        horizon_days=tuple(float(h) for h in horizons_days),
        probability=probs,
        price=float(price),
        liq_price=float(liq_price),
        side=parse_side(side),
        vol_annual=float(vol_annual),
        drift_annual=float(drift_annual),
    )


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
