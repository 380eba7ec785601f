"""The columns of a book: their codes and spellings, and how one column is parsed and checked.

Each parser reads one column of a polars DataFrame as a whole (vectorised) and, on the first bad
cell, raises an error naming the source, the 1-based data row and the field.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypedDict

import numpy as np
import polars as pl

from liqcascade.errors import InputError

SEGMENTS: tuple[str, ...] = ("retail", "institutional", "market_maker")
MARGIN_MODES: tuple[str, ...] = ("isolated", "cross")
ISOLATED = 0
CROSS = 1

#: ``rules=`` argument of the loaders: one VenueRules, or a mapping (venue, symbol) -> VenueRules.
RulesArg = Any


class FileOptions(TypedDict, total=False):
    """Keyword options of the file loaders (``PositionBook.from_file`` and the per-format ones),
    passed on to ``PositionBook.from_frame``: ``venue`` and ``symbol`` fill those columns when
    absent; ``rules`` overrides the shipped venue tables."""

    venue: str | None
    symbol: str | None
    rules: RulesArg


_ALIASES: dict[str, str] = {
    "account": "account_id",
    "size": "size_base",
    "collateral_quote": "account_collateral_quote",
    "wallet_balance_quote": "account_collateral_quote",
    "liq_price": "liquidation_price",
}

_SIDE_WORDS = {
    "long": 1,
    "buy": 1,
    "+1": 1,
    "1": 1,
    "1.0": 1,
    "short": -1,
    "sell": -1,
    "-1": -1,
    "-1.0": -1,
}

#: Columns with at most this many distinct values are encoded by one comparison per value.
_FEW_VALUES = 32


def _code_text(names: Sequence[str], codes: np.ndarray) -> pl.Series:
    """Text column of integer ``codes`` into ``names``."""
    return pl.Series(np.array(names, dtype=object)[codes] if len(codes) else [], dtype=pl.Utf8)


def _fail_row(source: str, row: int, message: str, exc: type[Exception] = InputError) -> None:
    raise exc(f"{source} row {row + 1}: {message}")


def _first(mask: np.ndarray) -> int | None:
    return int(np.argmax(mask)) if mask.any() else None


def _first_code(codes: np.ndarray, wanted: Iterable[int]) -> int | None:
    """First row whose code is in ``wanted`` (None when there is none)."""
    w = list(wanted)
    if not w:
        return None
    return _first(codes == w[0]) if len(w) == 1 else _first(np.isin(codes, w))


def _num_col(df: pl.DataFrame, name: str, source: str, *, required: bool) -> np.ndarray:
    """Column as float64 (NaN for empty cells); unparseable text is an error naming the row."""
    col = df.get_column(name)
    if col.dtype == pl.Utf8:
        stripped = col.str.strip_chars()
        parsed = stripped.cast(pl.Float64, strict=False)
        bad = (parsed.is_null() & stripped.is_not_null() & (stripped != "")).to_numpy()
        if bad.any():
            i = int(np.argmax(bad))
            _fail_row(source, i, f"{name} must be a number, got {col[i]!r}")
        col = parsed
    else:
        try:
            col = col.cast(pl.Float64)
        except pl.exceptions.PolarsError:
            raise InputError(f"{source}: column {name} must be numeric, got {col.dtype}") from None
    arr = col.to_numpy().astype(np.float64, copy=True)
    if required:
        missing = np.isnan(arr)
        if missing.any():
            i = int(np.argmax(missing))
            _fail_row(source, i, f"{name} is empty (a number is required)")
    return arr


def _optional_num_col(df: pl.DataFrame, name: str, source: str) -> np.ndarray:
    """An optional numeric column as float64: NaN for empty cells, all NaN when it is absent."""
    if name in df.columns:
        return _num_col(df, name, source, required=False)
    return np.full(df.height, np.nan)


def _check_positive(values: np.ndarray, name: str, source: str, *, given_only: bool) -> None:
    """Every value (or, with ``given_only``, every non-empty one) must be > 0 and finite."""
    bad = ~((values > 0) & np.isfinite(values))
    if given_only:
        bad &= ~np.isnan(values)
    i = _first(bad)
    if i is not None:
        _fail_row(source, i, f"{name} must be > 0 and finite, got {values[i]:g}")


def _encode(df: pl.DataFrame, name: str) -> tuple[np.ndarray, list[str]]:
    """Dictionary-encode a column as text: per-row codes (int32) into the distinct values, each
    stripped ('' for empty or null cells).

    Only the distinct values are handled in Python, so a column of a million rows costs one
    hashing pass (and one comparison pass per value when there are few).
    """
    col = df.get_column(name)
    if col.dtype != pl.Utf8:
        col = col.cast(pl.Utf8)
    uniq = col.unique().to_list()
    if len(uniq) == 1:
        codes = np.zeros(len(col), dtype=np.int32)
    elif len(uniq) <= _FEW_VALUES:
        codes = np.zeros(len(col), dtype=np.int32)
        for k, u in enumerate(uniq):
            if u is not None and k:
                codes[(col == u).fill_null(False).to_numpy()] = k
        if None in uniq and uniq.index(None):
            codes[col.is_null().to_numpy()] = uniq.index(None)
    else:
        keys = [u for u in uniq if u is not None]
        codes = (
            col.replace_strict(keys, list(range(len(keys))), return_dtype=pl.Int32)
            .fill_null(len(keys))  # null cells: the code after the last value
            .to_numpy()
            .astype(np.int32, copy=False)
        )
        uniq = keys + [None] * (len(keys) < len(uniq))
    return codes, ["" if u is None else u.strip() for u in uniq]


def _names_codes(
    codes: np.ndarray, clean: list[str], name: str, source: str
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Per-row codes (int16) into the sorted distinct names; an empty name is an error."""
    i = _first_code(codes, [k for k, v in enumerate(clean) if v == ""])
    if i is not None:
        _fail_row(source, i, f"{name} is empty")
    names = sorted(set(clean))
    if len(names) > np.iinfo(np.int16).max:
        raise InputError(f"{source}: {len(names)} distinct {name} values, at most 32767 supported")
    pos = {v: k for k, v in enumerate(names)}
    lut = np.array([pos[v] for v in clean], dtype=np.int16)
    return lut[codes], tuple(names)


def _lookup(
    df: pl.DataFrame,
    name: str,
    mapping: Mapping[str, int],
    default: int | None,
    source: str,
    message: str,
) -> np.ndarray:
    """Map a text column's lower-cased words to int8 codes; '' -> default; the first unknown
    word is an error naming its row."""
    codes, clean = _encode(df, name)
    lut = np.zeros(len(clean), dtype=np.int8)
    bad = []
    for k, word in enumerate(clean):
        val = default if word == "" else mapping.get(word.lower())
        if val is None:
            bad.append(k)
        else:
            lut[k] = val
    i = _first_code(codes, bad)
    if i is not None:
        _fail_row(source, i, f"{message}, got {clean[codes[i]]!r}")
    return lut[codes]
