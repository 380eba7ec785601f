"""The :class:`PositionBook`: positions as a struct of numpy arrays, and what a book offers
(views, selection, filters, a polars frame, and its loaders)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Unpack

import numpy as np
import polars as pl

from liqcascade.book.accounts import (
    _collateral_per_row,
    _isin_sorted,
    _TextAccounts,
    account_labels,
)
from liqcascade.book.columns import (
    ISOLATED,
    MARGIN_MODES,
    SEGMENTS,
    FileOptions,
    RulesArg,
    _code_text,
)
from liqcascade.book.loaders import _as_polars, _ccxt_frame, _file_format, _read_positions_file
from liqcascade.errors import InputError


@dataclass(eq=False)
class PositionBook:
    """Positions as a struct of numpy arrays (all of length ``n``).

    Attributes
    ----------
    account_id: int64: the account's integer id, or, when ``account_names`` is not empty, the
    index of its text id in ``account_names`` (sorted; see :mod:`liqcascade.book`);
    venue_code, symbol_code: int16 (index into ``venues`` / ``symbols``);
    side: int8 (+1 long, -1 short); size_base: float64 (base units, > 0);
    entry_price: float64 (quote per base); margin_mode: int8 (0 isolated, 1 cross);
    margin_quote: float64 (isolated margin in quote; NaN for cross);
    leverage: float64 (initial leverage; NaN when unknown for cross);
    liquidation_price, bankruptcy_price: float64 (quote per base; NaN = none);
    segment: int8 (0 retail, 1 institutional, 2 market_maker);
    account_collateral_quote: dict account_id -> cross wallet balance (quote);
    source: where the book came from (file name), used in messages;
    account_names: the distinct text account ids, sorted (empty when the ids are integers).

    Examples
    --------
    >>> import polars as pl
    >>> df = pl.DataFrame({
    ...     "venue": ["binance_usdm"] * 2, "symbol": ["BTCUSDT"] * 2,
    ...     "side": ["long", "short"], "size_base": [0.85, 2.0],
    ...     "entry_price": [60_000.0, 120_000.0], "margin_quote": [2_550.0, 12_000.0],
    ... })
    >>> book = PositionBook.from_frame(df)
    >>> len(book), book.symbols
    (2, ('BTCUSDT',))
    >>> round(float(book.liquidation_price[0]), 2)   # Binance's own FAQ example
    57228.92
    >>> book.to_polars().columns[:4]
    ['account_id', 'venue', 'symbol', 'side']

    Text account ids (ccxt, Hyperliquid addresses) are kept:

    >>> named = PositionBook.from_frame(df.with_columns(account_id=pl.Series(["0xabc123", "alice"])))
    >>> named.account_names, named.account_id.tolist(), named.account_ids().to_list()
    (('0xabc123', 'alice'), [0, 1], ['0xabc123', 'alice'])
    """

    account_id: np.ndarray
    venue_code: np.ndarray
    symbol_code: np.ndarray
    venues: tuple[str, ...]
    symbols: tuple[str, ...]
    side: np.ndarray
    size_base: np.ndarray
    entry_price: np.ndarray
    margin_mode: np.ndarray
    margin_quote: np.ndarray
    leverage: np.ndarray
    liquidation_price: np.ndarray
    bankruptcy_price: np.ndarray
    segment: np.ndarray
    account_collateral_quote: dict[int, float] = field(default_factory=dict)
    source: str = "<book>"
    account_names: tuple[str, ...] = ()

    _ARRAYS: ClassVar[tuple[str, ...]] = (
        "account_id",
        "venue_code",
        "symbol_code",
        "side",
        "size_base",
        "entry_price",
        "margin_mode",
        "margin_quote",
        "leverage",
        "liquidation_price",
        "bankruptcy_price",
        "segment",
    )

    def __post_init__(self) -> None:
        n = len(self.size_base)
        for name in self._ARRAYS:
            arr = self.__dict__["_account_id"] if name == "account_id" else getattr(self, name)
            if len(arr) != n:
                raise InputError(f"{self.source}: array {name} has {len(arr)} rows, expected {n}")
        if not isinstance(self.__dict__["_account_id"], _TextAccounts) and self.account_names and n:
            lo, hi = int(self.account_id.min()), int(self.account_id.max())
            if lo < 0 or hi >= len(self.account_names):
                raise InputError(
                    f"{self.source}: account_id codes span {lo}..{hi}, expected 0.."
                    f"{len(self.account_names) - 1} (indexes into account_names)"
                )

    def __len__(self) -> int:
        return len(self.size_base)

    def __repr__(self) -> str:
        return (
            f"PositionBook(n={len(self)}, venues={self.venues}, symbols={self.symbols}, "
            f"source={self.source!r})"
        )

    # ------------------------------------------------------------------ derived views
    def account_ids(self, account_id: np.ndarray | None = None) -> pl.Series:
        """The user's account ids of ``account_id`` codes (default: every row), as a polars
        Series named ``account_id``: text when the book's ids are text, else Int64."""
        pending = self.__dict__["_account_id"]
        if account_id is None and isinstance(pending, _TextAccounts):
            return pending.text.alias("account_id")  # the ids themselves: nothing to encode
        codes = self.account_id if account_id is None else account_id
        return account_labels(codes, self.account_names)

    def account_label(self, account_id: int) -> str | int:
        """The user's id of one account (its text id, or the integer itself)."""
        return self.account_names[int(account_id)] if self.account_names else int(account_id)

    @property
    def notional_entry_quote(self) -> np.ndarray:
        """Entry notional ``size_base * entry_price`` (quote)."""
        return self.size_base * self.entry_price

    def venue_symbol_pairs(self) -> list[tuple[str, str]]:
        """Distinct (venue, symbol) pairs present, in code order."""
        if len(self) == 0:
            return []
        codes = np.unique(
            self.venue_code.astype(np.int64) * 65536 + self.symbol_code.astype(np.int64)
        )
        return [(self.venues[c // 65536], self.symbols[c % 65536]) for c in codes]

    def select(self, mask: np.ndarray) -> PositionBook:
        """Rows where ``mask`` is true (boolean mask or integer index), as a new book."""
        idx = np.asarray(mask)
        kw: dict[str, Any] = {name: getattr(self, name)[idx] for name in self._ARRAYS}
        coll: dict[int, float] = {}
        if self.account_collateral_quote:
            src = self.account_collateral_quote
            keys = np.fromiter(src.keys(), dtype=np.int64, count=len(src))
            vals = np.fromiter(src.values(), dtype=np.float64, count=len(src))
            keep = _isin_sorted(keys, kw["account_id"])
            coll = dict(zip(keys[keep].tolist(), vals[keep].tolist(), strict=True))
        return PositionBook(
            **kw,
            venues=self.venues,
            symbols=self.symbols,
            account_collateral_quote=coll,
            source=self.source,
            account_names=self.account_names,
        )

    def filter(self, venue: str | None = None, symbol: str | None = None) -> PositionBook:
        """Positions on ``venue`` and/or ``symbol`` (venue aliases and symbol spellings accepted).

        Raises InputError naming what the book holds when nothing matches.
        """
        mask = np.ones(len(self), dtype=bool)
        if venue is not None:
            from liqcascade.venues import normalize_venue

            v = normalize_venue(venue)
            codes = [i for i, name in enumerate(self.venues) if name == v]
            mask &= np.isin(self.venue_code, codes, kind="table") if codes else False
            if not mask.any():
                raise InputError(
                    f"{self.source}: no positions on venue {venue!r}; the book holds {list(self.venues)}"
                )
        if symbol is not None:
            want = _symbol_spellings(symbol)
            codes = [i for i, name in enumerate(self.symbols) if _squash(name) in want]
            mask &= np.isin(self.symbol_code, codes, kind="table") if codes else False
            if not mask.any():
                raise InputError(
                    f"{self.source}: no positions in symbol {symbol!r}"
                    + (f" on venue {venue!r}" if venue else "")
                    + f"; the book holds {self.venue_symbol_pairs()}"
                )
        return self.select(mask)

    def to_polars(self) -> pl.DataFrame:
        """The book as a polars DataFrame (names for codes; one row per position)."""
        coll = _collateral_per_row(self.account_collateral_quote, self.account_id)
        coll[self.margin_mode == ISOLATED] = math.nan
        return pl.DataFrame(
            {
                "account_id": self.account_ids(),
                "venue": _code_text(self.venues, self.venue_code),
                "symbol": _code_text(self.symbols, self.symbol_code),
                "side": self.side,
                "size_base": self.size_base,
                "entry_price": self.entry_price,
                "margin_mode": _code_text(MARGIN_MODES, self.margin_mode),
                "margin_quote": self.margin_quote,
                "leverage": self.leverage,
                "liquidation_price": self.liquidation_price,
                "bankruptcy_price": self.bankruptcy_price,
                "segment": _code_text(SEGMENTS, self.segment),
                "account_collateral_quote": coll,
            }
        )

    # ------------------------------------------------------------------ loaders
    @classmethod
    def from_csv(cls, path: str | Path, **options: Unpack[FileOptions]) -> PositionBook:
        """Load a CSV file (columns in :mod:`liqcascade.book`). Every cell is read as text and
        parsed field by field, so a bad value is reported by its row and column."""
        return cls._from_path(path, "CSV", options)

    @classmethod
    def from_parquet(cls, path: str | Path, **options: Unpack[FileOptions]) -> PositionBook:
        """Load a Parquet file (columns in :mod:`liqcascade.book`)."""
        return cls._from_path(path, "Parquet", options)

    @classmethod
    def from_ipc(cls, path: str | Path, **options: Unpack[FileOptions]) -> PositionBook:
        """Load an Arrow IPC (Feather v2) file (columns in :mod:`liqcascade.book`)."""
        return cls._from_path(path, "Arrow IPC", options)

    @classmethod
    def from_file(cls, path: str | Path, **options: Unpack[FileOptions]) -> PositionBook:
        """CSV, Parquet or Arrow IPC, by extension: ``.parquet``/``.pq`` is Parquet,
        ``.arrow``/``.feather``/``.ipc`` Arrow IPC, anything else CSV.

        Parquet and Arrow are read column by column and checked with vectorised operations: a
        million positions load in well under a second, faster than the same CSV
        (``benchmarks/bench_ladder_process.py`` prints the figures).
        """
        return cls._from_path(path, _file_format(path), options)

    @classmethod
    def _from_path(cls, path: str | Path, fmt: str, options: FileOptions) -> PositionBook:
        p, df = _read_positions_file(path, fmt)
        return cls.from_frame(df, source=p.name, **options)

    @classmethod
    def from_frame(
        cls,
        df: Any,
        *,
        venue: str | None = None,
        symbol: str | None = None,
        source: str = "<frame>",
        rules: RulesArg = None,
    ) -> PositionBook:
        """Build a book from a polars or pandas DataFrame or a pyarrow Table (columns in
        :mod:`liqcascade.book`).

        ``venue`` / ``symbol`` fill those columns when absent. ``rules`` overrides the shipped
        venue tables: one ``VenueRules`` for every row, or a mapping ``(venue, symbol) ->
        VenueRules`` (e.g. from ``liqcascade.venues.load_tier_file``); pairs not in the mapping
        use ``load_venue``. Every field is validated; the first bad value raises InputError (or
        RuleError for venue limits) naming ``source``, the 1-based row and the field.
        """
        from liqcascade.book.build import _build

        df = _as_polars(df, source)
        return _build(df, venue=venue, symbol=symbol, source=source, rules=rules)

    @classmethod
    def from_ccxt(
        cls,
        positions: Iterable[Mapping[str, Any]],
        *,
        venue: str,
        account_id: int | str = 0,
        account_collateral_quote: float | None = None,
        segment: str = "retail",
        source: str = "ccxt",
        rules: RulesArg = None,
    ) -> PositionBook:
        """Build a book from ccxt unified position dicts (``exchange.fetch_positions()``).

        Fields read: ``symbol``, ``side``, ``contracts``, ``contractSize`` (default 1; size_base =
        contracts * contractSize), ``entryPrice``, ``markPrice``, ``marginMode``, ``leverage``,
        ``collateral`` / ``initialMargin`` (isolated margin), ``liquidationPrice`` (used when
        present). Cross positions use ``account_collateral_quote`` as the wallet balance; when it
        is not given, the sum of the cross positions' ``collateral`` (else ``initialMargin``) is
        used and a warning is logged. Rows with zero contracts are skipped. ``account_id`` is the
        account's id (text such as ``"alice"`` or ``"0xabc123"``, or an integer).
        """
        from liqcascade.book.build import _build

        df = _ccxt_frame(
            positions,
            venue=venue,
            account_id=account_id,
            account_collateral_quote=account_collateral_quote,
            segment=segment,
            source=source,
        )
        return _build(df, venue=None, symbol=None, source=source, rules=rules)

    @classmethod
    def concat(cls, books: Sequence[PositionBook]) -> PositionBook:
        """Stack books (venue/symbol codes are re-mapped; account collateral merged)."""
        from liqcascade.book.build import _build

        frames = [b.to_polars() for b in books]
        if not frames:
            raise InputError("concat: no books given")
        if any(b.account_names for b in books):  # text ids: stack every book's ids as text
            frames = [f.with_columns(pl.col("account_id").cast(pl.Utf8)) for f in frames]
        df = pl.concat(frames, how="vertical")
        return _build(df, venue=None, symbol=None, source="+".join(b.source for b in books))


def _get_account_id(self: PositionBook) -> np.ndarray:
    acc = self.__dict__["_account_id"]
    if isinstance(acc, _TextAccounts):
        acc, self.__dict__["_account_names"] = acc.encode()
        self.__dict__["_account_id"] = acc
    return acc


def _set_account_id(self: PositionBook, value: Any) -> None:
    self.__dict__["_account_id"] = value


def _get_account_names(self: PositionBook) -> tuple[str, ...]:
    _get_account_id(self)  # text ids are encoded on first use
    return self.__dict__["_account_names"]


def _set_account_names(self: PositionBook, value: tuple[str, ...]) -> None:
    self.__dict__["_account_names"] = tuple(value)


# account ids stay fields of the dataclass (constructor, replace) but are read through properties,
# so that text ids are encoded only when something uses them (see _TextAccounts)
PositionBook.account_id = property(_get_account_id, _set_account_id)  # type: ignore[assignment]
PositionBook.account_names = property(_get_account_names, _set_account_names)  # type: ignore[assignment]


def _squash(s: str) -> str:
    return "".join(ch for ch in s.upper() if ch.isalnum())


def _symbol_spellings(symbol: str) -> set[str]:
    """Squashed spellings a symbol filter matches: itself; for ccxt's BASE/QUOTE:SETTLE also
    BASEQUOTE, BASE-QUOTE-SWAP (OKX) and BASE (Hyperliquid)."""
    out = {_squash(symbol)}
    if "/" in symbol:
        base, rest = symbol.upper().split("/", 1)
        quote = rest.split(":")[0]
        out |= {_squash(base + quote), _squash(base + quote) + "SWAP", _squash(base)}
    return out
