"""Liquidation maps read from the DuckDB store: one map under several priors
(:func:`map_from_store`, ``liqcascade map``) and a series of snapshots on one price grid
(:func:`map_snapshots`, the web map page's heatmap)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from liqcascade.errors import DataError, InputError
from liqcascade.estimate.bars import normalize_bars
from liqcascade.estimate.map import LiquidationMap, compare_priors, estimate_map
from liqcascade.estimate.priors import LeveragePrior, list_priors
from liqcascade.timeutil import ms_to_iso, to_ms

__all__ = ["MapSnapshots", "map_from_store", "map_snapshots", "snapshot_times"]

_MS_PER_HOUR = 3_600_000


def map_from_store(
    venue: str,
    symbol: str,
    at: str | int,
    *,
    db: str | Path | None = None,
    priors: list[str] | None = None,
    oi_base: float | None = None,
    lookback_hours: float = 168.0,
    bin_width: float | None = None,
    progress: Any = None,
) -> tuple[pl.DataFrame, list[LiquidationMap]]:
    """The map at ``at`` under each prior (first = main; default ``default`` and ``high``) from
    the store's 1m trade klines of the ``lookback_hours`` before it, older price-only klines
    (mark/price/index) where stored, and the stored open interest (or ``oi_base``, base units).

    Returns :func:`compare_priors`' wide frame and maps. ``progress(done, total)`` is called
    after each prior's map.
    """
    from liqcascade.data import Store, default_db_path
    from liqcascade.replay import load_frames

    at_ms = to_ms(at)
    start = at_ms - int(lookback_hours * _MS_PER_HOUR)
    with Store(Path(db) if db else default_db_path(), read_only=True) as store:
        frames = load_frames(store, venue, symbol, start, at_ms)
        oi = store.open_interest(venue, symbol, start=start, end=at_ms + 1)
    bars = frames.klines
    if frames.price_klines is not None and frames.price_klines.height:
        older = frames.price_klines.filter(pl.col("open_time_ms") < int(bars["open_time_ms"][0]))
        bars = pl.concat([older, bars], how="vertical_relaxed")
    oi_frame = None
    if oi.height and "open_interest_base" in oi.columns:
        oi_frame = oi.select(
            pl.col("time").dt.epoch("ms").alias("time_ms"), "open_interest_base"
        ).drop_nulls()
        if oi_frame.height == 0:
            oi_frame = None
    if oi_base is None and oi_frame is None:
        raise DataError(
            f"no open interest stored for {venue} {symbol} before {ms_to_iso(at_ms)}; give "
            "oi_base (--oi-base): the map is scaled to the open interest"
        )
    names: list[LeveragePrior | str | Path] = list(priors or ["default", "high"])
    return compare_priors(
        bars,
        names,
        venue=venue,
        symbol=symbol,
        at=at_ms,
        bin_width_quote=bin_width,
        open_interest_base=oi_base,
        open_interest=oi_frame,
        lookback_hours=lookback_hours,
        source=frames.source,
        progress=progress,
    )


def snapshot_times(start: str | int, end: str | int, snapshots: int) -> list[int]:
    """``snapshots`` evenly spaced times (epoch ms) from ``start`` to ``end``, both included
    (``[end]`` for one snapshot or an empty range)."""
    a, b = to_ms(start, "start"), to_ms(end, "end")
    if b < a:
        raise InputError(f"end={ms_to_iso(b)} is before start={ms_to_iso(a)}")
    if snapshots < 1:
        raise InputError(f"snapshots={snapshots}: expected at least 1")
    if snapshots == 1 or a == b:
        return [b]
    step = (b - a) / (snapshots - 1)
    return [int(round(a + i * step)) for i in range(snapshots)]


@dataclass(frozen=True)
class MapSnapshots:
    """Liquidation maps of one venue and symbol at several times on one price grid.

    ``notional_quote[i][j]`` is the notional (quote, both sides) at ``price_levels[i]`` in the
    map at ``times_ms[j]``; ``long_notional_quote``/``short_notional_quote`` and
    ``reference_price`` are per snapshot; ``price_line`` holds the 1m closes from the first
    snapshot on (``time``, ``close``); ``last`` is the map at the last snapshot.
    """

    venue: str
    symbol: str
    times_ms: list[int]
    price_levels: list[float]
    notional_quote: list[list[float]]
    long_notional_quote: list[float]
    short_notional_quote: list[float]
    reference_price: list[float]
    price_line: pl.DataFrame
    bin_width_quote: float
    last: LiquidationMap

    @property
    def times(self) -> list[str]:
        """Snapshot times, ISO UTC."""
        return [ms_to_iso(t) for t in self.times_ms]

    def to_polars(self) -> pl.DataFrame:
        """One row per (snapshot, price level): ``time`` (ISO UTC), ``price_level``,
        ``notional_quote`` (both sides)."""
        z = np.asarray(self.notional_quote, dtype=np.float64).reshape(
            len(self.price_levels), len(self.times_ms)
        )
        return pl.DataFrame(
            {
                "time": np.repeat(np.array(self.times, dtype=object), len(self.price_levels)),
                "price_level": np.tile(np.asarray(self.price_levels, np.float64), len(self.times)),
                "notional_quote": z.T.ravel(),
            },
            schema={"time": pl.String, "price_level": pl.Float64, "notional_quote": pl.Float64},
        )

    def plot(self) -> Any:
        """Heatmap of the notional by price level (y) and snapshot time (x), with the 1m close
        over it; the view is centred on the price (levels further out stay in the data)."""
        from liqcascade import plotting

        go = plotting.graph_objects("the liquidation map plot")
        closes = self.price_line["close"].to_list()
        fig = go.Figure(
            [
                go.Heatmap(
                    x=self.times,
                    y=self.price_levels,
                    z=self.notional_quote,
                    name="liquidation notional",
                    colorscale="YlOrRd",
                    colorbar={"title": {"text": "quote"}},
                    hovertemplate="%{x}<br>%{y}: %{z:,.0f}<extra></extra>",
                ),
                go.Scatter(
                    x=self.price_line["time"].to_list(),
                    y=closes,
                    mode="lines",
                    name="price (1m close)",
                    line={"color": "#1f3a93", "width": 1.5},
                ),
            ]
        )
        prior = self.last.meta.get("prior", {}).get("name", "")
        yaxis: dict[str, Any] = {"title": {"text": "price level (quote)"}}
        if closes:
            yaxis["range"] = [min(closes) * 0.8, max(closes) * 1.2]
        return plotting.styled(
            fig,
            f"Estimated liquidation levels, prior '{prior}' ({self.venue})",
            xaxis={"title": {"text": "time (UTC)"}},
            yaxis=yaxis,
            height=520,
        )


def map_snapshots(
    klines: pl.DataFrame,
    *,
    venue: str,
    symbol: str,
    times_ms: list[int],
    prior: str = "default",
    lookback_hours: float = 24.0,
    bin_width_quote: float | None = None,
    source: str = "klines",
    progress: Any = None,
) -> MapSnapshots:
    """:func:`estimate_map` at each of ``times_ms`` on the same ``klines`` (1m trade klines
    covering the look-back of the first snapshot to the last) and one price grid (the first
    map's bin width unless ``bin_width_quote`` is given). ``prior`` is a shipped prior name of
    the venue. ``progress(done, total, time_ms)`` is called before each snapshot.
    """
    names = [n.split(".", 1)[1] for n in list_priors(venue)]
    if prior not in names:
        raise InputError(f"prior: no prior {prior!r} for venue {venue!r} (expected one of {names})")
    if not times_ms:
        raise InputError("times_ms: give at least one snapshot time")
    if klines.height == 0:
        raise InputError(
            f"klines: no 1m trade klines of {venue} {symbol} before {ms_to_iso(times_ms[-1])}"
        )
    bin_w = bin_width_quote
    per_time: list[dict[float, float]] = []
    longs: list[float] = []
    shorts: list[float] = []
    ref: list[float] = []
    last: LiquidationMap | None = None
    for i, t in enumerate(times_ms):
        if progress is not None:
            progress(i, len(times_ms), t)
        lmap = estimate_map(
            klines,
            venue=venue,
            symbol=symbol,
            at=t,
            prior=prior,
            lookback_hours=lookback_hours,
            bin_width_quote=bin_w,
            source=source,
        )
        bin_w = bin_w or lmap.meta["bin_width_quote"]  # one price grid for all snapshots
        lv = lmap.levels
        levels: dict[float, float] = {}
        for price, notional in zip(
            lv["price_level"].to_list(), lv["notional_quote"].to_list(), strict=True
        ):
            levels[price] = levels.get(price, 0.0) + notional
        per_time.append(levels)
        longs.append(float(lv.filter(pl.col("side") == 1)["notional_quote"].sum()))
        shorts.append(float(lv.filter(pl.col("side") == -1)["notional_quote"].sum()))
        ref.append(float(lmap.meta["reference_price"]))
        last = lmap
    assert last is not None and bin_w is not None
    grid = sorted({p for d in per_time for p in d})
    z = [[d.get(p, 0.0) for d in per_time] for p in grid]
    price = normalize_bars(klines, source).filter(pl.col("open_time_ms") >= times_ms[0])
    price_line = pl.DataFrame(
        {
            "time": [ms_to_iso(t) for t in price["open_time_ms"].to_list()],
            "close": price["close"].to_list(),
        },
        schema={"time": pl.String, "close": pl.Float64},
    )
    return MapSnapshots(
        venue=venue,
        symbol=symbol,
        times_ms=list(times_ms),
        price_levels=grid,
        notional_quote=z,
        long_notional_quote=longs,
        short_notional_quote=shorts,
        reference_price=ref,
        price_line=price_line,
        bin_width_quote=float(bin_w),
        last=last,
    )
