"""Fitting diffusion volatility and Merton jumps to kline closes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from liqcascade.errors import DataError, InputError
from liqcascade.jumps import fit_threshold_jumps
from liqcascade.log import logger
from liqcascade.risk._checks import _positive
from liqcascade.risk.models import JumpDiffusion


def read_klines(path: str | Path) -> pl.DataFrame:
    """Read a Binance kline file (``.csv`` or ``.zip`` holding one csv, with or without header).

    Returns the frame sorted by ``open_time`` (epoch ms, Int64) with float ``open``, ``high``,
    ``low``, ``close``. Raises :class:`DataError` naming the file and what was wrong.
    """
    from liqcascade.data.klines import _read_bytes, epoch_ms_expr, parse_kline_text

    p = Path(path)
    df, _ = parse_kline_text(_read_bytes(p), str(p))
    missing = [c for c in ("open_time", "close") if c not in df.columns]
    if missing:
        raise DataError(f"{p}: kline columns {missing} missing (have {df.columns})")
    try:
        out = df.select(
            pl.col("open_time").cast(pl.Int64),
            *[
                pl.col(c).cast(pl.Float64)
                for c in ("open", "high", "low", "close")
                if c in df.columns
            ],
        )
        out = out.with_columns(epoch_ms_expr("open_time")).sort("open_time")
    except pl.exceptions.PolarsError as exc:
        raise DataError(f"{p}: open_time/close not numeric ({exc})") from exc
    bad = out.filter(~(pl.col("close") > 0))
    if bad.height:
        row = out.with_row_index().filter(~(pl.col("close") > 0))["index"][0]
        raise DataError(f"{p}: row {row + 2}: close must be > 0")
    return out


def fit_from_store(
    venue: str,
    symbol: str,
    *,
    start: Any = None,
    end: Any = None,
    interval: str | None = None,
    kind: str = "trade",
    db: str | Path | None = None,
    jumps: bool = True,
    threshold_sigmas: float = 4.0,
) -> FittedModel:
    """:func:`fit_from_klines` on klines from the DuckDB market-data store (docs/data.md).

    ``start``/``end`` as the store takes them (datetime, ISO string or epoch ms; half-open);
    ``kind`` ``trade``/``mark``/``index``/``price``; ``db`` default: the store's default path.
    """
    from liqcascade.data import Store

    with Store(db, read_only=True) as st:
        df = st.klines(venue, symbol, start=start, end=end, interval=interval, kind=kind)
    if df.height == 0:
        raise DataError(
            f"store: no {kind} klines for {venue} {symbol} in [{start}, {end}) "
            "(ingest some with `liqcascade data ingest`)"
        )
    f = fit_from_klines(df, jumps=jumps, threshold_sigmas=threshold_sigmas)
    return replace(f, source=f"store {venue} {symbol} {kind} {df['interval'][0]}")


@dataclass(frozen=True)
class FittedModel:
    """A :class:`JumpDiffusion` fitted to kline closes, with what it was fitted on.

    The estimator is :func:`liqcascade.jumps.fit_threshold_jumps` (iterated threshold jump
    detection, Mancini 2009), the one shared with the ``jump_diffusion`` stress shock. The drift
    is not estimated (a day of data says nothing about it): it is 0 unless given.
    """

    model: JumpDiffusion
    source: str
    n_returns: int
    bar_seconds: float
    start_ms: int
    end_ms: int
    n_jumps: int
    threshold_sigmas: float
    realised_vol_annual: float

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["model"] = asdict(self.model)
        return d


def _klines_frame(
    klines: pl.DataFrame | str | Path | Sequence[str | Path],
) -> tuple[pl.DataFrame, str]:
    """``open_time`` (epoch ms, Int64) and ``close`` (float) in time order, and a source name."""
    if isinstance(klines, pl.DataFrame):
        for c in ("open_time", "close"):
            if c not in klines.columns:
                raise InputError(f"klines frame: column {c!r} missing (have {klines.columns})")
        t_col = pl.col("open_time")
        # the store returns datetimes; files give epoch milliseconds
        if klines.schema["open_time"].is_temporal():
            t_col = t_col.dt.epoch("ms")
        else:
            t_col = t_col.cast(pl.Int64)
        df = klines.select(t_col.alias("open_time"), pl.col("close").cast(pl.Float64))
        return df.sort("open_time"), "frame"
    paths = [klines] if isinstance(klines, (str, Path)) else list(klines)
    if not paths:
        raise InputError("klines: no files given")
    frames = [read_klines(p).select("open_time", "close") for p in paths]
    df = pl.concat(frames).unique("open_time", keep="first").sort("open_time")
    names = [Path(p).name for p in paths]
    source = names[0] if len(names) == 1 else f"{names[0]} .. {names[-1]} ({len(names)} files)"
    return df, source


def fit_from_klines(
    klines: pl.DataFrame | str | Path | Sequence[str | Path],
    *,
    jumps: bool = True,
    threshold_sigmas: float = 4.0,
    drift_annual: float = 0.0,
) -> FittedModel:
    """Fit diffusion volatility (and jumps) to kline closes; annualised over 365 days.

    ``klines`` is a frame with ``open_time`` (epoch ms) and ``close`` columns (as returned by
    :func:`read_klines` or the data store), a file path, or a list of paths (concatenated in
    time order). The bar length is the median spacing of ``open_time``; returns across a gap
    longer than 1.5 bars are dropped. The estimator is
    :func:`liqcascade.jumps.fit_threshold_jumps`. With ``jumps=False`` the volatility is the
    plain realised volatility and the model has no jumps.
    """
    threshold_sigmas = _positive("threshold_sigmas", threshold_sigmas)
    df, source = _klines_frame(klines)
    if df.height < 30:
        raise DataError(f"{source}: {df.height} klines; need at least 30 to fit a volatility")
    t = df["open_time"].to_numpy()
    close = df["close"].to_numpy()
    if np.any(~(close > 0)):
        raise DataError(f"{source}: close must be > 0 in every row")
    gaps = np.diff(t)
    bar_ms = float(np.median(gaps))
    if bar_ms <= 0:
        raise DataError(f"{source}: open_time is not increasing")
    r = np.diff(np.log(close))[gaps <= 1.5 * bar_ms]
    fit = fit_threshold_jumps(
        r, bar_ms / 1000.0, threshold_sigmas=threshold_sigmas, jumps=jumps, source=source
    )
    logger.debug(
        "fit %s: %d returns, %d jumps, vol %.4f", source, r.size, fit.n_jumps, fit.vol_annual
    )
    model = JumpDiffusion(
        vol_annual=fit.vol_annual,
        drift_annual=drift_annual,
        jump_intensity_annual=fit.jump_intensity_per_year,
        jump_mean_log=fit.jump_mean_log,
        jump_std_log=fit.jump_std_log,
    )
    return FittedModel(
        model=model,
        source=source,
        n_returns=fit.n_returns,
        bar_seconds=fit.bar_seconds,
        start_ms=int(t[0]),
        end_ms=int(t[-1]),
        n_jumps=fit.n_jumps,
        threshold_sigmas=threshold_sigmas,
        realised_vol_annual=fit.realised_vol_annual,
    )
