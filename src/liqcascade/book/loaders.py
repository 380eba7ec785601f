"""Where a book's rows come from: position files (CSV, Parquet, Arrow IPC), data frames (polars,
pandas, pyarrow) and ccxt's unified position dicts, each turned into one polars DataFrame with the
columns of :mod:`liqcascade.book`."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import polars as pl

from liqcascade.book.columns import MARGIN_MODES
from liqcascade.errors import DataError, InputError, RuleError
from liqcascade.log import logger

#: File name suffixes read as Parquet and as Arrow IPC (Feather v2) by ``from_file``.
PARQUET_SUFFIXES: tuple[str, ...] = (".parquet", ".pq")
IPC_SUFFIXES: tuple[str, ...] = (".arrow", ".feather", ".ipc")


def _file_format(path: str | Path) -> str:
    """``from_file``'s format of ``path`` by its suffix: Parquet, Arrow IPC, else CSV."""
    suffix = Path(path).suffix.lower()
    if suffix in PARQUET_SUFFIXES:
        return "Parquet"
    if suffix in IPC_SUFFIXES:
        return "Arrow IPC"
    return "CSV"


def _read_positions_file(path: str | Path, fmt: str) -> tuple[Path, pl.DataFrame]:
    """Read a positions file as ``fmt`` ("CSV": every column as text, parsed and checked per
    field later; "Parquet"; "Arrow IPC"): InputError when missing, DataError when unreadable."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: positions file not found")
    errors: tuple[type[Exception], ...] = (pl.exceptions.PolarsError, OSError, UnicodeDecodeError)
    try:
        if fmt == "CSV":
            df = pl.read_csv(p, infer_schema_length=0)
        elif fmt == "Parquet":
            df = pl.read_parquet(p)
        else:
            df = pl.read_ipc(p)
    except errors as exc:
        raise DataError(f"{p}: cannot read as {fmt} ({exc})") from exc
    return p, df


def _as_polars(df: Any, source: str) -> pl.DataFrame:
    """A polars DataFrame of a polars or pandas DataFrame or a pyarrow Table."""
    if isinstance(df, pl.DataFrame):
        return df
    try:
        return (
            pl.from_arrow(df)  # type: ignore[return-value]
            if hasattr(df, "schema") and hasattr(df, "column")
            else pl.from_pandas(df)
        )
    except Exception as exc:  # noqa: BLE001 - any non-frame input
        raise InputError(
            f"{source}: expected a polars or pandas DataFrame, got {type(df).__name__}"
        ) from exc


def _field_num(pos: Mapping[str, Any], name: str, where: str) -> float:
    val = pos.get(name)
    try:
        out = float(val)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputError(f"{where}: field {name!r} must be a number, got {val!r}") from None
    if not math.isfinite(out):
        raise InputError(f"{where}: field {name!r} must be finite, got {val!r}")
    return out


#: Column types of the frame built from ccxt positions (account_id is set per call).
_CCXT_SCHEMA: dict[str, Any] = {
    "venue": pl.Utf8,
    "symbol": pl.Utf8,
    "side": pl.Utf8,
    "size_base": pl.Float64,
    "entry_price": pl.Float64,
    "margin_mode": pl.Utf8,
    "margin_quote": pl.Float64,
    "leverage": pl.Float64,
    "mark_price": pl.Float64,
    "liquidation_price": pl.Float64,
    "segment": pl.Utf8,
    "account_collateral_quote": pl.Float64,
}


def _ccxt_row(pos: Any, where: str, venue: str) -> tuple[dict[str, Any], float | None] | None:
    """One book row of a ccxt position dict (no account_id, segment or collateral yet) and, for a
    cross position, its ``collateral`` (else ``initialMargin``); None for zero contracts."""
    from liqcascade.venues import load_venue

    if not isinstance(pos, Mapping):
        raise InputError(f"{where}: expected a ccxt position dict, got {type(pos).__name__}")
    contracts = _field_num(pos, "contracts", where)
    if contracts == 0:
        return None
    csize = pos.get("contractSize")
    csize = 1.0 if csize is None else _field_num(pos, "contractSize", where)
    sym = pos.get("symbol")
    if not sym:
        raise InputError(f"{where}: field 'symbol' is missing")
    try:
        native = load_venue(venue, str(sym)).symbol
    except (InputError, RuleError):
        native = str(sym)
    mode = str(pos.get("marginMode") or "isolated").lower()
    if mode not in MARGIN_MODES:
        raise InputError(f"{where}: field 'marginMode' must be isolated or cross, got {mode!r}")
    margin = pos.get("collateral")
    if margin is None:
        margin = pos.get("initialMargin")
    lev = pos.get("leverage")
    row: dict[str, Any] = {
        "venue": venue,
        "symbol": native,
        "side": pos.get("side"),
        "size_base": abs(contracts) * csize,
        "entry_price": pos.get("entryPrice"),
        "margin_mode": mode,
        "margin_quote": None if mode == "cross" or margin is None else float(margin),
        "leverage": None if lev is None else float(lev),
        "mark_price": pos.get("markPrice"),
        "liquidation_price": pos.get("liquidationPrice"),
    }
    return row, float(margin) if mode == "cross" and margin is not None else None


def _ccxt_frame(
    positions: Iterable[Mapping[str, Any]],
    *,
    venue: str,
    account_id: int | str,
    account_collateral_quote: float | None,
    segment: str,
    source: str,
) -> pl.DataFrame:
    """The book frame of ccxt positions (see ``PositionBook.from_ccxt``)."""
    from liqcascade.venues import normalize_venue

    v = normalize_venue(venue)
    rows: list[dict[str, Any]] = []
    cross_coll = 0.0
    for i, pos in enumerate(positions):
        got = _ccxt_row(pos, f"{source} position {i + 1}", v)
        if got is None:
            continue
        row, cross_margin = got
        if cross_margin is not None:
            cross_coll += cross_margin
        rows.append({"account_id": account_id, **row, "segment": segment})
    if any(r["margin_mode"] == "cross" for r in rows):
        if account_collateral_quote is None:
            logger.warning(
                "%s: no account_collateral_quote given; using the sum of cross positions' collateral (%s)",
                source,
                cross_coll,
            )
            account_collateral_quote = cross_coll
        for r in rows:
            r["account_collateral_quote"] = account_collateral_quote
    for r in rows:
        r.setdefault("account_collateral_quote", None)
        for k in ("entry_price", "mark_price", "liquidation_price"):
            if r[k] is not None:
                r[k] = float(r[k])
    schema = {"account_id": pl.Utf8 if isinstance(account_id, str) else pl.Int64} | _CCXT_SCHEMA
    return pl.DataFrame(rows, schema=schema)
