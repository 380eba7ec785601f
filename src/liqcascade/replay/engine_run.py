"""The replay's engine run: its parameters, the liquidation map's cohorts as engine positions,
and one run of :func:`liqcascade.engine.dynamic.simulate` through the pre-event book."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from liqcascade.errors import DataError, InputError
from liqcascade.estimate import LiquidationMap
from liqcascade.replay.events import _MS_DAY, _MS_MIN
from liqcascade.timeutil import ms_to_iso


@dataclass(frozen=True, kw_only=True)
class ReplayParams:
    """Parameters of the replay's dynamic run (fitted by :func:`fit_replay`; units in names).

    The engine's stress rule (``DynamicConfig``) is depth x max(``stress_floor``, 1 -
    ``stress_beta`` x |move over ``stress_window_s``|).
    """

    depth_scale: float = 0.5
    """Liquidity that market orders meet, as a multiple of the pre-event depth (the bookDepth
    snapshot, or the square-root law's ADV without one)."""
    stress_beta: float = 50.0
    """Slope of the stress rule: depth lost per unit of absolute move over the window."""
    stress_floor: float = 0.2
    """Least depth the stress rule leaves, as a fraction of the unstressed depth."""
    resilience_half_life_s: float = 300.0
    """Half-life of eaten depth (s)."""
    permanent_frac: float = 0.3
    """Share of impact that stays when depth refills."""
    stress_window_s: float = 60.0
    """Window of the stress rule's move (s); not fitted."""
    step_s: float = 5.0
    """Engine time step (s); not fitted."""
    sqrt_y: float = 1.0
    """Prefactor Y of the square-root law used when no bookDepth is stored."""

    def __post_init__(self) -> None:
        checks = {
            "depth_scale": self.depth_scale > 0,
            "stress_beta": self.stress_beta >= 0,
            "stress_floor": 0 < self.stress_floor <= 1,
            "resilience_half_life_s": self.resilience_half_life_s > 0,
            "permanent_frac": 0 <= self.permanent_frac <= 1,
            "stress_window_s": self.stress_window_s > 0,
            "step_s": self.step_s > 0,
            "sqrt_y": self.sqrt_y > 0,
        }
        for name, ok in checks.items():
            if not ok:
                raise InputError(
                    f"replay parameter {name}={getattr(self, name)!r} out of range "
                    "(depth_scale, step_s, half-life, window, sqrt_y > 0; stress_beta >= 0; "
                    "stress_floor in (0, 1]; permanent_frac in [0, 1])"
                )


@dataclass(frozen=True)
class ModelPath:
    """Model output per engine step: price, depth scale, liquidated notional (quote) per side."""

    time_ms: np.ndarray
    price: np.ndarray
    depth_factor: np.ndarray
    liq_long_quote: np.ndarray
    liq_short_quote: np.ndarray
    summary: dict[str, Any] = field(default_factory=dict)

    def per_minute(self) -> pl.DataFrame:
        """Per-minute low, close, minimum depth factor and liquidated notional."""
        df = pl.DataFrame(
            {
                "time_ms": self.time_ms,
                "price": self.price,
                "depth_factor": self.depth_factor,
                "liq_long_quote": self.liq_long_quote,
                "liq_short_quote": self.liq_short_quote,
            }
        ).with_columns(((pl.col("time_ms") // _MS_MIN) * _MS_MIN).alias("minute_ms"))
        return (
            df.group_by("minute_ms")
            .agg(
                pl.col("price").min().alias("low"),
                pl.col("price").last().alias("close"),
                pl.col("depth_factor").min(),
                pl.col("liq_long_quote").sum(),
                pl.col("liq_short_quote").sum(),
            )
            .sort("minute_ms")
            .rename({"minute_ms": "time_ms"})
        )


def cohort_positions(lmap: LiquidationMap, rules: Any = None) -> Any:
    """The liquidation map's cohorts as the dynamic engine's isolated positions.

    Each cohort keeps the maintenance tier of the prior's representative notional (mmr, and the
    maintenance amount ``cum`` scaled by the cohort's notional over the representative one), so the
    engine's liquidation price equals the map's (the tier of an aggregated cohort is not the tier of
    the positions it stands for).
    """
    from liqcascade.engine.dynamic import PositionArrays
    from liqcascade.margin import PositionsAtRate
    from liqcascade.venues import load_venue

    rules = rules or load_venue(lmap.meta["venue"], lmap.meta["symbol"])
    c = lmap.cohorts
    if c.height == 0:
        raise DataError("liquidation map has no open cohort; nothing to replay")
    rep = float(lmap.meta["prior"]["representative_notional_quote"])
    k = int(np.asarray(rules.tiers.index(np.array([rep])))[0])
    mmr = float(np.asarray(rules.tiers.mmr)[k])
    cum = float(np.asarray(rules.tiers.cum_quote)[k])
    n_quote = (c["size_base"] * c["entry_price"]).to_numpy()
    return PositionArrays.isolated(
        PositionsAtRate(
            side=c["side"].to_numpy(),
            size_base=c["size_base"].to_numpy(),
            entry_price=c["entry_price"].to_numpy(),
            margin_quote=c["margin_quote"].to_numpy(),
            mmr=mmr,
            cum_quote=cum * n_quote / rep,
        ),
        venues=(lmap.meta["venue"],),
    )


def simulate_replay(
    positions: Any,
    *,
    pre_price: float,
    start_ms: int,
    end_ms: int,
    impulse_base: float,
    impulse_minutes: int,
    impact: Any,
    params: ReplayParams,
    rng_seed: int = 0,
) -> ModelPath:
    """Run the cascade with :func:`liqcascade.engine.dynamic.simulate` (docs/replay.md, "Model").

    The exogenous path is the impulse's own move through the pre-event book,
    ``x0 = impact.move_for_volume(impulse_base / depth_scale)``, spread evenly (geometrically)
    over the first ``impulse_minutes``; the engine then liquidates every position the price
    crosses, walks the (scaled) book, refills eaten depth and applies its stress rule. One venue,
    no arbitrage. ``rng_seed`` is passed to the engine and kept in ``summary``.
    """
    from liqcascade.engine.dynamic import DynamicConfig, simulate

    p = params
    steps = int(math.ceil((end_ms - start_ms) / (p.step_s * 1000.0)))
    if steps <= 0:
        raise InputError("replay window is empty")
    imp = impact.scaled(p.depth_scale)
    x0 = min(float(imp.move_for_volume(max(impulse_base, 0.0))), 0.95)
    n_imp = max(1, min(steps, int(round(impulse_minutes * 60.0 / p.step_s))))
    path = np.full(n_imp, (1.0 - x0) ** (1.0 / n_imp) - 1.0)
    cfg = DynamicConfig(
        dt_s=p.step_s,
        steps=steps,
        seed=rng_seed,
        resilience_half_life_s=p.resilience_half_life_s,
        permanent_fraction=p.permanent_frac,
        stress_beta=p.stress_beta,
        stress_floor=p.stress_floor,
        stress_window_s=p.stress_window_s,
        arb_rate_per_s=0.0,
    )
    res = simulate(positions, imp, path, cfg, rng_seed, initial_price=pre_price)
    tl = res.timeline.sort("step")
    t = start_ms + (tl["time_s"].to_numpy() * 1000.0).astype(np.int64)
    return ModelPath(
        t,
        tl["price"].to_numpy().astype(float),
        tl["depth_scale"].to_numpy().astype(float),
        tl["liquidated_notional_long"].to_numpy().astype(float),
        tl["liquidated_notional_short"].to_numpy().astype(float),
        res.summary(),
    )


def sqrt_impact_from_klines(klines: pl.DataFrame, end_ms: int, y: float) -> Any:
    """Square-root impact with sigma and ADV from the 24 h of 1m klines before ``end_ms``.

    sigma_daily = std of 1m log returns * sqrt(1440); ADV = traded base volume of those bars
    scaled to 24 h. Used when no bookDepth snapshot is stored (docs/replay.md).
    """
    from liqcascade.impact import SqrtImpact

    k = klines.filter(
        (pl.col("open_time_ms") < end_ms) & (pl.col("open_time_ms") >= end_ms - _MS_DAY)
    )
    if k.height < 60:
        raise DataError(f"need at least 60 1m klines before {ms_to_iso(end_ms)} for sigma/ADV")
    c = k["close"].to_numpy()
    r = np.diff(np.log(c))
    sigma = float(np.std(r, ddof=1) * math.sqrt(1440.0))
    adv = float(k["volume_base"].sum()) * 1440.0 / k.height
    return SqrtImpact(y=y, sigma_daily=sigma, adv_base=adv)
