"""Account ids and account collateral of a book.

Account ids are kept as the user gave them: integers stay integers; text ids (ccxt, Hyperliquid
addresses) become codes into their sorted distinct values (``account_names``), encoded only when
something uses them. Cross positions share one wallet balance per account.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import polars as pl

from liqcascade.book.columns import _fail_row, _first


def account_labels(account_id: np.ndarray, account_names: Sequence[str] = ()) -> pl.Series:
    """The user's account ids of ``account_id`` codes, as a polars Series named ``account_id``.

    ``account_names`` is a book's :attr:`PositionBook.account_names`: when it is empty the codes
    are the integer ids themselves (Int64), otherwise each code indexes it (text). Results that
    carry account codes (ledgers, per-account tables) call this to show the user's ids.

    Examples
    --------
    >>> import numpy as np
    >>> account_labels(np.array([1, 0, 1]), ("0xabc123", "alice")).to_list()
    ['alice', '0xabc123', 'alice']
    >>> account_labels(np.array([7, 9])).to_list()
    [7, 9]
    """
    codes = np.asarray(account_id, dtype=np.int64)
    if not len(account_names):
        return pl.Series("account_id", codes, dtype=pl.Int64)
    names = pl.Series("account_id", list(account_names), dtype=pl.Utf8)
    return names.gather(codes) if len(codes) else names.clear()


def _accounts(df: pl.DataFrame, source: str) -> tuple[np.ndarray | _TextAccounts, tuple[str, ...]]:
    """The account_id column: integer ids as int64 (no names), else text ids as codes into
    their sorted distinct values."""
    col = df.get_column("account_id")
    if col.dtype.is_integer():
        i = _first(col.is_null().to_numpy())
        if i is not None:
            _fail_row(source, i, "account_id is empty")
        if col.dtype == pl.UInt64 and len(col) and col.max() > np.iinfo(np.int64).max:  # type: ignore[operator]
            i = _first((col > np.iinfo(np.int64).max).to_numpy())
            _fail_row(source, int(i or 0), f"account_id {col[int(i or 0)]} is beyond int64")
        return col.cast(pl.Int64).to_numpy().astype(np.int64, copy=True), ()
    if col.dtype.is_float():
        acc_f = col.to_numpy().astype(np.float64, copy=False)
        i = _first(np.isnan(acc_f))
        if i is not None:
            _fail_row(source, i, "account_id is empty")
        i = _first((acc_f != np.round(acc_f)) | (np.abs(acc_f) > 2.0**53))
        if i is not None:
            _fail_row(
                source, i, f"account_id must be an integer or text, got the number {acc_f[i]:g}"
            )
        return acc_f.astype(np.int64), ()
    text = (col if col.dtype == pl.Utf8 else col.cast(pl.Utf8)).str.strip_chars()
    i = _first((text.is_null() | (text == "")).to_numpy())
    if i is not None:
        _fail_row(source, i, "account_id is empty")
    as_int = text.cast(pl.Int64, strict=False)
    if not as_int.null_count():
        return as_int.to_numpy().astype(np.int64, copy=True), ()
    as_f = text.cast(pl.Float64, strict=False)
    if not as_f.null_count():  # integer ids written as floats ("17.0")
        f = as_f.to_numpy()
        if np.all(np.isfinite(f) & (f == np.round(f)) & (np.abs(f) <= 2.0**53)):
            return f.astype(np.int64), ()
    return _TextAccounts(text), ()


class _TextAccounts:
    """Checked text account ids of a book, not yet encoded as codes.

    Encoding hashes every row (a third of a second for a million rows), and much of what is done
    with a book never looks at accounts (a static ladder): :class:`PositionBook` encodes them on
    the first use of ``account_id`` or ``account_names``.
    """

    __slots__ = ("text",)

    def __init__(self, text: pl.Series) -> None:
        self.text = text

    def __len__(self) -> int:
        return len(self.text)

    def encode(self) -> tuple[np.ndarray, tuple[str, ...]]:
        """Codes (int64) into the sorted distinct ids, and those ids."""
        names = self.text.unique().sort()
        codes = self.text.replace_strict(
            names, pl.int_range(len(names), eager=True, dtype=pl.Int64), return_dtype=pl.Int64
        )
        return codes.to_numpy().astype(np.int64, copy=True), tuple(names.to_list())


def _isin_sorted(values: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """``np.isin`` by sorting ``pool`` (numpy's hash path is slow on millions of int64 ids)."""
    if not len(pool):
        return np.zeros(len(values), dtype=bool)
    srt = np.sort(pool)
    pos = np.minimum(np.searchsorted(srt, values), len(srt) - 1)
    return srt[pos] == values


def _collateral_per_row(collateral: Mapping[int, float], account: np.ndarray) -> np.ndarray:
    """Each row's account collateral (NaN where the account has none), vectorised."""
    out = np.full(len(account), np.nan)
    if not collateral or not len(account):
        return out
    keys = np.fromiter(collateral.keys(), dtype=np.int64, count=len(collateral))
    vals = np.fromiter(collateral.values(), dtype=np.float64, count=len(collateral))
    o = np.argsort(keys)
    keys, vals = keys[o], vals[o]
    pos = np.minimum(np.searchsorted(keys, account), len(keys) - 1)
    hit = keys[pos] == account
    out[hit] = vals[pos[hit]]
    return out


def _cross_collateral(
    account: np.ndarray,
    coll: np.ndarray,
    cross: np.ndarray,
    source: str,
    account_names: tuple[str, ...] = (),
) -> dict[int, float]:
    """One wallet balance per cross account: given on at least one of its rows, never two values."""
    rows = np.flatnonzero(cross)
    if not len(rows):
        return {}
    c = coll[rows]
    i = _first(~np.isnan(c) & ~((c >= 0) & np.isfinite(c)))
    if i is not None:
        _fail_row(
            source, int(rows[i]), f"account_collateral_quote must be >= 0 and finite, got {c[i]:g}"
        )
    acc = account[rows]
    uniq, first_idx, inv = np.unique(acc, return_index=True, return_inverse=True)
    has = ~np.isnan(c)
    # per account: first given value; then any row that differs from it
    order = np.lexsort((np.arange(len(rows)), ~has, inv))  # by account, given rows first, row order
    first_given = np.full(len(uniq), np.nan)
    seen = np.zeros(len(uniq), dtype=bool)
    grp_first = order[np.r_[True, inv[order][1:] != inv[order][:-1]]]
    first_given[inv[grp_first]] = c[grp_first]
    seen[inv[grp_first]] = has[grp_first]
    i = _first(~seen)
    if i is not None:
        row = int(rows[first_idx[i]])
        _fail_row(
            source,
            row,
            "cross position needs account_collateral_quote (the account's wallet balance)",
        )
    differs = has & (c != first_given[inv])
    i = _first(differs)
    if i is not None:
        ref = first_given[inv[i]]
        _fail_row(
            source,
            int(rows[i]),
            f"account_collateral_quote {c[i]:g} differs from {ref:g} on another row of account "
            f"{account_names[int(acc[i])] if account_names else int(acc[i])}",
        )
    return dict(zip(uniq.tolist(), first_given.tolist(), strict=True))
