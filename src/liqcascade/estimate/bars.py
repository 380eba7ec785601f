"""Bars for the liquidation map: validated, normalised klines, and the times they are read at."""

from __future__ import annotations

import numpy as np
import polars as pl

from liqcascade.errors import DataError
from liqcascade.timeutil import ms_to_iso, to_ms

__all__ = ["ms_to_iso", "normalize_bars", "to_ms"]


_ALIASES = {
    "open_time": "open_time_ms",
    "close_time": "close_time_ms",
    "volume": "volume_base",
    "taker_buy_volume": "taker_buy_volume_base",
}
_NUMERIC = ("open", "high", "low", "close")


def normalize_bars(bars: pl.DataFrame, source: str = "bars") -> pl.DataFrame:
    """Validate and normalise a klines frame for :func:`estimate_map`.

    Accepts Binance kline column names (open_time, volume, quote_volume, taker_buy_quote_volume)
    or liqcascade names (open_time_ms, volume_base, ...). Volume columns may be missing or null
    for price-only bars (mark/index klines). Returns columns open_time_ms, close_time_ms, open,
    high, low, close, volume_base, quote_volume, taker_buy_quote_volume sorted by time.
    """
    df = bars.rename(
        {k: v for k, v in _ALIASES.items() if k in bars.columns and v not in bars.columns}
    )
    if "open_time_ms" not in df.columns and "time_ms" in df.columns:
        df = df.rename({"time_ms": "open_time_ms"})
    missing = [c for c in ("open_time_ms", *_NUMERIC) if c not in df.columns]
    if missing:
        raise DataError(f"{source}: missing column(s) {missing}; expected kline columns")
    if df.height == 0:
        raise DataError(f"{source}: no bars")
    for c in ("volume_base", "quote_volume", "taker_buy_quote_volume"):
        if c not in df.columns:
            df = df.with_columns(pl.lit(None, dtype=pl.Float64).alias(c))
    if df.schema["open_time_ms"] == pl.Datetime or isinstance(
        df.schema["open_time_ms"], pl.Datetime
    ):
        df = df.with_columns(pl.col("open_time_ms").dt.epoch("ms"))
    df = df.with_columns(
        pl.col("open_time_ms").cast(pl.Int64),
        *[
            pl.col(c).cast(pl.Float64)
            for c in (*_NUMERIC, "volume_base", "quote_volume", "taker_buy_quote_volume")
        ],
    ).sort("open_time_ms")
    if "close_time_ms" not in df.columns:
        step = int(np.median(np.diff(df["open_time_ms"].to_numpy()))) if df.height > 1 else 60_000
        df = df.with_columns((pl.col("open_time_ms") + step - 1).alias("close_time_ms"))
    else:
        df = df.with_columns(pl.col("close_time_ms").cast(pl.Int64))
    bad = df.filter(
        ~(pl.col("low") <= pl.col("high"))
        | ~(pl.col("low") > 0)
        | pl.col("open_time_ms").is_duplicated()
    )
    if bad.height:
        row = bad.row(0, named=True)
        raise DataError(
            f"{source}: bar at open_time_ms={row['open_time_ms']} is invalid "
            "(expected 0 < low <= high and one bar per open time)"
        )
    # a null quote volume but a stated base volume: price-only bars carry 0 volume; treat 0 as absent
    df = df.with_columns(
        pl.when(pl.col("volume_base") > 0)
        .then(pl.col("volume_base"))
        .otherwise(None)
        .alias("volume_base"),
    ).with_columns(
        pl.when(pl.col("volume_base").is_not_null())
        .then(pl.col("quote_volume"))
        .otherwise(None)
        .alias("quote_volume"),
        pl.when(pl.col("volume_base").is_not_null())
        .then(pl.col("taker_buy_quote_volume"))
        .otherwise(None)
        .alias("taker_buy_quote_volume"),
    )
    return df.select(
        "open_time_ms",
        "close_time_ms",
        *_NUMERIC,
        "volume_base",
        "quote_volume",
        "taker_buy_quote_volume",
    )
