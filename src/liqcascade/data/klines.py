"""The strict reader of Binance USDⓈ-M 1-minute kline files, and the :class:`Tape` it returns.

A :class:`Tape` is a run of contiguous 1-minute bars (no gap, no duplicate, in time order) with the
prices, the base-asset volume and the taker-buy base volume as numpy arrays. :func:`read_klines`
reads one Binance kline CSV (the 12-column layout of data.binance.vision, with or without the
header line; a ``.zip`` holding one CSV is accepted too) and refuses anything else with a
:class:`~liqcascade.errors.DataError` naming the file, the 1-based line, the field and what was
expected. The bulk parse is one polars ``read_csv``; the checks are vectorised and the offending
line is only located once a check has failed.

Epoch columns may be milliseconds (13 digits) or microseconds (16 digits; Binance spot files
switched to µs in 2025); µs are floored to ms, so a µs ``close_time`` of ``open + 59 999 999``
becomes ``open + 59 999`` ms.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from liqcascade.data.binance import name_parts
from liqcascade.data.formats import epoch_unit
from liqcascade.errors import DataError, InputError
from liqcascade.timeutil import ms_to_iso

#: The Binance kline layout, in file order.
KLINE_COLUMNS: tuple[str, ...] = (
    "open_time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "close_time",
    "quote_volume",
    "count",
    "taker_buy_volume",
    "taker_buy_quote_volume",
    "ignore",
)
BAR_MS = 60_000
#: close_time - open_time of a 1-minute bar.
CLOSE_OFFSET_MS = BAR_MS - 1
#: Columns a strict 1m kline file must have (a headerless file needs the first 11 columns).
_REQUIRED = tuple(
    c
    for c in KLINE_COLUMNS
    if c not in ("quote_volume", "count", "taker_buy_quote_volume", "ignore")
)
_MIN_HEADERLESS_COLUMNS = 11
_PRICES = ("open", "high", "low", "close")
_VOLUMES = ("volume", "taker_buy_volume")
_TAKER_MSG = "the taker-buy volume column (taker_buy_volume, Binance column 10) is required"
#: Column names accepted by :func:`tape_from_frame`, mapped to the Binance names.
_ALIASES = {"volume_base": "volume", "taker_buy_base": "taker_buy_volume", "open_ms": "open_time"}


# --------------------------------------------------------------------------------------------
# the tape
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Tape:
    """Contiguous 1-minute bars. Arrays are float64 except open_ms (int64, epoch ms UTC).

    ``source`` is the file path, ``store:<symbol>`` or a join of both (``a + b``); ``symbol``
    comes from the file name (``BTCUSDT-1m-2025-10-10.csv`` -> ``BTCUSDT``) or is None;
    ``first_line`` is the 1-based line (file) or row (frame, store) of bar 0 in the first
    source, for error messages: 2 below a header, 1 in a headerless file. Volumes are in the base
    asset (BTC for BTCUSDT).
    """

    source: str
    symbol: str | None
    open_ms: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume_base: np.ndarray
    taker_buy_base: np.ndarray
    first_line: int = 2

    def __post_init__(self) -> None:
        n = len(self.open_ms)
        for name in ("open", "high", "low", "close", "volume_base", "taker_buy_base"):
            if len(getattr(self, name)) != n:
                raise InputError(
                    f"Tape {self.source}: {name} has {len(getattr(self, name))} values, "
                    f"open_ms has {n}; expected equal lengths"
                )

    def __len__(self) -> int:
        return len(self.open_ms)

    @property
    def net_flow_base(self) -> np.ndarray:
        """Taker buy minus taker sell volume per bar (base asset): ``2 * taker_buy - volume``."""
        return 2.0 * self.taker_buy_base - self.volume_base

    def slice(self, i: int, j: int) -> Tape:
        """Bars ``i .. j-1`` (Python slice semantics, negative indices allowed) as a new Tape."""
        start, stop, _ = slice(i, j).indices(len(self))
        stop = max(stop, start)
        s = slice(start, stop)
        return Tape(
            source=self.source,
            symbol=self.symbol,
            open_ms=self.open_ms[s],
            open=self.open[s],
            high=self.high[s],
            low=self.low[s],
            close=self.close[s],
            volume_base=self.volume_base[s],
            taker_buy_base=self.taker_buy_base[s],
            first_line=self.first_line + start,
        )

    def iso(self, i: int) -> str:
        """ISO-8601 UTC open time of bar ``i``, e.g. ``2025-10-10T21:20:00Z``."""
        return ms_to_iso(int(self.open_ms[i]))

    def to_polars(self) -> pl.DataFrame:
        """The bars as a frame with Binance column names (``open_time``/``close_time`` in epoch ms),
        so ``tape_from_frame(tape.to_polars(), ...)`` gives the same tape back."""
        return pl.DataFrame(
            {
                "open_time": self.open_ms.astype(np.int64),
                "open": self.open,
                "high": self.high,
                "low": self.low,
                "close": self.close,
                "volume": self.volume_base,
                "close_time": self.open_ms.astype(np.int64) + CLOSE_OFFSET_MS,
                "taker_buy_volume": self.taker_buy_base,
            }
        )


# --------------------------------------------------------------------------------------------
# validation shared by files, frames and the store
# --------------------------------------------------------------------------------------------
class _Where:
    """How to name row ``k`` of the parsed data in a message: ``<source>: line N`` or ``row N``."""

    def __init__(self, source: str, first: int, word: str) -> None:
        self.source, self.first, self.word = source, first, word

    def __call__(self, k: int, field: str | None = None) -> str:
        f = f", field {field}" if field else ""
        return f"{self.source}: {self.word} {self.first + k}{f}"


def _first(mask: np.ndarray) -> int | None:
    idx = np.flatnonzero(mask)
    return int(idx[0]) if idx.size else None


def _normalise_epoch(values: np.ndarray, field: str, where: _Where) -> np.ndarray:
    """Epoch ms or µs (unit of the first row; every row must agree) -> int64 epoch ms."""
    try:
        unit = epoch_unit(float(values[0]))
    except ValueError:
        unit = "?"
    if unit not in ("ms", "us"):
        raise DataError(
            f"{where(0, field)}: {int(values[0])} is not an epoch time in milliseconds (13 digits) "
            "or microseconds (16 digits)"
        )
    lo, hi = (1e11, 1e14) if unit == "ms" else (1e14, 1e17)
    k = _first((values < lo) | (values >= hi))
    if k is not None:
        raise DataError(
            f"{where(k, field)}: {int(values[k])} is not in {unit} like the first row; "
            f"expected every {field} in the same unit"
        )
    return values // 1000 if unit == "us" else values


def _check_bars(cols: Mapping[str, np.ndarray], where: _Where) -> None:
    """Raise a DataError for the earliest row breaking a 1m-bar rule.

    ``cols`` holds int64 ``open_time`` (ms), optional int64 ``close_time`` (ms) and float64
    prices and volumes, all without missing values.
    """
    t = cols["open_time"]
    n = len(t)
    problems: list[tuple[int, str]] = []  # (row, message), earliest row wins

    def add(k: int | None, msg_of_k: object) -> None:
        if k is not None:
            problems.append((k, msg_of_k(k)))  # type: ignore[operator]

    for c in (*_PRICES, *_VOLUMES):
        v = cols[c]
        add(
            _first(~np.isfinite(v)),
            lambda k, c=c, v=v: f"{where(k, c)}: {float(v[k])!r} is not a finite number",
        )
    for c in _PRICES:
        v = cols[c]
        add(
            _first(np.isfinite(v) & ~(v > 0)),
            lambda k, c=c, v=v: f"{where(k, c)}: price {float(v[k])!r}; expected a price > 0",
        )
    for c in _VOLUMES:
        v = cols[c]
        add(
            _first(np.isfinite(v) & (v < 0)),
            lambda k, c=c, v=v: f"{where(k, c)}: volume {float(v[k])!r}; expected a volume >= 0",
        )
    o, h, lo, c_ = cols["open"], cols["high"], cols["low"], cols["close"]
    add(
        _first(lo > np.minimum(o, c_)),
        lambda k: (
            f"{where(k, 'low')}: low {float(lo[k])!r} is above min(open, close) = "
            f"{float(min(o[k], c_[k]))!r}; expected low <= open and low <= close"
        ),
    )
    add(
        _first(h < np.maximum(o, c_)),
        lambda k: (
            f"{where(k, 'high')}: high {float(h[k])!r} is below max(open, close) = "
            f"{float(max(o[k], c_[k]))!r}; expected high >= open and high >= close"
        ),
    )
    vol, tb = cols["volume"], cols["taker_buy_volume"]
    add(
        _first(tb > vol),
        lambda k: (
            f"{where(k, 'taker_buy_volume')}: taker-buy volume {float(tb[k])!r} exceeds the volume "
            f"{float(vol[k])!r}; expected taker_buy_volume <= volume"
        ),
    )
    ct = cols.get("close_time")
    if ct is not None:
        add(
            _first(ct - t != CLOSE_OFFSET_MS),
            lambda k: (
                f"{where(k, 'close_time')}: close_time - open_time = {int(ct[k] - t[k])} ms; "
                f"expected 1-minute bars (1m): close_time = open_time + {CLOSE_OFFSET_MS}"
            ),
        )
    if n >= 2:
        step = np.diff(t)
        if step[0] != BAR_MS and step[0] > 0:
            add(
                1,
                lambda k: (
                    f"{where(k, 'open_time')}: the first step is {int(step[0])} ms; "
                    f"expected 1-minute bars (1m), open_time = previous + {BAR_MS} ms"
                ),
            )
        else:

            def step_msg(k: int) -> str:
                d = int(step[k - 1])
                kind = (
                    "a duplicate of the previous bar"
                    if d == 0
                    else "before the previous bar (disorder)"
                    if d < 0
                    else f"a gap of {d / BAR_MS:g} minutes"
                )
                return (
                    f"{where(k, 'open_time')}: {int(t[k])} ({ms_to_iso(int(t[k]))}) is {kind}; "
                    f"expected open_time = previous + {BAR_MS} ms = {int(t[k - 1]) + BAR_MS} "
                    f"({ms_to_iso(int(t[k - 1]) + BAR_MS)})"
                )

            k = _first(step != BAR_MS)
            add(None if k is None else k + 1, step_msg)
    if problems:
        problems.sort(key=lambda p: p[0])
        raise DataError(problems[0][1])


# --------------------------------------------------------------------------------------------
# files
# --------------------------------------------------------------------------------------------
def _read_bytes(p: Path) -> bytes:
    if not p.is_file():
        raise DataError(f"{p}: kline file not found")
    if p.suffix.lower() == ".zip":
        try:
            with zipfile.ZipFile(p) as zf:
                names = [n for n in zf.namelist() if n.lower().endswith(".csv")]
                if len(names) != 1:
                    raise DataError(f"{p}: expected one .csv inside the zip, found {names}")
                return zf.read(names[0])
        except zipfile.BadZipFile as exc:
            raise DataError(f"{p}: not a readable zip file ({exc})") from None
    return p.read_bytes()


def split_kline_text(raw: bytes, source: str) -> tuple[list[str] | None, bytes]:
    """Split a kline CSV into (header names or None, data bytes).

    The file is headerless when its first field is an integer (Binance files sometimes lack the
    header). A UTF-8 byte-order mark and trailing blank lines are dropped. Header names are
    stripped and lower-cased.
    """
    text = raw.removeprefix(b"\xef\xbb\xbf").rstrip(b"\r\n\t ")
    first, _, rest = text.partition(b"\n")
    field0 = first.split(b",", 1)[0].strip()
    if field0.lstrip(b"-").isdigit():
        return None, text
    names = [f.strip().decode("utf-8", "replace").lower() for f in first.rstrip(b"\r").split(b",")]
    return names, rest


def parse_kline_text(raw: bytes, source: str) -> tuple[pl.DataFrame, int]:
    """Bulk-parse kline CSV bytes into an all-string frame named with Binance column names.

    Returns ``(frame, first_line)``: ``first_line`` is the 1-based line of frame row 0 (2 below a
    header, 1 without). Headerless files get the Binance names for as many columns as they have.
    Blank lines become all-null rows, so frame row ``k`` is always line ``first_line + k``. Only
    the CSV structure is checked here (ragged lines); types and values are the caller's job.
    """
    header, body = split_kline_text(raw, source)
    first_line = 1 if header is None else 2
    if not body.strip():
        raise DataError(
            f"{source}: empty file: no kline rows"
            f"{' below the header' if header is not None else ''}; expected Binance 1m klines "
            f"({', '.join(KLINE_COLUMNS)})"
        )
    try:
        df = pl.read_csv(io.BytesIO(body), has_header=False, infer_schema_length=0)
    except pl.exceptions.PolarsError as exc:
        raise _locate_structure_error(body, source, first_line, header, exc) from None
    if header is None:
        names = list(KLINE_COLUMNS[: df.width]) + [
            f"column_{i + 1}" for i in range(len(KLINE_COLUMNS), df.width)
        ]
    else:
        if df.width > len(header):
            raise _locate_structure_error(body, source, first_line, header, None)
        names = header[: df.width]
    return df.rename(dict(zip(df.columns, names, strict=True))), first_line


def _locate_structure_error(
    body: bytes, source: str, first_line: int, header: list[str] | None, exc: Exception | None
) -> DataError:
    """Find the first line whose number of fields differs from the header (or the first line)."""
    lines = body.split(b"\n")
    expected = len(header) if header is not None else lines[0].count(b",") + 1
    for k, line in enumerate(lines):
        got = line.count(b",") + 1
        if line.strip() and got != expected:
            return DataError(
                f"{source}: line {first_line + k}: {got} fields; expected {expected} "
                f"like the {'header' if header is not None else 'first line'}"
            )
    return DataError(f"{source}: not a Binance kline CSV ({exc})")


def epoch_ms_expr(name: str) -> pl.Expr:
    """Lenient per-row µs -> ms for an integer epoch column: values >= 1e14 are divided by 1000.

    For the loose readers; :func:`read_klines` instead requires one unit per file.
    """
    c = pl.col(name)
    return pl.when(c >= 10**14).then(c // 1000).otherwise(c).alias(name)


def _typed_columns(df: pl.DataFrame, where: _Where) -> dict[str, np.ndarray]:
    """Cast the required string columns to numbers; name the first missing or non-numeric cell."""
    out: dict[str, np.ndarray] = {}
    for c in _REQUIRED:
        s = df[c]
        dtype = pl.Int64 if c in ("open_time", "close_time") else pl.Float64
        typed = s.cast(dtype, strict=False)
        bad = (typed.is_null()).to_numpy()
        k = _first(bad)
        if k is not None:
            raw = s[k]
            if raw is None or not str(raw).strip():
                raise DataError(f"{where(k, c)}: value missing; expected a number")
            kind = "an integer epoch time" if dtype == pl.Int64 else "a number"
            raise DataError(f"{where(k, c)}: {raw!r} is not numeric; expected {kind}")
        out[c] = typed.to_numpy()
    return out


def read_klines(path: str | Path) -> Tape:
    """Read one Binance USDⓈ-M 1-minute kline file strictly into a :class:`Tape`.

    The file is the Binance kline layout (``open_time, open, high, low, close, volume,
    close_time, quote_volume, count, taker_buy_volume, taker_buy_quote_volume, ignore``), with
    or without its header line; a ``.zip`` holding one such CSV is read too. Refused with a
    :class:`DataError` naming the file, line and field: an empty file; a missing taker-buy
    volume column (fewer than 11 columns without a header); missing, non-numeric, NaN or
    infinite values; prices <= 0 or negative volumes; ``low > min(open, close)``,
    ``high < max(open, close)``, ``taker_buy_volume > volume``; another interval than 1m
    (``close_time - open_time != 59 999`` or a first step other than 60 000 ms); a gap, a
    duplicate or disorder in ``open_time`` (each must be the previous + 60 000 ms).
    """
    p = Path(path)
    source = str(p)
    df, first_line = parse_kline_text(_read_bytes(p), source)
    where = _Where(source, first_line, "line")
    if first_line == 1:
        if df.width < _MIN_HEADERLESS_COLUMNS:
            raise DataError(
                f"{source}: line 1: {df.width} columns; {_TAKER_MSG}: expected at least "
                f"{_MIN_HEADERLESS_COLUMNS} columns of the Binance kline layout "
                f"({', '.join(KLINE_COLUMNS)})"
            )
    else:
        missing = [c for c in _REQUIRED if c not in df.columns]
        if "taker_buy_volume" in missing:
            raise DataError(
                f"{source}: line 1 (header): no taker_buy_volume column; {_TAKER_MSG}; "
                f"expected the Binance kline header ({', '.join(KLINE_COLUMNS)})"
            )
        if missing:
            raise DataError(
                f"{source}: line 1 (header): columns {missing} missing; expected the Binance "
                f"kline header ({', '.join(KLINE_COLUMNS)})"
            )
    cols = _typed_columns(df, where)
    return _build(cols, source, name_parts(p)[0], first_line, where)


def _build(
    cols: dict[str, np.ndarray], source: str, symbol: str | None, first_line: int, where: _Where
) -> Tape:
    cols["open_time"] = _normalise_epoch(cols["open_time"].astype(np.int64), "open_time", where)
    if "close_time" in cols:
        cols["close_time"] = _normalise_epoch(
            cols["close_time"].astype(np.int64), "close_time", where
        )
    for c in (*_PRICES, *_VOLUMES):
        cols[c] = np.asarray(cols[c], dtype=np.float64)
    _check_bars(cols, where)
    return Tape(
        source=source,
        symbol=symbol,
        open_ms=cols["open_time"],
        open=cols["open"],
        high=cols["high"],
        low=cols["low"],
        close=cols["close"],
        volume_base=cols["volume"],
        taker_buy_base=cols["taker_buy_volume"],
        first_line=first_line,
    )


# --------------------------------------------------------------------------------------------
# frames and the store
# --------------------------------------------------------------------------------------------
def tape_from_frame(df: pl.DataFrame, source: str, symbol: str | None = None) -> Tape:
    """A :class:`Tape` from a frame with Binance column names or the store's ``klines`` columns.

    Needs ``open_time`` (epoch ms or µs integers, or datetimes as the store returns them),
    ``open``, ``high``, ``low``, ``close``, ``volume`` and ``taker_buy_volume`` (``volume_base``
    / ``taker_buy_base`` / ``open_ms`` are accepted too); ``close_time`` is checked when present,
    and an ``interval`` column must say ``1m``. The rows must be sorted, contiguous 1m bars and
    pass the same checks as :func:`read_klines`; messages name the 1-based row. ``symbol``
    defaults to the frame's single ``symbol`` value, if it has one.
    """
    df = df.rename({a: b for a, b in _ALIASES.items() if a in df.columns and b not in df.columns})
    where = _Where(source, 1, "row")
    if df.height == 0:
        raise DataError(f"{source}: no kline rows; expected 1m bars")
    missing = [c for c in _REQUIRED if c != "close_time" and c not in df.columns]
    if "taker_buy_volume" in missing:
        raise DataError(f"{source}: no taker_buy_volume column; {_TAKER_MSG}")
    if missing:
        raise DataError(f"{source}: columns {missing} missing (have {df.columns})")
    if "interval" in df.columns:
        k = _first((df["interval"] != "1m").fill_null(True).to_numpy())
        if k is not None:
            raise DataError(
                f"{where(k, 'interval')}: {df['interval'][k]!r}; expected 1-minute bars (1m)"
            )
    if symbol is None and "symbol" in df.columns:
        syms = df["symbol"].drop_nulls().unique()
        symbol = str(syms[0]) if len(syms) == 1 else None
    cols: dict[str, np.ndarray] = {}
    for c in ("open_time", "close_time"):
        if c not in df.columns:
            continue
        s = df[c]
        if s.dtype.is_temporal():
            s = s.dt.epoch("ms")
        elif not s.dtype.is_integer():
            raise DataError(f"{source}: column {c} is {s.dtype}; expected epoch ms or datetimes")
        k = _first(s.is_null().to_numpy())
        if k is not None:
            raise DataError(f"{where(k, c)}: value missing; expected a time")
        cols[c] = s.cast(pl.Int64).to_numpy()
    for c in (*_PRICES, *_VOLUMES):
        s = df[c]
        if not s.dtype.is_numeric():
            raise DataError(f"{source}: column {c} is {s.dtype}; expected numbers")
        k = _first(s.is_null().to_numpy())
        if k is not None:
            what = _TAKER_MSG if c == "taker_buy_volume" else "expected a number"
            raise DataError(f"{where(k, c)}: value missing; {what}")
        cols[c] = s.cast(pl.Float64).to_numpy()
    return _build(cols, source, symbol, 1, where)


def _contiguous_tail_start(open_ms: np.ndarray) -> int:
    """Index where the last run of bars exactly one minute apart starts."""
    if len(open_ms) < 2:
        return 0
    breaks = np.flatnonzero(np.diff(open_ms) != BAR_MS)
    return int(breaks[-1]) + 1 if breaks.size else 0


def history_from_store(
    db: str | Path, symbol: str, before_ms: int, minutes: int, venue: str = "binance_usdm"
) -> Tape | None:
    """The stored 1m trade bars before ``before_ms``: at most ``minutes`` of them, contiguous.

    Reads the store's ``klines`` table (``kind='trade'``, ``interval='1m'``) over
    ``[before_ms - minutes * 60 000, before_ms)``, so no row at or after ``before_ms`` is ever
    returned, and keeps the last contiguous run (after the latest gap). None when nothing is
    stored in that range. The run need not end at ``before_ms - 60 000``;
    :func:`join_history` checks adjacency. Raises DataError when the store cannot be opened
    or the stored bars break the 1m rules.
    """
    from liqcascade.data.store import Store

    if minutes <= 0:
        return None
    before = int(before_ms)
    with Store(db, read_only=True) as st:
        df = st.klines(
            venue, symbol, start=before - minutes * BAR_MS, end=before, interval="1m", kind="trade"
        )
    if df.height == 0:
        return None
    t = df["open_time"].dt.epoch("ms").to_numpy()
    df = df.slice(_contiguous_tail_start(t))
    tape = tape_from_frame(df, f"store:{symbol}", symbol)
    assert int(tape.open_ms[-1]) < before  # the query is half-open
    return tape


def _concat(a: Tape, b: Tape) -> Tape:
    return Tape(
        source=f"{a.source} + {b.source}",
        symbol=b.symbol if b.symbol is not None else a.symbol,
        open_ms=np.concatenate([a.open_ms, b.open_ms]),
        open=np.concatenate([a.open, b.open]),
        high=np.concatenate([a.high, b.high]),
        low=np.concatenate([a.low, b.low]),
        close=np.concatenate([a.close, b.close]),
        volume_base=np.concatenate([a.volume_base, b.volume_base]),
        taker_buy_base=np.concatenate([a.taker_buy_base, b.taker_buy_base]),
        first_line=a.first_line,
    )


def join_history(history: Tape | None, tape: Tape) -> tuple[Tape, int]:
    """Prepend ``history`` to ``tape`` where it is adjacent; returns ``(joined, k)``.

    ``k`` is the index of ``tape``'s first bar in ``joined``. Only history bars opening before
    ``tape`` starts are used, and of those only the last contiguous run; it is prepended when it
    ends exactly one minute before ``tape``'s first bar. Otherwise (no history, a gap between
    them) the result is ``(tape, 0)``.
    """
    if history is None or len(history) == 0 or len(tape) == 0:
        return tape, 0
    start = int(tape.open_ms[0])
    end = int(np.searchsorted(history.open_ms, start, side="left"))
    if end == 0 or int(history.open_ms[end - 1]) != start - BAR_MS:
        return tape, 0
    h = history.slice(0, end)
    h = h.slice(_contiguous_tail_start(h.open_ms), len(h))
    return _concat(h, tape), len(h)


# --------------------------------------------------------------------------------------------
# falls
# --------------------------------------------------------------------------------------------
def largest_fall(tape: Tape, minutes: int = 60) -> tuple[int, int]:
    """The largest fall: over every bar i, from bar i's high to the lowest low of bars
    i..i+minutes-1 (truncated at the end); returns (i, j) with j the index of that lowest low;
    largest relative fall high_i/low_j. Ties: earliest.

    The fall of bar ``i`` is ``high[i] / min(low[i : i + minutes])``; ``i`` maximises it
    (earliest on ties) and ``j`` is the earliest bar of that window holding the minimum.
    """
    if not isinstance(minutes, (int, np.integer)) or isinstance(minutes, bool) or minutes < 1:
        raise InputError(f"largest_fall: minutes={minutes!r}; expected an integer >= 1")
    n = len(tape)
    if n == 0:
        raise InputError(f"largest_fall: {tape.source} holds no bars")
    w = min(int(minutes), n)
    padded = np.concatenate([tape.low, np.full(w - 1, np.inf)])
    windows = np.lib.stride_tricks.sliding_window_view(padded, w)
    off = np.argmin(windows, axis=1)
    j_of = np.arange(n) + off
    ratio = tape.high / tape.low[j_of]
    i = int(np.argmax(ratio))
    return i, int(j_of[i])
