"""PositionBook: who holds what, as a struct of numpy arrays, with loaders and validation.

A book row is one position: account, venue, symbol, side, size (base units), entry price, margin
mode (isolated or cross), isolated margin or leverage, and for cross positions the account's
collateral (wallet balance). Loaders: :meth:`PositionBook.from_csv`, :meth:`~PositionBook.from_parquet`,
:meth:`~PositionBook.from_frame` (polars or pandas) and :meth:`~PositionBook.from_ccxt` (ccxt's
unified position dicts).

Liquidation prices: a ``liquidation_price`` column is used as given (empty cells are computed);
otherwise they come from the venue's rules through :func:`liqcascade.margin.liquidation_price`
(isolated: margin = ``margin_quote``, or entry notional / leverage) and
:func:`liqcascade.margin.cross_liquidation_price` (cross: wallet = account collateral, the
account's other cross positions held at their mark with their maintenance margin and UPnL,
Binance FAQ formula, venues.md §1.3). ``NaN`` means the position has no positive liquidation
price (e.g. a 1x long) and is never liquidated.

Columns read by :meth:`PositionBook.from_frame` (names are case-insensitive; aliases in brackets):

=========================== ========================================================== ==========
column                      meaning                                                    default
=========================== ========================================================== ==========
account_id [account]        account id: text (alice, 0xabc123) or integer              row number
venue                       binance_usdm, hyperliquid, bybit_linear, okx_swap, ...     ``venue=``
symbol                      venue symbol (BTCUSDT, BTC, BTC-USDT-SWAP, BTC/USDT:USDT)  ``symbol=``
side                        long/short, buy/sell, +1/-1                                required
size_base [size]            position size in base units, > 0                           required
entry_price                 average entry price, quote per base, > 0                   required
margin_mode                 isolated / cross                                           isolated
margin_quote                isolated margin in quote (isolated rows)                   N/leverage
leverage                    initial leverage (> 0, at most the tier's cap)             N/margin
account_collateral_quote    cross wallet balance of the account (same on its rows)     required
                            [collateral_quote, wallet_balance_quote]                   for cross
mark_price                  mark used to value *other* cross positions                 entry
liquidation_price           used as given                                              computed
bankruptcy_price            used as given                                              computed
segment                     retail / institutional / market_maker (or 0/1/2)           retail
=========================== ========================================================== ==========

Account ids are kept as the user gave them. When every id is an integer (or integer text such as
``17``), ``account_id`` holds the integers. Otherwise every id is text: ``account_names`` holds
the distinct ids in sorted (byte) order and ``account_id`` the position of each row's id in it, so
sorting by ``account_id`` sorts by the user's id and ties between accounts break the same way
whatever the row order. :meth:`PositionBook.account_ids` and :meth:`~PositionBook.to_polars`
give the user's ids back.

Errors name the source, the 1-based data row (header excluded) and the field, e.g.
``positions.csv row 17: size_base must be > 0, got -3``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypedDict, Unpack

import numpy as np
import polars as pl

from liqcascade.errors import DataError, InputError, RuleError
from liqcascade.log import logger

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


@dataclass(eq=False)
class PositionBook:
    """Positions as a struct of numpy arrays (all of length ``n``).

    Attributes
    ----------
    account_id: int64: the account's integer id, or, when ``account_names`` is not empty, the
    index of its text id in ``account_names`` (sorted; see the module docstring);
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
        """Load a CSV file (columns in the module docstring). Every cell is read as text and
        parsed field by field, so a bad value is reported by its row and column."""
        return cls._from_path(path, "CSV", options)

    @classmethod
    def from_parquet(cls, path: str | Path, **options: Unpack[FileOptions]) -> PositionBook:
        """Load a Parquet file (columns in the module docstring)."""
        return cls._from_path(path, "Parquet", options)

    @classmethod
    def from_ipc(cls, path: str | Path, **options: Unpack[FileOptions]) -> PositionBook:
        """Load an Arrow IPC (Feather v2) file (columns in the module docstring)."""
        return cls._from_path(path, "Arrow IPC", options)

    @classmethod
    def from_file(cls, path: str | Path, **options: Unpack[FileOptions]) -> PositionBook:
        """CSV, Parquet or Arrow IPC, by extension: ``.parquet``/``.pq`` is Parquet,
        ``.arrow``/``.feather``/``.ipc`` Arrow IPC, anything else CSV.

        Parquet and Arrow are read column by column and checked with vectorised operations: a
        million positions load in well under a second, faster than the same CSV
        (``benchmarks/bench_ladder_process.py`` prints the figures).
        """
        suffix = Path(path).suffix.lower()
        if suffix in PARQUET_SUFFIXES:
            return cls._from_path(path, "Parquet", options)
        if suffix in IPC_SUFFIXES:
            return cls._from_path(path, "Arrow IPC", options)
        return cls._from_path(path, "CSV", options)

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
        """Build a book from a polars or pandas DataFrame or a pyarrow Table (columns in the
        module docstring).

        ``venue`` / ``symbol`` fill those columns when absent. ``rules`` overrides the shipped
        venue tables: one ``VenueRules`` for every row, or a mapping ``(venue, symbol) ->
        VenueRules`` (e.g. from ``liqcascade.venues.load_tier_file``); pairs not in the mapping
        use ``load_venue``. Every field is validated; the first bad value raises InputError (or
        RuleError for venue limits) naming ``source``, the 1-based row and the field.
        """
        if not isinstance(df, pl.DataFrame):
            try:
                df = (
                    pl.from_arrow(df)
                    if hasattr(df, "schema") and hasattr(df, "column")
                    else pl.from_pandas(df)
                )
            except Exception as exc:  # noqa: BLE001 - any non-frame input
                raise InputError(
                    f"{source}: expected a polars or pandas DataFrame, got {type(df).__name__}"
                ) from exc
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
        from liqcascade.venues import load_venue, normalize_venue

        v = normalize_venue(venue)
        rows: list[dict[str, Any]] = []
        cross_coll = 0.0
        for i, pos in enumerate(positions):
            where = f"{source} position {i + 1}"
            if not isinstance(pos, Mapping):
                raise InputError(
                    f"{where}: expected a ccxt position dict, got {type(pos).__name__}"
                )
            contracts = _field_num(pos, "contracts", where)
            if contracts == 0:
                continue
            csize = pos.get("contractSize")
            csize = 1.0 if csize is None else _field_num(pos, "contractSize", where)
            sym = pos.get("symbol")
            if not sym:
                raise InputError(f"{where}: field 'symbol' is missing")
            try:
                native = load_venue(v, str(sym)).symbol
            except (InputError, RuleError):
                native = str(sym)
            mode = str(pos.get("marginMode") or "isolated").lower()
            if mode not in MARGIN_MODES:
                raise InputError(
                    f"{where}: field 'marginMode' must be isolated or cross, got {mode!r}"
                )
            margin = pos.get("collateral")
            if margin is None:
                margin = pos.get("initialMargin")
            lev = pos.get("leverage")
            row: dict[str, Any] = {
                "account_id": account_id,
                "venue": v,
                "symbol": native,
                "side": pos.get("side"),
                "size_base": abs(contracts) * csize,
                "entry_price": pos.get("entryPrice"),
                "margin_mode": mode,
                "margin_quote": None if mode == "cross" or margin is None else float(margin),
                "leverage": None if lev is None else float(lev),
                "mark_price": pos.get("markPrice"),
                "liquidation_price": pos.get("liquidationPrice"),
                "segment": segment,
            }
            if mode == "cross" and margin is not None:
                cross_coll += float(margin)
            rows.append(row)
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
        schema = {
            "account_id": pl.Utf8 if isinstance(account_id, str) else pl.Int64,
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
        for r in rows:
            r.setdefault("account_collateral_quote", None)
            for k in ("entry_price", "mark_price", "liquidation_price"):
                if r[k] is not None:
                    r[k] = float(r[k])
        df = pl.DataFrame(rows, schema=schema)
        return _build(df, venue=None, symbol=None, source=source, rules=rules)

    @classmethod
    def concat(cls, books: Sequence[PositionBook]) -> PositionBook:
        """Stack books (venue/symbol codes are re-mapped; account collateral merged)."""
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


#: File name suffixes read as Parquet and as Arrow IPC (Feather v2) by ``from_file``.
PARQUET_SUFFIXES: tuple[str, ...] = (".parquet", ".pq")
IPC_SUFFIXES: tuple[str, ...] = (".arrow", ".feather", ".ipc")


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


def _code_text(names: Sequence[str], codes: np.ndarray) -> pl.Series:
    """Text column of integer ``codes`` into ``names``."""
    return pl.Series(np.array(names, dtype=object)[codes] if len(codes) else [], dtype=pl.Utf8)


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


def _field_num(pos: Mapping[str, Any], name: str, where: str) -> float:
    val = pos.get(name)
    try:
        out = float(val)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputError(f"{where}: field {name!r} must be a number, got {val!r}") from None
    if not math.isfinite(out):
        raise InputError(f"{where}: field {name!r} must be finite, got {val!r}")
    return out


# ---------------------------------------------------------------------- building and validation
def _fail_row(source: str, row: int, message: str, exc: type[Exception] = InputError) -> None:
    raise exc(f"{source} row {row + 1}: {message}")


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


def _first(mask: np.ndarray) -> int | None:
    return int(np.argmax(mask)) if mask.any() else None


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


#: Columns with at most this many distinct values are encoded by one comparison per value.
_FEW_VALUES = 32


def _first_code(codes: np.ndarray, wanted: Iterable[int]) -> int | None:
    """First row whose code is in ``wanted`` (None when there is none)."""
    w = list(wanted)
    if not w:
        return None
    return _first(codes == w[0]) if len(w) == 1 else _first(np.isin(codes, w))


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


def _rules_for(rules: RulesArg, venue: str, symbol: str) -> Any:
    """The rules of (venue, symbol): the override when given, else the shipped table."""
    from liqcascade.venues import VenueRules, load_venue

    if isinstance(rules, VenueRules):
        return rules
    if rules is not None and (venue, symbol) in rules:
        return rules[(venue, symbol)]
    return load_venue(venue, symbol)


def _build(
    df: pl.DataFrame,
    *,
    venue: str | None,
    symbol: str | None,
    source: str,
    rules: RulesArg = None,
) -> PositionBook:
    from liqcascade import margin
    from liqcascade.venues import normalize_venue

    rename = {}
    for c in df.columns:
        key = c.strip().lower()
        key = _ALIASES.get(key, key)
        rename[c] = key
    df = df.rename(rename)
    n = df.height
    cols = set(df.columns)
    for req in ("side", "size_base", "entry_price"):
        if req not in cols:
            raise InputError(
                f"{source}: missing column {req!r}; found {sorted(cols)}; required: side, size_base, entry_price "
                "(see liqcascade.book for all columns)"
            )
    for name, given in (("venue", venue), ("symbol", symbol)):
        if name not in cols:
            if given is None:
                raise InputError(f"{source}: missing column {name!r} (or pass {name}=...)")
            df = df.with_columns(pl.lit(given).alias(name))

    # venue names -> canonical (each distinct spelling once)
    vcodes, vclean = _encode(df, "venue")
    canon: list[str] = []
    for k, key in enumerate(vclean):
        try:
            canon.append(normalize_venue(key) if key else "")
        except InputError as exc:
            _fail_row(source, int(_first_code(vcodes, [k]) or 0), f"venue: {exc}")
    venue_code, venues = _names_codes(vcodes, canon, "venue", source)
    symbol_code, symbols = _names_codes(*_encode(df, "symbol"), "symbol", source)

    side = _lookup(
        df, "side", _SIDE_WORDS, None, source, "side must be long/short (or buy/sell, +1/-1)"
    )

    size = _num_col(df, "size_base", source, required=True)
    i = _first(~(size > 0) | ~np.isfinite(size))
    if i is not None:
        _fail_row(source, i, f"size_base must be > 0 and finite, got {size[i]:g}")
    entry = _num_col(df, "entry_price", source, required=True)
    i = _first(~(entry > 0) | ~np.isfinite(entry))
    if i is not None:
        _fail_row(source, i, f"entry_price must be > 0 and finite, got {entry[i]:g}")

    if "account_id" in cols:
        account, account_names = _accounts(df, source)
    else:
        account, account_names = np.arange(n, dtype=np.int64), ()

    mode = np.zeros(n, dtype=np.int8)
    if "margin_mode" in cols:
        mode = _lookup(
            df,
            "margin_mode",
            {"isolated": ISOLATED, "cross": CROSS},
            ISOLATED,
            source,
            "margin_mode must be isolated or cross",
        )
    iso = mode == ISOLATED
    cross = ~iso
    if isinstance(account, _TextAccounts) and cross.any():  # cross margin groups by account now
        account, account_names = account.encode()
    # account codes of cross rows (text ids still pending only when there are none)
    cross_acc = account if isinstance(account, np.ndarray) else np.zeros(n, dtype=np.int64)

    nan = np.full(n, np.nan)
    margin_q = (
        _num_col(df, "margin_quote", source, required=False)
        if "margin_quote" in cols
        else nan.copy()
    )
    lev = _num_col(df, "leverage", source, required=False) if "leverage" in cols else nan.copy()
    i = _first(~np.isnan(lev) & ~((lev > 0) & np.isfinite(lev)))
    if i is not None:
        _fail_row(source, i, f"leverage must be > 0 and finite, got {lev[i]:g}")
    i = _first(iso & ~np.isnan(margin_q) & ~((margin_q >= 0) & np.isfinite(margin_q)))
    if i is not None:
        _fail_row(source, i, f"margin_quote must be >= 0 and finite, got {margin_q[i]:g}")
    notional = size * entry
    i = _first(iso & np.isnan(margin_q) & np.isnan(lev))
    if i is not None:
        _fail_row(source, i, "isolated position needs margin_quote or leverage (both empty)")
    fill = iso & np.isnan(margin_q)
    margin_q[fill] = notional[fill] / lev[fill]
    fill = iso & np.isnan(lev) & (margin_q > 0)
    lev[fill] = notional[fill] / margin_q[fill]
    margin_q[cross] = np.nan

    # cross collateral: one value per account
    coll_col = (
        _num_col(df, "account_collateral_quote", source, required=False)
        if "account_collateral_quote" in cols
        else nan.copy()
    )
    collateral = _cross_collateral(cross_acc, coll_col, cross, source, account_names)

    mark = (
        _num_col(df, "mark_price", source, required=False) if "mark_price" in cols else nan.copy()
    )
    i = _first(~np.isnan(mark) & ~((mark > 0) & np.isfinite(mark)))
    if i is not None:
        _fail_row(source, i, f"mark_price must be > 0 and finite, got {mark[i]:g}")
    mark = np.where(np.isnan(mark), entry, mark)

    segment = np.zeros(n, dtype=np.int8)
    if "segment" in cols:
        words = {name: k for k, name in enumerate(SEGMENTS)} | {str(k): k for k in range(3)}
        segment = _lookup(
            df,
            "segment",
            words,
            0,
            source,
            "segment must be retail, institutional or market_maker",
        )

    # given prices are kept; empty ones are computed from the venue rules below
    liq, bkr = (
        _num_col(df, name, source, required=False) if name in cols else nan.copy()
        for name in ("liquidation_price", "bankruptcy_price")
    )
    for name, prices in (("liquidation_price", liq), ("bankruptcy_price", bkr)):
        i = _first(~np.isnan(prices) & ~(prices > 0))
        if i is not None:
            _fail_row(source, i, f"{name} must be > 0 (or empty), got {prices[i]:g}")
    given_liq, given_bkr = ~np.isnan(liq), ~np.isnan(bkr)

    # venue rules, per (venue, symbol) group
    eff_margin = margin_q.copy()
    if cross.any():
        eff_margin[cross] = _cross_effective_margin(
            cross_acc,
            venue_code,
            symbol_code,
            venues,
            symbols,
            side,
            size,
            entry,
            mark,
            cross,
            collateral,
            source,
            rules,
        )[cross]
    for vc in np.unique(venue_code):
        for sc in np.unique(symbol_code[venue_code == vc]):
            grp = np.flatnonzero((venue_code == vc) & (symbol_code == sc))
            try:
                vrules = _rules_for(rules, venues[vc], symbols[sc])
            except (InputError, RuleError) as exc:
                if given_liq[grp].all() and given_bkr[grp].all():
                    continue
                _fail_row(
                    source,
                    int(grp[0]),
                    f"venue/symbol {venues[vc]}/{symbols[sc]}: {exc}",
                    RuleError,
                )
            _check_leverage(vrules, grp, notional, lev, source)
            todo = grp[~given_liq[grp]]
            if len(todo):
                liq[todo] = margin.liquidation_price(
                    vrules, side[todo], size[todo], entry[todo], eff_margin[todo]
                )
            todo = grp[~given_bkr[grp]]
            if len(todo):
                bkr[todo] = margin.bankruptcy_price(
                    vrules, side[todo], size[todo], entry[todo], eff_margin[todo]
                )
    return PositionBook(
        account_id=account,  # type: ignore[arg-type]  # text ids: encoded on first use
        venue_code=venue_code,
        symbol_code=symbol_code,
        venues=venues,
        symbols=symbols,
        side=side,
        size_base=size,
        entry_price=entry,
        margin_mode=mode,
        margin_quote=margin_q,
        leverage=lev,
        liquidation_price=liq,
        bankruptcy_price=bkr,
        segment=segment,
        account_collateral_quote=collateral,
        source=source,
        account_names=account_names,
    )


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


def _check_leverage(
    rules: Any, grp: np.ndarray, notional: np.ndarray, lev: np.ndarray, source: str
) -> None:
    """Leverage must not exceed the venue's cap for the tier of the entry notional."""
    have = grp[~np.isnan(lev[grp])]
    if not len(have):
        return
    tier = np.asarray(rules.tiers.index(notional[have]))
    cap = np.asarray(rules.tiers.max_leverage)[tier]
    over = lev[have] > cap * (1 + 1e-12)
    i = _first(over)
    if i is not None:
        row = int(have[i])
        _fail_row(
            source,
            row,
            f"leverage {lev[row]:g} exceeds {rules.venue} {rules.symbol}'s cap of {cap[i]:g}x for an entry "
            f"notional of {notional[row]:,.2f} (tier {int(tier[i]) + 1})",
            RuleError,
        )


def _cross_effective_margin(
    account: np.ndarray,
    venue_code: np.ndarray,
    symbol_code: np.ndarray,
    venues: tuple[str, ...],
    symbols: tuple[str, ...],
    side: np.ndarray,
    size: np.ndarray,
    entry: np.ndarray,
    mark: np.ndarray,
    cross: np.ndarray,
    collateral: dict[int, float],
    source: str = "<book>",
    rules: RulesArg = None,
) -> np.ndarray:
    """``WB - TMM1 + UPNL1`` per cross position (Binance FAQ, venues.md §1.3).

    TMM1 and UPNL1 are the maintenance margin and unrealised PnL of the account's *other* cross
    positions at their mark prices, so the position's liquidation price is solved with every
    other position held fixed.
    """
    from liqcascade import margin

    n = len(size)
    mm = np.zeros(n)
    for vc in np.unique(venue_code[cross]):
        for sc in np.unique(symbol_code[cross & (venue_code == vc)]):
            grp = np.flatnonzero(cross & (venue_code == vc) & (symbol_code == sc))
            try:
                vrules = _rules_for(rules, venues[vc], symbols[sc])
            except (InputError, RuleError) as exc:
                _fail_row(
                    source,
                    int(grp[0]),
                    f"cross margin needs the rules of {venues[vc]}/{symbols[sc]}: {exc}",
                    RuleError,
                )
            mm[grp] = margin.maintenance_margin(vrules, size[grp] * mark[grp])
    upnl = side * size * (mark - entry)
    acc = account[cross]
    uniq, inv = np.unique(acc, return_inverse=True)
    tot_mm = np.bincount(inv, weights=mm[cross], minlength=len(uniq))
    tot_upnl = np.bincount(inv, weights=upnl[cross], minlength=len(uniq))
    wb = _collateral_per_row(collateral, uniq)
    out = np.full(n, np.nan)
    ci = np.flatnonzero(cross)
    out[ci] = wb[inv] - (tot_mm[inv] - mm[ci]) + (tot_upnl[inv] - upnl[ci])
    return out
