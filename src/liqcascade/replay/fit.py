"""What the replay's engine run starts from (the book, the impulse, the pre-event depth curve)
and the fit of its dynamic parameters on an event day."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from liqcascade.errors import InputError
from liqcascade.estimate import LiquidationMap, estimate_map
from liqcascade.log import logger
from liqcascade.replay.engine_run import (
    ModelPath,
    ReplayParams,
    cohort_positions,
    simulate_replay,
    sqrt_impact_from_klines,
)
from liqcascade.replay.events import _MS_DAY, _MS_MIN, Event
from liqcascade.replay.frames import MarketFrames, Observed, depth_series, observe
from liqcascade.timeutil import ms_to_iso


def _loss(model: ModelPath, obs: Observed) -> float:
    """Fit objective: mean squared log error of the per-minute low and close paths, plus the
    squared error of the depth decline within 1% when bookDepth was observed."""
    pm = model.per_minute().join(obs.path, on="time_ms", suffix="_obs")
    if pm.height == 0:
        return float("inf")
    e = np.log(pm["low"].to_numpy() / pm["low_obs"].to_numpy())
    e2 = np.log(pm["close"].to_numpy() / pm["close_obs"].to_numpy())
    loss = float(np.mean(e**2) + np.mean(e2**2))
    dd = obs.depth_decline_frac
    if dd is not None:
        loss += 0.05 * (float(model.depth_factor.min() - 1.0) - dd) ** 2
    return loss


def _bars_with_price_history(frames: MarketFrames) -> pl.DataFrame:
    """The trade klines, preceded by the price-only klines older than the first of them (volume
    columns null), so the map sees the price path of the whole look-back window."""
    bars = frames.klines
    if frames.price_klines is not None and frames.price_klines.height:
        first = int(bars["open_time_ms"][0])
        older = frames.price_klines.filter(pl.col("open_time_ms") < first)
        if older.height:
            older = older.with_columns(
                pl.lit(None, dtype=pl.Float64).alias(c)
                for c in (
                    "volume_base",
                    "quote_volume",
                    "taker_buy_volume_base",
                    "taker_buy_quote_volume",
                )
            )
            bars = pl.concat([older.select(bars.columns), bars], how="vertical_relaxed")
    return bars


def _volume_24h_base(bars: pl.DataFrame, news_ms: int) -> float:
    """Traded base volume of the 24 h before ``news_ms``, scaled to 24 h from the bars with volume."""
    lb = bars.filter(
        (pl.col("open_time_ms") < news_ms) & (pl.col("open_time_ms") >= news_ms - _MS_DAY)
    )
    return (
        float(lb["volume_base"].fill_null(0.0).sum())
        * 1440.0
        / max(1, int(lb["volume_base"].is_not_null().sum()))
    )


def _open_interest_level(
    bars: pl.DataFrame,
    event: Event,
    symbol: str,
    open_interest_base: float | None,
    oi_volume_ratio: float | None,
) -> tuple[float, dict[str, Any]]:
    """Open interest (base units) the map is scaled to, and where it came from: the caller, the
    event file, or the fitted event day's open-interest/volume ratio times this day's volume."""
    oi_row = event.open_interest.get(symbol)
    if open_interest_base is not None:
        oi = float(open_interest_base)
        return oi, {"value_base": oi, "source": "given by the caller"}
    if oi_row is not None:
        return float(oi_row["value_base"]), {k: oi_row[k] for k in oi_row}
    if oi_volume_ratio is not None:
        vol_24h = _volume_24h_base(bars, event.news_ms)
        oi = oi_volume_ratio * vol_24h
        return oi, {
            "value_base": oi,
            "source": f"open-interest/volume ratio {oi_volume_ratio:.4f} of the fitted event day x "
            f"24 h volume {vol_24h:.1f} before the shock",
        }
    raise InputError(
        f"no open-interest level for {symbol} on {event.date}: the event file states none; "
        "give --oi-base or fit on an event day first"
    )


def _pre_event_impact(
    frames: MarketFrames, event: Event, sqrt_y: float
) -> tuple[Any, dict[str, Any]]:
    """The pre-event depth curve: the square-root law through the bookDepth snapshot's 1% point
    when a snapshot was taken within 5 minutes before the shock, else the square-root law with
    sigma and ADV from the klines. Returns the impact model and its description."""
    fresh = False
    if frames.book_depth is not None and frames.book_depth.height:
        ds0 = depth_series(frames.book_depth)
        i0 = int(np.searchsorted(ds0.time_ms, event.news_ms, side="right")) - 1
        # a snapshot counts only if taken within 5 minutes before the shock
        fresh = i0 >= 0 and event.news_ms - int(ds0.time_ms[i0]) <= 5 * _MS_MIN
    if fresh and frames.book_depth is not None:
        from liqcascade.impact import SqrtImpact

        ds = depth_series(frames.book_depth)
        j = ds.at(event.news_ms)
        # square-root law through the snapshot's 1% point: V = depth within 1% moves price 1%
        # (concave beyond it, as the square-root law found for BTC metaorders)
        d1 = float(ds.bid[j, 0])
        impact = SqrtImpact(y=1.0, sigma_daily=0.01, adv_base=d1)
        return impact, {
            "model": "square-root law through the bookDepth 1% point: x = 0.01*sqrt(V/D1)",
            "snapshot": ms_to_iso(int(ds.time_ms[j])),
            "bid_repaired": bool(ds.repaired[j]),
            "bid_ask_ratio_used": ds.bid_ask_ratio.tolist() if ds.repaired[j] else None,
            "bid_1pct_base": d1,
            "ask_1pct_base": float(ds.ask[j, 0]),
        }
    impact = sqrt_impact_from_klines(frames.klines, event.news_ms, sqrt_y)
    return impact, {
        "model": "square-root law (no bookDepth stored)",
        "y": impact.y,
        "sigma_daily": impact.sigma_daily,
        "adv_base": impact.adv_base,
    }


def _prepare(
    frames: MarketFrames,
    event: Event,
    symbol: str,
    prior: Any,
    open_interest_base: float | None,
    oi_volume_ratio: float | None,
    lookback_hours: float,
    sqrt_y: float,
) -> tuple[LiquidationMap, Observed, Any, dict[str, Any]]:
    """Everything a run starts from: the liquidation map at the news time, what was observed, the
    pre-event impact model and the inputs record (sources of each)."""
    obs = observe(frames, event)
    bars = _bars_with_price_history(frames)
    inputs: dict[str, Any] = {
        "news_time": ms_to_iso(event.news_ms),
        "news_sources": list(event.news_sources),
        "window_end": ms_to_iso(event.window_end_ms),
        "impulse_minutes": event.impulse_minutes,
        "impulse_base": obs.impulse_base,
        "impulse_rule": "net taker sell volume (volume - 2*taker_buy_volume) of the first minutes",
        "data_source": frames.source,
    }
    oi, inputs["open_interest"] = _open_interest_level(
        bars, event, symbol, open_interest_base, oi_volume_ratio
    )
    lmap = estimate_map(
        bars,
        venue=event.venue,
        symbol=symbol,
        at=event.news_ms,
        prior=prior,
        open_interest_base=oi,
        lookback_hours=lookback_hours,
        source=frames.source,
    )
    impact, inputs["impact"] = _pre_event_impact(frames, event, sqrt_y)
    inputs["open_interest_to_volume"] = oi / max(1e-12, _volume_24h_base(bars, event.news_ms))
    inputs["prior"] = lmap.meta["prior"]
    return lmap, obs, impact, inputs


def simulate_event(
    positions: Any, obs: Observed, event: Event, impact: Any, params: ReplayParams
) -> ModelPath:
    """One engine run (:func:`simulate_replay`) over ``event``'s window, from the observed
    pre-shock price and impulse, through the pre-event ``impact`` curve."""
    return simulate_replay(
        positions,
        pre_price=obs.pre_price,
        start_ms=event.news_ms,
        end_ms=event.window_end_ms,
        impulse_base=obs.impulse_base,
        impulse_minutes=event.impulse_minutes,
        impact=impact,
        params=params,
    )


#: Fitted parameters and their bounds (a physical range: depth between a tenth and three times the
#: displayed depth, refill half-life between 10 s and an hour).
FIT_NAMES: tuple[str, ...] = (
    "depth_scale",
    "stress_beta",
    "stress_floor",
    "resilience_half_life_s",
    "permanent_frac",
)
FIT_BOUNDS: tuple[tuple[float, float], ...] = (
    (0.1, 3.0),  # depth_scale
    (0.0, 500.0),  # stress_beta (per unit relative move over the stress window)
    (0.05, 1.0),  # stress_floor
    (10.0, 3600.0),  # resilience_half_life_s
    (0.0, 1.0),  # permanent_frac
)


def fit_replay(
    frames: MarketFrames,
    event: Event,
    symbol: str | None = None,
    *,
    prior: Any = "default",
    open_interest_base: float | None = None,
    lookback_hours: float = 168.0,
    start: ReplayParams | None = None,
    max_evals: int = 80,
    n_starts: int = 24,
    seed: int = 20251010,
) -> tuple[ReplayParams, dict[str, Any]]:
    """Fit the dynamic parameters :data:`FIT_NAMES` on ``event``'s day (engine runs).

    Minimises :func:`_loss` (per-minute low and close paths in log terms, plus the depth decline)
    with bounded Nelder-Mead (:data:`FIT_BOUNDS`) from the best of ``n_starts`` random starts
    (``numpy.random.default_rng(seed)``; the seed is in the returned info). Returns the
    parameters and a dict with the loss, evaluations and the open-interest/volume ratio of the day
    (which carries the open-interest level to days without a stated one).
    """
    from scipy.optimize import minimize

    symbol = symbol or event.default_symbol
    s0 = start or ReplayParams()
    lmap, obs, impact, inputs = _prepare(
        frames, event, symbol, prior, open_interest_base, None, lookback_hours, s0.sqrt_y
    )

    names = FIT_NAMES
    positions = cohort_positions(lmap)

    def unpack(z: np.ndarray) -> ReplayParams:
        kw = {n: float(v) for n, v in zip(names, z, strict=True)}
        return ReplayParams(
            **kw, stress_window_s=s0.stress_window_s, step_s=s0.step_s, sqrt_y=s0.sqrt_y
        )

    def objective(z: np.ndarray) -> float:
        return _loss(simulate_event(positions, obs, event, impact, unpack(z)), obs)

    lo = np.array([b[0] for b in FIT_BOUNDS])
    hi = np.array([b[1] for b in FIT_BOUNDS])
    # multi-start: the cascade is bistable (it stalls or runs), so a local search from one point
    # can sit in the wrong basin; draw starts log-uniformly (uniform for fractions) with a seeded
    # generator and refine the best one
    rng = np.random.default_rng(seed)
    frac = np.array([n in ("stress_floor", "permanent_frac") for n in names])
    llo, lhi = np.log(np.maximum(lo, 1e-2)), np.log(hi)
    starts = [np.clip(np.array([getattr(s0, n) for n in names], dtype=float), lo, hi)]
    for _ in range(n_starts):
        u = rng.random(len(names))
        starts.append(np.where(frac, lo + (hi - lo) * u, np.exp(llo + (lhi - llo) * u)))
    scores = [objective(z) for z in starts]
    z0 = starts[int(np.argmin(scores))]
    res = minimize(
        objective,
        z0,
        method="Nelder-Mead",
        bounds=FIT_BOUNDS,
        options={"maxfev": max_evals, "xatol": 1e-3, "fatol": 1e-6},
    )
    best = unpack(res.x)
    info = {
        "fitted_on": event.date,
        "symbol": symbol,
        "loss": float(res.fun),
        "loss_at_start": float(min(scores)),
        "starts": n_starts,
        "rng_seed": seed,
        "evaluations": int(res.nfev),
        "method": "bounded Nelder-Mead on " + ", ".join(names),
        "bounds": dict(zip(names, FIT_BOUNDS, strict=True)),
        "open_interest_to_volume": inputs["open_interest_to_volume"],
    }
    logger.info(
        "replay fit on %s %s: loss %.5f after %d evaluations", event.date, symbol, res.fun, res.nfev
    )
    return best, info
