"""Observed inputs the market model takes where the store holds them.

Two inputs replace a stated prior when their data is stored:

- **open interest** (Binance ``metrics`` files, Hyperliquid asset contexts): the book's size at a
  bar is the last value published at or before the bar's close, instead of the prior median
  ``book.oi_median_base``. Its log-uncertainty drops from ``book.oi_log_sd`` to
  :data:`OI_OBSERVED_LOG_SD` (the value is up to five minutes old and counts one venue).
- **order-book depth** (Binance ``bookDepth`` files, a snapshot about every 30 s): the impact
  scale of a path is multiplied by the depth ratio ``D_ref / D_t``, where ``D_t`` is the depth
  within :data:`DEPTH_BAND_PCT` % of mid at the bar's close and ``D_ref`` the median of the
  snapshots of the :data:`DEPTH_REF_MINUTES` before it. Price impact per unit traded is inversely
  proportional to the depth it walks (Kyle; Obizhaeva and Wang), so the exponent is one, stated,
  not fitted: only one day of bookDepth is shipped. The ratio seen at the origin is held over the
  horizon (the model's liquidity recovery is the transient-impact decay, see
  :mod:`liqcascade.market`). The ask side is used: in the shipped 10 Oct file the bid bands carry a
  stale far-off order after about 18:00 (``sample_data/SOURCES.md``).

Both are read causally: the value at bar ``t`` uses only rows stamped at or before its close.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from liqcascade.errors import DataError

__all__ = [
    "DEPTH_BAND_PCT",
    "DEPTH_MAX_AGE_MS",
    "DEPTH_RATIO_CLIP",
    "DEPTH_REF_MINUTES",
    "OI_OBSERVED_LOG_SD",
    "ObservedInputs",
    "depth_ratio_at_bars",
    "inputs_from_frames",
    "inputs_from_store",
    "oi_at_bars",
]

OI_OBSERVED_LOG_SD = 0.05
DEPTH_BAND_PCT = 1.0
DEPTH_REF_MINUTES = 360
DEPTH_MAX_AGE_MS = 5 * 60_000
DEPTH_RATIO_CLIP = (0.25, 4.0)
_MIN_REF_SNAPSHOTS = 20


@dataclass(frozen=True)
class ObservedInputs:
    """Per-bar observed inputs aligned with a tape (NaN where nothing is stored).

    ``oi_base``: open interest in base units at each bar close. ``depth_ratio``: ``D_ref / D_t``
    (above one when the book is thinner than usual). ``sources`` says where each came from.
    """

    oi_base: np.ndarray | None = None
    depth_ratio: np.ndarray | None = None
    sources: dict[str, str] = field(default_factory=dict)

    def oi_at(self, t: int) -> float | None:
        if self.oi_base is None or not np.isfinite(self.oi_base[t]):
            return None
        return float(self.oi_base[t])

    def depth_at(self, t: int) -> float:
        if self.depth_ratio is None or not np.isfinite(self.depth_ratio[t]):
            return 1.0
        return float(self.depth_ratio[t])

    def depth_factors(self, n: int) -> np.ndarray:
        """The depth ratio of each of ``n`` bars, 1 where none is observed."""
        if self.depth_ratio is None:
            return np.ones(n)
        r = self.depth_ratio[:n]
        return np.where(np.isfinite(r), r, 1.0)

    def describe(self, t: int) -> dict[str, Any]:
        """What the model took at bar ``t``, for reports."""
        oi = self.oi_at(t)
        return {
            "open_interest_base": oi,
            "open_interest_source": self.sources.get("open_interest", "prior") if oi else "prior",
            "depth_ratio": self.depth_at(t),
            "depth_source": self.sources.get("depth", "none")
            if self.depth_ratio is not None and np.isfinite(self.depth_ratio[t])
            else "none",
        }


def oi_at_bars(time_ms: np.ndarray, oi_base: np.ndarray, bar_close_ms: np.ndarray) -> np.ndarray:
    """Last open interest published at or before each bar close (NaN before the first)."""
    order = np.argsort(time_ms, kind="stable")
    t = np.asarray(time_ms, dtype=np.int64)[order]
    v = np.asarray(oi_base, dtype=np.float64)[order]
    idx = np.searchsorted(t, bar_close_ms, side="right") - 1
    out = np.full(bar_close_ms.shape, np.nan)
    ok = idx >= 0
    out[ok] = v[idx[ok]]
    out[~(out > 0)] = np.nan
    return out


def depth_ratio_at_bars(
    time_ms: np.ndarray,
    depth_base: np.ndarray,
    bar_close_ms: np.ndarray,
    *,
    ref_minutes: int = DEPTH_REF_MINUTES,
    max_age_ms: int = DEPTH_MAX_AGE_MS,
) -> np.ndarray:
    """``D_ref / D_t`` at each bar close from one band's depth snapshots (causal).

    ``D_t``: the last snapshot at or before the close, if at most ``max_age_ms`` old.
    ``D_ref``: the median of the snapshots in the ``ref_minutes`` before the close (at least
    20 of them). NaN where either is missing; clipped to :data:`DEPTH_RATIO_CLIP`.
    """
    order = np.argsort(time_ms, kind="stable")
    t = np.asarray(time_ms, dtype=np.int64)[order]
    d = np.asarray(depth_base, dtype=np.float64)[order]
    out = np.full(bar_close_ms.shape, np.nan)
    hi = np.searchsorted(t, bar_close_ms, side="right")
    lo = np.searchsorted(t, bar_close_ms - ref_minutes * 60_000, side="right")
    for k in range(bar_close_ms.size):
        i, j = lo[k], hi[k]
        if j == 0 or j - i < _MIN_REF_SNAPSHOTS or bar_close_ms[k] - t[j - 1] > max_age_ms:
            continue
        now = d[j - 1]
        ref = float(np.median(d[i:j]))
        if now > 0 and ref > 0:
            out[k] = ref / now
    return np.clip(out, *DEPTH_RATIO_CLIP)


def _bar_close_ms(open_ms: np.ndarray) -> np.ndarray:
    return np.asarray(open_ms, dtype=np.int64) + 59_999


def inputs_from_frames(
    open_ms: np.ndarray,
    open_interest: pl.DataFrame | None,
    book_depth: pl.DataFrame | None,
    source: str = "store",
) -> ObservedInputs:
    """Align open interest (time_ms, open_interest_base) and bookDepth (time_ms, percentage,
    depth_base) frames with bars opening at ``open_ms``."""
    close_ms = _bar_close_ms(open_ms)
    oi = depth = None
    sources: dict[str, str] = {}
    if open_interest is not None and open_interest.height:
        _need(open_interest, ("time_ms", "open_interest_base"), "open_interest")
        f = open_interest.filter(pl.col("open_interest_base").is_not_null())
        if f.height:
            oi = oi_at_bars(f["time_ms"].to_numpy(), f["open_interest_base"].to_numpy(), close_ms)
            sources["open_interest"] = f"{source}: open interest, last value at or before the bar"
    if book_depth is not None and book_depth.height:
        _need(book_depth, ("time_ms", "percentage", "depth_base"), "book_depth")
        band = book_depth.filter(pl.col("percentage") == DEPTH_BAND_PCT)
        if band.height:
            depth = depth_ratio_at_bars(
                band["time_ms"].to_numpy(), band["depth_base"].to_numpy(), close_ms
            )
            sources["depth"] = (
                f"{source}: bookDepth +{DEPTH_BAND_PCT:g} % band, ratio to the median of the "
                f"previous {DEPTH_REF_MINUTES} min"
            )
    return ObservedInputs(oi, depth, sources)


def _need(df: pl.DataFrame, cols: tuple[str, ...], name: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise DataError(f"{name}: expected columns {list(cols)}, missing {missing}")


def _epoch_ms(df: pl.DataFrame) -> pl.DataFrame:
    if isinstance(df.schema["time"], pl.Datetime):
        return df.with_columns(pl.col("time").dt.epoch("ms").alias("time_ms"))
    return df.with_columns(pl.col("time").cast(pl.Int64).alias("time_ms"))


def inputs_from_store(
    db: str | Path, venue: str, symbol: str, open_ms: np.ndarray
) -> ObservedInputs:
    """Open interest and bookDepth of ``venue``/``symbol`` from the store, aligned with bars.

    Rows are read from :data:`DEPTH_REF_MINUTES` before the first bar to the last bar's close;
    nothing after the last bar is read.
    """
    from liqcascade.data.store import Store

    if not Path(db).exists():
        return ObservedInputs()
    start = int(open_ms[0]) - DEPTH_REF_MINUTES * 60_000
    end = int(open_ms[-1]) + 60_000
    with Store(db, read_only=True) as st:
        oi_rows = st.open_interest(venue, symbol, start=start, end=end)
        bd_rows = st.book_depth(venue, symbol, start=start, end=end)
    oi = _epoch_ms(oi_rows) if oi_rows.height else None
    bd = _epoch_ms(bd_rows) if bd_rows.height else None
    return inputs_from_frames(open_ms, oi, bd, source=f"store {db}")
