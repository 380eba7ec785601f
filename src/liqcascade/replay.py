"""Replay of a real liquidation cascade, checked against what happened (docs/replay.md).

1. The book before the event is the liquidation map (:mod:`liqcascade.estimate`) at the news time,
   scaled to a stated open-interest level (event file) or, on days without one, to the
   open-interest / volume ratio of the fitted event day times that day's volume.
2. An exogenous sell impulse hits at the news time: the net taker sell volume of the first minutes
   after it (event file states how many minutes; the size is read from the klines).
3. The cascade runs in time steps: forced orders of cohorts whose liquidation price is crossed
   and the impulse move the price through the pre-event depth curve (bookDepth snapshot, or the
   square-root law with sigma and ADV from klines when no bookDepth is stored); market makers
   withdraw depth as the price moves; impact decays with a resilience half-life, leaving a
   permanent fraction.
4. The model is compared with the observed price path (low and its time), depth within 1% and
   the reported liquidation totals; an HTML report shows both price paths on one chart.

The three dynamic parameters (depth withdrawal, resilience half-life, permanent fraction) are
fitted by :func:`fit_replay` on the event day; :func:`run_replay` runs any day with the fitted
(or given) parameters.
"""

from __future__ import annotations

import html
import json
import math
import tomllib
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from liqcascade.errors import ConfigError, DataError, InputError
from liqcascade.estimate import LiquidationMap, estimate_map, ms_to_iso, to_ms
from liqcascade.log import logger

__all__ = [
    "Event",
    "MarketFrames",
    "Observed",
    "ReplayParams",
    "ReplayResult",
    "fit_replay",
    "list_events",
    "load_event",
    "load_frames",
    "observe",
    "run_replay",
    "simulate_replay",
    "write_report",
]

EVENT_SCHEMA = "liqcascade.event/1"
_MS_MIN = 60_000
_MS_DAY = 86_400_000
BOOKDEPTH_BANDS = (1, 2, 3, 4, 5)


# --------------------------------------------------------------------------------------------
# event files


@dataclass(frozen=True)
class Event:
    """A replay definition read from ``liqcascade/events/<date>.toml`` (or built for a plain day).

    Times are epoch ms (UTC). ``open_interest`` maps symbol -> dict(value_base, as_of, source,
    reliability, note); ``reported`` is the list of sourced reported figures.
    """

    date: str
    title: str
    venue: str
    default_symbol: str
    news_ms: int
    news_sources: tuple[str, ...]
    window_end_ms: int
    pre_minutes: int
    impulse_minutes: int
    impulse_rule: str
    open_interest: dict[str, dict[str, Any]] = field(default_factory=dict)
    reported: tuple[dict[str, Any], ...] = ()
    path: str = ""

    @property
    def is_defined(self) -> bool:
        """True when read from an event file (False for an auto-built plain day)."""
        return bool(self.path)


def _events_dir() -> Path:
    return Path(str(resources.files("liqcascade") / "events"))


def list_events() -> list[str]:
    """Dates of the event files shipped with liqcascade."""
    return sorted(p.stem for p in _events_dir().glob("*.toml"))


def load_event(spec: str | Path) -> Event:
    """Read an event file: a path, or a date ``YYYY-MM-DD`` of a shipped file."""
    p = Path(spec)
    if not p.suffix == ".toml":
        p = _events_dir() / f"{spec}.toml"
        if not p.exists():
            raise InputError(
                f"event {spec!r}: no event file; shipped: {', '.join(list_events()) or 'none'}"
            )
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{p}: event file not found") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML ({exc})") from exc
    allowed = {
        "schema",
        "date",
        "title",
        "venue",
        "default_symbol",
        "news",
        "window",
        "impulse",
        "open_interest",
        "reported",
    }
    unknown = set(raw) - allowed
    if unknown:
        raise ConfigError(f"{p}: unknown key(s) {sorted(unknown)}; allowed {sorted(allowed)}")
    if raw.get("schema") != EVENT_SCHEMA:
        raise ConfigError(f"{p}: field 'schema' must be {EVENT_SCHEMA!r}")
    try:
        news = raw["news"]
        window = raw["window"]
        impulse = raw["impulse"]
        news_ms = to_ms(news["time"])
        end_ms = to_ms(window["end"])
        if end_ms <= news_ms:
            raise ConfigError(f"{p}: window.end must be after news.time")
        if impulse.get("rule") != "net_taker_sell":
            raise ConfigError(
                f"{p}: impulse.rule must be 'net_taker_sell', got {impulse.get('rule')!r}"
            )
        oi: dict[str, dict[str, Any]] = {}
        for i, row in enumerate(raw.get("open_interest", [])):
            for key in ("symbol", "value_base", "source"):
                if key not in row:
                    raise ConfigError(f"{p}: open_interest[{i}] misses field {key!r}")
            if not float(row["value_base"]) > 0:
                raise ConfigError(f"{p}: open_interest[{i}].value_base must be > 0 (base units)")
            oi[str(row["symbol"])] = dict(row)
        reported = []
        for i, row in enumerate(raw.get("reported", [])):
            for key in ("quantity", "value", "scope", "source", "reliability"):
                if key not in row:
                    raise ConfigError(f"{p}: reported[{i}] misses field {key!r}")
            reported.append(dict(row))
        return Event(
            date=str(raw["date"]),
            title=str(raw.get("title", "")),
            venue=str(raw["venue"]),
            default_symbol=str(raw["default_symbol"]),
            news_ms=news_ms,
            news_sources=tuple(news.get("sources", ())),
            window_end_ms=end_ms,
            pre_minutes=int(window.get("pre_minutes", 10)),
            impulse_minutes=int(impulse.get("minutes", 1)),
            impulse_rule=str(impulse["rule"]),
            open_interest=oi,
            reported=tuple(reported),
            path=str(p),
        )
    except KeyError as exc:
        raise ConfigError(f"{p}: missing field {exc.args[0]!r}") from exc


def plain_day_event(
    date: str, klines: pl.DataFrame, venue: str, symbol: str, template: Event
) -> Event:
    """Event for a day without an event file: the shock minute is found by a stated rule.

    Rule: the news time is the open of the minute with the largest net taker sell volume
    (volume - 2 * taker-buy volume) of the day; the window has the template's length and the
    template's pre-minutes and impulse minutes. No reported figures, no stated open interest.
    """
    day0 = to_ms(f"{date}T00:00:00Z")
    k = klines.filter((pl.col("open_time_ms") >= day0) & (pl.col("open_time_ms") < day0 + _MS_DAY))
    if k.height == 0:
        raise DataError(f"no 1m klines of {venue} {symbol} on {date}; cannot pick a shock minute")
    net = (k["volume_base"] - 2 * k["taker_buy_volume_base"]).to_numpy()
    news = int(k["open_time_ms"][int(np.nanargmax(net))])
    length = template.window_end_ms - template.news_ms
    return Event(
        date=date,
        title=f"{symbol} on {date}: largest net taker sell minute (no event file)",
        venue=venue,
        default_symbol=symbol,
        news_ms=news,
        news_sources=("rule: minute with the largest net taker sell volume of the day",),
        window_end_ms=min(news + length, day0 + _MS_DAY),
        pre_minutes=template.pre_minutes,
        impulse_minutes=template.impulse_minutes,
        impulse_rule="net_taker_sell",
    )


# --------------------------------------------------------------------------------------------
# market data


@dataclass(frozen=True)
class MarketFrames:
    """Market data of one symbol for a replay (times in epoch ms, UTC).

    klines: 1m trade klines (open_time_ms, close_time_ms, open, high, low, close, volume_base,
    quote_volume, taker_buy_volume_base, taker_buy_quote_volume). price_klines: price-only klines
    (mark/index) used before the first trade kline, or None. book_depth: Binance bookDepth rows
    (time_ms, percentage, depth_base, notional_quote, weighted_avg_price), or None.
    """

    venue: str
    symbol: str
    klines: pl.DataFrame
    price_klines: pl.DataFrame | None
    book_depth: pl.DataFrame | None
    source: str


def _ms_col(df: pl.DataFrame, col: str, new: str) -> pl.DataFrame:
    if col not in df.columns:
        return df
    dtype = df.schema[col]
    if isinstance(dtype, pl.Datetime):
        return df.with_columns(pl.col(col).dt.epoch("ms").alias(new))
    return df.with_columns(pl.col(col).cast(pl.Int64).alias(new))


def _klines_from_store(df: pl.DataFrame) -> pl.DataFrame:
    df = _ms_col(df, "open_time", "open_time_ms")
    df = _ms_col(df, "close_time", "close_time_ms")
    return (
        df.rename({"volume": "volume_base", "taker_buy_volume": "taker_buy_volume_base"})
        .select(
            "open_time_ms",
            "close_time_ms",
            "open",
            "high",
            "low",
            "close",
            "volume_base",
            "quote_volume",
            "taker_buy_volume_base",
            "taker_buy_quote_volume",
        )
        .sort("open_time_ms")
    )


def load_frames(
    store: Any,
    venue: str,
    symbol: str,
    start: int,
    end: int,
) -> MarketFrames:
    """Read the frames a replay needs from the DuckDB store (``liqcascade.data.Store``).

    ``start``/``end`` (epoch ms) bound the look-back and the replay window: [start, end).
    """
    k = store.klines(venue, symbol, start=start, end=end, interval="1m", kind="trade")
    if k.height == 0:
        raise DataError(
            f"store {getattr(store, 'path', '')}: no 1m trade klines of {venue} {symbol} between "
            f"{ms_to_iso(start)} and {ms_to_iso(end)} (ingest them with `liqcascade data ingest`)"
        )
    klines = _klines_from_store(k)
    price = None
    for kind in ("mark", "price", "index"):
        try:
            pk = store.klines(
                venue, symbol, start=start, end=int(klines["open_time_ms"][0]), kind=kind
            )
        except DataError:
            # several intervals stored: take the coarsest common one, 5m
            pk = store.klines(
                venue,
                symbol,
                start=start,
                end=int(klines["open_time_ms"][0]),
                kind=kind,
                interval="5m",
            )
        if pk.height:
            price = _klines_from_store(pk)
            break
    bd = store.book_depth(venue, symbol, start=start, end=end)
    book = None
    if bd.height:
        book = (
            _ms_col(bd, "time", "time_ms")
            .select("time_ms", "percentage", "depth_base", "notional_quote", "weighted_avg_price")
            .sort("time_ms", "percentage")
        )
    return MarketFrames(
        venue, symbol, klines, price, book, source=str(getattr(store, "path", "store"))
    )


# --------------------------------------------------------------------------------------------
# depth curves


@dataclass(frozen=True)
class DepthSeries:
    """Cumulative depth (base units) per bookDepth snapshot within 1..5% of mid.

    ``bid``/``ask`` have shape (n_snapshots, 5); ``repaired`` marks snapshots whose bid side was
    replaced (crossed book: the -1% band's weighted price at or above the +1% band's), with the
    ask side times the median bid/ask ratio per band of the clean snapshots of the file.
    """

    time_ms: np.ndarray
    bid: np.ndarray
    ask: np.ndarray
    repaired: np.ndarray
    bid_ask_ratio: np.ndarray

    def at(self, t_ms: int) -> int:
        """Index of the last snapshot at or before ``t_ms`` (DataError if none)."""
        i = int(np.searchsorted(self.time_ms, t_ms, side="right")) - 1
        if i < 0:
            raise DataError(f"bookDepth: no snapshot at or before {ms_to_iso(t_ms)}")
        return i


def depth_series(book_depth: pl.DataFrame) -> DepthSeries:
    """Pivot bookDepth rows into per-snapshot curves and repair a crossed (stale) bid side."""
    need = {"time_ms", "percentage", "depth_base", "weighted_avg_price"}
    if not need <= set(book_depth.columns):
        raise DataError(f"bookDepth: expected columns {sorted(need)}, got {book_depth.columns}")
    wide = (
        book_depth.with_columns(pl.col("percentage").cast(pl.Float64).round(0).cast(pl.Int64))
        .filter(pl.col("percentage").abs().is_in(list(BOOKDEPTH_BANDS)))
        .pivot(
            on="percentage",
            index="time_ms",
            values=["depth_base", "weighted_avg_price"],
            aggregate_function="last",
        )
        .sort("time_ms")
    )
    cols_b = [f"depth_base_{-b}" for b in BOOKDEPTH_BANDS]
    cols_a = [f"depth_base_{b}" for b in BOOKDEPTH_BANDS]
    missing = [c for c in cols_b + cols_a if c not in wide.columns]
    if missing:
        raise DataError(f"bookDepth: bands {missing} absent; expected -5..-1 and 1..5 percent")
    wide = wide.drop_nulls(cols_b + cols_a)
    bid = wide.select(cols_b).to_numpy().astype(float)
    ask = wide.select(cols_a).to_numpy().astype(float)
    wb = wide["weighted_avg_price_-1"].to_numpy().astype(float)
    wa = wide["weighted_avg_price_1"].to_numpy().astype(float)
    crossed = np.isfinite(wb) & np.isfinite(wa) & (wb >= wa)
    clean = ~crossed & (ask > 0).all(axis=1)
    ratio = (
        np.median(bid[clean] / ask[clean], axis=0) if clean.any() else np.ones(len(BOOKDEPTH_BANDS))
    )
    bid = bid.copy()
    # cumulative depth never falls with distance from mid
    bid[crossed] = np.maximum.accumulate(ask[crossed] * ratio, axis=1)
    return DepthSeries(wide["time_ms"].to_numpy().astype(np.int64), bid, ask, crossed, ratio)


# --------------------------------------------------------------------------------------------
# observed side


@dataclass(frozen=True)
class Observed:
    """What happened, read from the data files (and the event file for reported figures).

    Prices in quote per base; depth in base units within 1% of mid on the ask side (the clean
    side of the shipped file, see :func:`depth_series`); times epoch ms.
    """

    pre_price: float
    low_price: float
    low_time_ms: int
    end_price: float
    path: pl.DataFrame  # time_ms, low, close (1m)
    depth_pre_1pct_base: float | None
    depth_min_1pct_base: float | None
    depth_min_time_ms: int | None
    depth_path: pl.DataFrame | None  # time_ms, ask_1pct_base, bid_1pct_base, bid_repaired
    impulse_base: float
    reported: tuple[dict[str, Any], ...]

    @property
    def drop_frac(self) -> float:
        return self.low_price / self.pre_price - 1.0

    @property
    def depth_decline_frac(self) -> float | None:
        if self.depth_pre_1pct_base is None or self.depth_min_1pct_base is None:
            return None
        return self.depth_min_1pct_base / self.depth_pre_1pct_base - 1.0


def observe(frames: MarketFrames, event: Event) -> Observed:
    """Observed price path, depth within 1% and impulse size for ``event`` (all read from data)."""
    k = frames.klines
    pre = k.filter(pl.col("open_time_ms") < event.news_ms)
    win = k.filter(
        (pl.col("open_time_ms") >= event.news_ms) & (pl.col("open_time_ms") < event.window_end_ms)
    )
    if pre.height == 0 or win.height == 0:
        raise DataError(
            f"{frames.source}: 1m klines of {frames.symbol} must cover the minute before "
            f"{ms_to_iso(event.news_ms)} and the window to {ms_to_iso(event.window_end_ms)}"
        )
    i_low = int(win["low"].arg_min())
    imp = win.filter(pl.col("open_time_ms") < event.news_ms + event.impulse_minutes * _MS_MIN)
    impulse = float((imp["volume_base"] - 2 * imp["taker_buy_volume_base"]).sum())
    d_pre = d_min = d_t = None
    dpath = None
    if frames.book_depth is not None and frames.book_depth.height:
        ds = depth_series(frames.book_depth)
        t = ds.time_ms
        pre_m = (t >= event.news_ms - event.pre_minutes * _MS_MIN) & (t < event.news_ms)
        in_w = (t >= event.news_ms) & (t < event.window_end_ms)
        if pre_m.any() and in_w.any():
            d_pre = float(ds.ask[pre_m, 0].mean())
            j = int(np.argmin(np.where(in_w, ds.ask[:, 0], np.inf)))
            d_min = float(ds.ask[j, 0])
            d_t = int(t[j])
            sel = (t >= event.news_ms - event.pre_minutes * _MS_MIN) & (t < event.window_end_ms)
            dpath = pl.DataFrame(
                {
                    "time_ms": t[sel],
                    "ask_1pct_base": ds.ask[sel, 0],
                    "bid_1pct_base": ds.bid[sel, 0],
                    "bid_repaired": ds.repaired[sel],
                }
            )
    return Observed(
        pre_price=float(pre["close"][-1]),
        low_price=float(win["low"][i_low]),
        low_time_ms=int(win["open_time_ms"][i_low]),
        end_price=float(win["close"][-1]),
        path=win.select("open_time_ms", "low", "close").rename({"open_time_ms": "time_ms"}),
        depth_pre_1pct_base=d_pre,
        depth_min_1pct_base=d_min,
        depth_min_time_ms=d_t,
        depth_path=dpath,
        impulse_base=max(impulse, 0.0),
        reported=event.reported,
    )


# --------------------------------------------------------------------------------------------
# the model


@dataclass(frozen=True, kw_only=True)
class ReplayParams:
    """Parameters of the replay's dynamic run (fitted by :func:`fit_replay`; units in names).

    depth_scale: liquidity that market orders meet, as a multiple of the pre-event depth (the
        bookDepth snapshot, or the square-root law's ADV without one).
    stress_beta, stress_floor: the engine's stress rule: depth x max(stress_floor,
        1 - stress_beta * |move over stress_window_s|) (``DynamicConfig``).
    resilience_half_life_s: half-life of eaten depth (s); permanent_frac: share of impact that
        stays when depth refills.
    stress_window_s, step_s: engine window and time step (s), not fitted.
    sqrt_y: prefactor Y of the square-root law used when no bookDepth is stored.
    """

    depth_scale: float = 0.5
    stress_beta: float = 50.0
    stress_floor: float = 0.2
    resilience_half_life_s: float = 300.0
    permanent_frac: float = 0.3
    stress_window_s: float = 60.0
    step_s: float = 5.0
    sqrt_y: float = 1.0

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
        side=c["side"].to_numpy(),
        size_base=c["size_base"].to_numpy(),
        entry_price=c["entry_price"].to_numpy(),
        margin_quote=c["margin_quote"].to_numpy(),
        mmr=mmr,
        cum_quote=cum * n_quote / rep,
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


# --------------------------------------------------------------------------------------------
# replay driver


@dataclass
class ReplayResult:
    """Everything a replay produced; ``table`` is the model-versus-observed comparison."""

    event: Event
    symbol: str
    params: ReplayParams
    fitted: bool
    fit_info: dict[str, Any]
    liq_map: LiquidationMap
    observed: Observed
    model: ModelPath
    table: pl.DataFrame
    inputs: dict[str, Any]
    report_path: str = ""
    market_model: dict[str, Any] | None = None
    sensitivity: list[dict[str, Any]] | None = None

    def summary(self) -> dict[str, Any]:
        """JSON-friendly summary (inputs, parameters, comparison rows)."""
        return {
            "date": self.event.date,
            "symbol": self.symbol,
            "params": asdict(self.params),
            "fitted": self.fitted,
            "fit": self.fit_info,
            "inputs": self.inputs,
            "table": self.table.to_dicts(),
            "report": self.report_path,
            "model": self.market_model,
            "sensitivity": self.sensitivity,
        }


def _model_metrics(model: ModelPath, depth_pre: float | None) -> dict[str, float]:
    i = int(np.argmin(model.price))
    return {
        "low": float(model.price[i]),
        "low_time_ms": int(model.time_ms[i]),
        "end": float(model.price[-1]),
        "depth_decline": float(model.depth_factor.min() - 1.0),
        "liq_long": float(model.liq_long_quote.sum()),
        "liq_short": float(model.liq_short_quote.sum()),
    }


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
    obs = observe(frames, event)
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
    inputs: dict[str, Any] = {
        "news_time": ms_to_iso(event.news_ms),
        "news_sources": list(event.news_sources),
        "window_end": ms_to_iso(event.window_end_ms),
        "impulse_minutes": event.impulse_minutes,
        "impulse_base": obs.impulse_base,
        "impulse_rule": "net taker sell volume (volume - 2*taker_buy_volume) of the first minutes",
        "data_source": frames.source,
    }
    oi_row = event.open_interest.get(symbol)
    if open_interest_base is not None:
        oi = float(open_interest_base)
        inputs["open_interest"] = {"value_base": oi, "source": "given by the caller"}
    elif oi_row is not None:
        oi = float(oi_row["value_base"])
        inputs["open_interest"] = {k: oi_row[k] for k in oi_row}
    elif oi_volume_ratio is not None:
        lb = bars.filter(
            (pl.col("open_time_ms") < event.news_ms)
            & (pl.col("open_time_ms") >= event.news_ms - _MS_DAY)
        )
        vol_24h = (
            float(lb["volume_base"].fill_null(0.0).sum())
            * 1440.0
            / max(1, int(lb["volume_base"].is_not_null().sum()))
        )
        oi = oi_volume_ratio * vol_24h
        inputs["open_interest"] = {
            "value_base": oi,
            "source": f"open-interest/volume ratio {oi_volume_ratio:.4f} of the fitted event day x "
            f"24 h volume {vol_24h:.1f} before the shock",
        }
    else:
        raise InputError(
            f"no open-interest level for {symbol} on {event.date}: the event file states none; "
            "give --oi-base or fit on an event day first"
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
    fresh = False
    if frames.book_depth is not None and frames.book_depth.height:
        ds0 = depth_series(frames.book_depth)
        i0 = int(np.searchsorted(ds0.time_ms, event.news_ms, side="right")) - 1
        # a snapshot counts only if taken within 5 minutes before the shock
        fresh = i0 >= 0 and event.news_ms - int(ds0.time_ms[i0]) <= 5 * _MS_MIN
    if fresh:
        from liqcascade.impact import SqrtImpact

        ds = depth_series(frames.book_depth)
        j = ds.at(event.news_ms)
        # square-root law through the snapshot's 1% point: V = depth within 1% moves price 1%
        # (concave beyond it, as the square-root law found for BTC metaorders)
        d1 = float(ds.bid[j, 0])
        impact = SqrtImpact(y=1.0, sigma_daily=0.01, adv_base=d1)
        inputs["impact"] = {
            "model": "square-root law through the bookDepth 1% point: x = 0.01*sqrt(V/D1)",
            "snapshot": ms_to_iso(int(ds.time_ms[j])),
            "bid_repaired": bool(ds.repaired[j]),
            "bid_ask_ratio_used": ds.bid_ask_ratio.tolist() if ds.repaired[j] else None,
            "bid_1pct_base": d1,
            "ask_1pct_base": float(ds.ask[j, 0]),
        }
    else:
        impact = sqrt_impact_from_klines(frames.klines, event.news_ms, sqrt_y)
        inputs["impact"] = {
            "model": "square-root law (no bookDepth stored)",
            "y": impact.y,
            "sigma_daily": impact.sigma_daily,
            "adv_base": impact.adv_base,
        }
    inputs["open_interest_to_volume"] = oi / max(
        1e-12,
        float(
            bars.filter(
                (pl.col("open_time_ms") < event.news_ms)
                & (pl.col("open_time_ms") >= event.news_ms - _MS_DAY)
            )["volume_base"]
            .fill_null(0.0)
            .sum()
        )
        * 1440.0
        / max(
            1,
            int(
                bars.filter(
                    (pl.col("open_time_ms") < event.news_ms)
                    & (pl.col("open_time_ms") >= event.news_ms - _MS_DAY)
                )["volume_base"]
                .is_not_null()
                .sum()
            ),
        ),
    )
    inputs["prior"] = lmap.meta["prior"]
    return lmap, obs, impact, inputs


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
        prm = unpack(z)
        m = simulate_replay(
            positions,
            pre_price=obs.pre_price,
            start_ms=event.news_ms,
            end_ms=event.window_end_ms,
            impulse_base=obs.impulse_base,
            impulse_minutes=event.impulse_minutes,
            impact=impact,
            params=prm,
        )
        return _loss(m, obs)

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


def _row(
    metric: str, model: float | None, observed: float | None, unit: str, error: str, source: str
) -> dict[str, Any]:
    return {
        "metric": metric,
        "model": model,
        "observed": observed,
        "unit": unit,
        "error": error,
        "source": source,
    }


def run_replay(
    frames: MarketFrames,
    event: Event,
    symbol: str | None = None,
    *,
    params: ReplayParams | None = None,
    fit_info: dict[str, Any] | None = None,
    prior: Any = "default",
    open_interest_base: float | None = None,
    lookback_hours: float = 168.0,
    max_evals: int = 80,
) -> ReplayResult:
    """Replay ``event`` for ``symbol`` with ``params`` (default: fit them on this day first).

    On a day without a stated open interest, ``fit_info['open_interest_to_volume']`` (from the
    fitted event day) sets it. Returns a :class:`ReplayResult` whose ``table`` lists model,
    observed and error for: price low, time of the low, drop, end price, depth decline within 1%,
    liquidated notional (long, short, total) and each reported total of the event file.
    """
    symbol = symbol or event.default_symbol
    fitted = False
    if params is None:
        params, fit_info = fit_replay(
            frames,
            event,
            symbol,
            prior=prior,
            open_interest_base=open_interest_base,
            lookback_hours=lookback_hours,
            max_evals=max_evals,
        )
        fitted = True
    fit_info = dict(fit_info or {})
    ratio = fit_info.get("open_interest_to_volume")
    lmap, obs, impact, inputs = _prepare(
        frames, event, symbol, prior, open_interest_base, ratio, lookback_hours, params.sqrt_y
    )
    model = simulate_replay(
        cohort_positions(lmap),
        pre_price=obs.pre_price,
        start_ms=event.news_ms,
        end_ms=event.window_end_ms,
        impulse_base=obs.impulse_base,
        impulse_minutes=event.impulse_minutes,
        impact=impact,
        params=params,
    )
    mm = _model_metrics(model, obs.depth_pre_1pct_base)
    kl = f"{Path(frames.source).name}: {symbol} 1m klines"
    rows = [
        _row(
            "pre-shock price",
            obs.pre_price,
            obs.pre_price,
            "quote",
            "input",
            kl + " (close before the news minute)",
        ),
        _row(
            "price low",
            mm["low"],
            obs.low_price,
            "quote",
            f"{mm['low'] / obs.low_price - 1:+.2%}",
            kl,
        ),
        _row(
            "time of low",
            None,
            None,
            "UTC",
            f"{(mm['low_time_ms'] - obs.low_time_ms) / _MS_MIN:+.1f} min",
            kl + " (1-minute resolution)",
        ),
        _row(
            "drop to low",
            mm["low"] / obs.pre_price - 1,
            obs.drop_frac,
            "fraction",
            f"{(mm['low'] / obs.pre_price - 1) - obs.drop_frac:+.2%} pts",
            kl,
        ),
        _row(
            "price at window end",
            mm["end"],
            obs.end_price,
            "quote",
            f"{mm['end'] / obs.end_price - 1:+.2%}",
            kl,
        ),
    ]
    rows[2]["model_text"] = ms_to_iso(mm["low_time_ms"])[11:]
    rows[2]["observed_text"] = ms_to_iso(obs.low_time_ms)[11:]
    dd = obs.depth_decline_frac
    rows.append(
        _row(
            "depth decline within 1%",
            mm["depth_decline"],
            dd,
            "fraction",
            f"{mm['depth_decline'] - dd:+.2%} pts" if dd is not None else "no bookDepth",
            f"{Path(frames.source).name}: bookDepth ask side +1% (mean of {event.pre_minutes} min before the news vs minimum in the window)"
            if dd is not None
            else "not observed on this day",
        )
    )
    total = mm["liq_long"] + mm["liq_short"]
    rows.append(_row("liquidated notional, longs", mm["liq_long"], None, "quote", "", "model"))
    rows.append(_row("liquidated notional, shorts", mm["liq_short"], None, "quote", "", "model"))
    for rep in obs.reported:
        if rep["quantity"] == "liquidated_notional_quote":
            ratio_txt = f"model/reported {total / float(rep['value']):.2f}"
            if rep.get("comparable") == "upper_bound":
                ratio_txt += " (upper bound)"
            elif rep.get("comparable") == "context":
                ratio_txt += " (other scope)"
            rows.append(
                _row(
                    f"liquidated vs {rep.get('label', rep['scope'])}",
                    total,
                    float(rep["value"]),
                    "quote",
                    ratio_txt,
                    f"{rep['scope']}: {rep['source']} [{rep['reliability']}]",
                )
            )
        elif rep["quantity"] == "long_share_of_liquidations":
            share = mm["liq_long"] / total if total > 0 else float("nan")
            rows.append(
                _row(
                    f"long share vs {rep.get('label', rep['scope'])}",
                    share,
                    float(rep["value"]),
                    "fraction",
                    f"{share - float(rep['value']):+.2%} pts",
                    f"{rep['scope']}: {rep['source']} [{rep['reliability']}]",
                )
            )
    table = pl.DataFrame(
        rows,
        schema_overrides={"model": pl.Float64, "observed": pl.Float64},
        infer_schema_length=None,
    )
    inputs["model_time_of_low"] = ms_to_iso(mm["low_time_ms"])
    inputs["observed_time_of_low"] = ms_to_iso(obs.low_time_ms)
    inputs["rng_seed"] = model.summary.get("seed", 0)
    inputs["engine"] = "liqcascade.engine.dynamic.simulate"
    return ReplayResult(event, symbol, params, fitted, fit_info, lmap, obs, model, table, inputs)


# --------------------------------------------------------------------------------------------
# report


def _fmt(v: Any, unit: str) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return ""
    if unit == "fraction":
        return f"{v:+.2%}" if v < 0 else f"{v:.2%}"
    if unit == "quote":
        return f"{v:,.0f}" if abs(v) < 1e7 else f"{v / 1e9:,.3f} B"
    return str(v)


def table_rows_text(result: ReplayResult) -> list[tuple[str, str, str, str, str]]:
    """(metric, model, observed, error, source) strings of the comparison table."""
    out = []
    for r in result.table.to_dicts():
        m = r.get("model_text") or _fmt(r["model"], r["unit"])
        o = r.get("observed_text") or _fmt(r["observed"], r["unit"])
        out.append((r["metric"], m, o, r["error"], r["source"]))
    return out


def write_report(result: ReplayResult, path: str | Path) -> Path:
    """Write a self-contained HTML report (plotly inlined, no CDN): both price paths on one chart,
    the depth factor, and the comparison table with sources."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    obs = result.observed
    fig = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        row_heights=[0.7, 0.3],
        vertical_spacing=0.06,
        subplot_titles=("Price (quote)", "Depth within 1% (fraction of pre-shock)"),
    )
    to_dt = lambda a: pl.Series(a).cast(pl.Int64).cast(pl.Datetime("ms")).to_list()  # noqa: E731
    model_t, obs_t = result.model.time_ms, obs.path["time_ms"]
    # (time_ms, y, name, line style, subplot row)
    traces: list[tuple[Any, list, str, dict[str, str], int]] = [
        (obs_t, obs.path["close"].to_list(), "observed close (1m)", {"color": "#222"}, 1),
        (
            obs_t,
            obs.path["low"].to_list(),
            "observed low (1m)",
            {"color": "#888", "dash": "dot"},
            1,
        ),
        (model_t, result.model.price.tolist(), "model", {"color": "#d62728"}, 1),
        (
            model_t,
            result.model.depth_factor.tolist(),
            "model depth factor",
            {"color": "#d62728"},
            2,
        ),
    ]
    if obs.depth_path is not None and obs.depth_pre_1pct_base:
        ask = (obs.depth_path["ask_1pct_base"] / obs.depth_pre_1pct_base).to_list()
        traces.append(
            (obs.depth_path["time_ms"], ask, "observed ask depth +1% / pre", {"color": "#222"}, 2)
        )
    for time_ms, y, name, line, row in traces:
        fig.add_trace(go.Scatter(x=to_dt(time_ms), y=y, name=name, line=line), row=row, col=1)
    fig.update_layout(
        height=720,
        title=f"Replay {result.event.date} {result.symbol}: model vs observed",
        template="plotly_white",
    )
    chart = fig.to_html(include_plotlyjs=True, full_html=False)
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>"
        for row in table_rows_text(result)
    )
    inputs = html.escape(json.dumps(result.summary()["inputs"], indent=2, default=str))
    params = html.escape(
        json.dumps(
            {"params": asdict(result.params), "fitted_here": result.fitted, "fit": result.fit_info},
            indent=2,
            default=str,
        )
    )
    doc = f"""<!doctype html><html><head><meta charset="utf-8">
<title>liqcascade replay {html.escape(result.event.date)} {html.escape(result.symbol)}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px;font-size:13px}}pre{{background:#f6f6f6;padding:1em}}</style>
</head><body>
<h1>{html.escape(result.event.title)}</h1>
<p>Symbol {html.escape(result.symbol)} on {html.escape(result.event.venue)}; news time {html.escape(ms_to_iso(result.event.news_ms))};
window to {html.escape(ms_to_iso(result.event.window_end_ms))}. Method: docs/replay.md.</p>
{chart}
<h2>Model against observed</h2>
<table><tr><th>metric</th><th>model</th><th>observed</th><th>error</th><th>source</th></tr>{rows}</table>
<h2>Parameters</h2><pre>{params}</pre>
<h2>Inputs</h2><pre>{inputs}</pre>
</body></html>"""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(doc, encoding="utf-8")
    result.report_path = str(out)
    return out


def replay_day(
    date: str,
    *,
    symbol: str | None = None,
    db: Path | None = None,
    data: Path | None = None,
    prior: str = "default",
    fit_on: str = "2025-10-10",
    oi_base: float | None = None,
    report: Path | None = None,
    max_evals: int | None = None,
    params_file: str | Path | None = None,
    attribution: bool = False,
    n_paths: int = 1000,
    seed: int = 0,
    sensitivity: bool = True,
) -> Any:
    """Ingest ``data`` (optional) into the store, fit on ``fit_on`` when needed, replay ``date``.

    Returns the :class:`liqcascade.replay.ReplayResult` with ``report_path`` set.
    """
    from liqcascade.data import Store, default_db_path, ingest_paths
    from liqcascade.errors import InputError
    from liqcascade.estimate import to_ms
    from liqcascade.venues import load_venue

    db_path = Path(db) if db else default_db_path()
    if data is not None:
        if not Path(data).exists():
            raise InputError(f"data {data}: no such file or directory")
        ingest_paths([str(data)], db=str(db_path))
    lookback_ms = 168 * 3_600_000
    with Store(db_path, read_only=True) as store:
        ref = load_event(fit_on)
        ref_symbol = ref.default_symbol
        if date in list_events():
            event = load_event(date)
        else:
            day0 = to_ms(f"{date}T00:00:00Z")
            probe = load_frames(
                store, ref.venue, symbol or ref_symbol, day0 - lookback_ms, day0 + 86_400_000
            )
            event = plain_day_event(date, probe.klines, ref.venue, symbol or ref_symbol, ref)
        sym = symbol or event.default_symbol
        load_venue(event.venue, sym)  # fail before fitting when the venue rules lack the symbol
        frames = load_frames(
            store, event.venue, sym, event.news_ms - lookback_ms, event.window_end_ms
        )
        kw = {} if max_evals is None else {"max_evals": max_evals}
        if event.is_defined and event.date == ref.date and sym == ref_symbol:
            result = run_replay(frames, event, sym, prior=prior, open_interest_base=oi_base, **kw)
        else:
            ref_frames = load_frames(
                store, ref.venue, ref_symbol, ref.news_ms - lookback_ms, ref.window_end_ms
            )
            params, info = fit_replay(ref_frames, ref, ref_symbol, prior=prior, **kw)
            result = run_replay(
                frames,
                event,
                sym,
                params=params,
                fit_info=info,
                prior=prior,
                open_interest_base=oi_base,
            )
    result.market_model, result.sensitivity = market_model_replay(
        frames, event, sym, params=params_file, attribution=attribution,
        n_paths=n_paths, seed=seed, sensitivity=sensitivity,
    )  # fmt: skip
    out = report or Path(db_path).parent / "reports" / f"replay-{event.date}-{sym}.html"
    write_report(result, out)
    return result


def market_model_replay(
    frames: MarketFrames,
    event: Event,
    symbol: str,
    *,
    params: str | Path | None = None,
    attribution: bool = False,
    n_paths: int = 1000,
    seed: int = 0,
    sensitivity: bool = True,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The market model's ensemble replay of a day (liqcascade.market, shipped calibration).

    Trigger mode: the model sees the tape up to the news minute and the next
    ``liqcascade.validate.TRIGGER_BARS - 1`` minutes, then runs on its own. On a day without an
    event file the news minute is the first bar of the day's largest 60-minute fall (as
    ``liqcascade validate`` picks it). With ``attribution`` the tape-driven attribution
    (:func:`liqcascade.validate.attribute_event`) is reported beside it.
    """
    from liqcascade import validate as v
    from liqcascade.data.klines import largest_fall, tape_from_frame
    from liqcascade.market import load_params

    k = frames.klines.select(
        pl.col("open_time_ms").alias("open_time"), "open", "high", "low", "close",
        pl.col("volume_base").alias("volume"),
        pl.col("taker_buy_volume_base").alias("taker_buy_volume"),
    ).filter(pl.col("open_time") < event.window_end_ms + v.REPLAY_HORIZON * _MS_MIN)  # fmt: skip
    tape = tape_from_frame(k, f"store:{symbol}", symbol)
    pf = load_params(params)
    mt = v.ModelTape(tape, 0, pf, v.grid_prior(pf.book.venue, pf.book.symbol))
    day0 = int(tape.open_ms[0])
    if event.is_defined:
        first = int(np.searchsorted(tape.open_ms, event.news_ms))
        span = tape.low[first : first + v.EVENT_MINUTES]
        low_idx = first + int(np.argmin(span))
        picked = "event file news time"
    else:
        i, j = largest_fall(tape.slice(0, int(np.searchsorted(tape.open_ms, day0 + _MS_DAY))))
        first, low_idx = i, j
        picked = "largest 60-minute fall of the day"
    rep = v.replay_event(mt, first, low_idx=low_idx, seed=seed, n_paths=n_paths)
    model: dict[str, Any] = {
        "mode": "trigger",
        "event_first_bar": tape.iso(first),
        "event_picked_by": picked,
        "sees_tape_until": tape.iso(rep.origin),
        **{k2: rep.replay[k2] for k2 in ("low_p10", "low_p50", "low_p90", "low_time_p50")},
        "endogenous_share": rep.replay["endogenous_share"],
        "p_fall_beyond": rep.replay["p_fall_beyond"],
        "impact_only_low_p50": rep.impact_only["low_p50"],
        "observed": rep.observed,
        "n_paths": n_paths,
        "seed": seed,
        "params": str(params) if params else "shipped (liqcascade/market_params.toml)",
    }
    if attribution:
        model["attribution"] = v.attribute_event(mt, first, horizon=v.REPLAY_HORIZON)
    sens = v.replay_sensitivity(mt, first, seed=seed, n_paths=n_paths) if sensitivity else []
    return model, sens
