"""Market data of a replay: the frames read from the store, bookDepth curves, and what happened
(the observed price path, depth within 1% and the impulse size)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from liqcascade.errors import DataError
from liqcascade.replay.events import _MS_MIN, Event
from liqcascade.timeutil import ms_to_iso

BOOKDEPTH_BANDS = (1, 2, 3, 4, 5)


@dataclass(frozen=True)
class MarketFrames:
    """Market data of one symbol for a replay (times in epoch ms, UTC).

    klines: 1m trade klines (open_time_ms, close_time_ms, open, high, low, close, volume_base,
    quote_volume, taker_buy_volume_base, taker_buy_quote_volume). price_klines: price-only klines
    (mark/index) used before the first trade kline, or None. book_depth: Binance bookDepth rows
    (time_ms, percentage, depth_base, notional_quote, weighted_avg_price), or None.
    open_interest: stored open interest (time_ms, open_interest_base), or None.
    """

    venue: str
    symbol: str
    klines: pl.DataFrame
    price_klines: pl.DataFrame | None
    book_depth: pl.DataFrame | None
    source: str
    open_interest: pl.DataFrame | None = None


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
    oi_rows = store.open_interest(venue, symbol, start=start, end=end)
    oi = None
    if oi_rows.height:
        oi = (
            _ms_col(oi_rows, "time", "time_ms")
            .select("time_ms", "open_interest_base")
            .filter(pl.col("open_interest_base").is_not_null())
            .sort("time_ms")
        )
    return MarketFrames(
        venue, symbol, klines, price, book, source=str(getattr(store, "path", "store")),
        open_interest=oi,
    )  # fmt: skip


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
    low_at = win["low"].arg_min()
    if low_at is None:
        raise DataError(f"{frames.source}: 1m klines of {frames.symbol}: no low in the window")
    i_low = int(low_at)
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
