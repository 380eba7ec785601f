"""Format registry and detection: which reader takes a file, from its name and its content.

Two kinds of readers exist:

* **CSV specs** (:class:`CsvSpec`): large tabular files (Binance public data, Tardis trades). DuckDB's
  own ``read_csv`` reads them with explicit column names and types, so a 10M-row file goes in at
  millions of rows per second; a failure is then re-diagnosed in Python to name the exact line,
  column and expected type.
* **Python readers**: small JSON / JSON-lines payloads (Hyperliquid API and archives, ccxt unified
  structures, Binance leverage brackets) and generic analysis CSVs. They return polars frames.
"""

from __future__ import annotations

import gzip
import io
import json
import math
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from liqcascade.errors import DataError
from liqcascade.timeutil import parse_iso

#: Epoch integers: unit by magnitude (a 2009..2100 date is 1.2e9..4.1e9 s).
_UNIT_BOUNDS = (("s", 1e11), ("ms", 1e14), ("us", 1e17), ("ns", 1e20))
#: Multiplier turning an epoch in that unit into microseconds (ns divides).
UNIT_TO_US = {"s": 1_000_000, "ms": 1_000, "us": 1, "ns": None}
#: Plausible time range for market data (the Bitcoin genesis block .. 2100).
TIME_MIN = datetime(2009, 1, 3, tzinfo=UTC)
TIME_MAX = datetime(2100, 1, 1, tzinfo=UTC)

SKIP_NAMES = {"license", "licence", "readme", "sources", "notice", "copying"}
SKIP_SUFFIXES = {".md", ".txt", ".rst", ".html", ".pdf", ".png", ".jpg", ".py", ".checksum"}


def epoch_unit(value: float) -> str:
    """Unit of an epoch integer by magnitude: ``s`` < 1e11 <= ``ms`` < 1e14 <= ``us`` < 1e17 <= ``ns``."""
    v = abs(value)
    for unit, bound in _UNIT_BOUNDS:
        if v < bound:
            return unit
    raise ValueError(f"epoch value {value!r} is too large for any unit")


def epoch_to_datetime(value: float, unit: str) -> datetime:
    """Epoch number in ``unit`` (s/ms/us/ns) to an aware UTC datetime."""
    us = int(value) // 1000 if unit == "ns" else int(round(float(value) * UNIT_TO_US[unit]))  # type: ignore[operator]
    return datetime(1970, 1, 1, tzinfo=UTC) + _td_us(us)


def _td_us(us: int) -> Any:
    from datetime import timedelta

    return timedelta(microseconds=us)


# --------------------------------------------------------------------------------------------
# CSV specs
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Col:
    """One raw CSV column: its name, DuckDB type, and whether it may be empty.

    ``epoch`` marks an integer epoch time whose unit (ms/µs) is detected per file.
    ``allowed`` lists the accepted values of a text column (case-insensitive).
    """

    name: str
    type: str
    required: bool = True
    epoch: bool = False
    allowed: tuple[str, ...] = ()


@dataclass(frozen=True)
class CsvSpec:
    """A CSV layout read by DuckDB.

    ``select`` is the SQL select list turning raw columns into the table's columns; it may use
    ``{t:COL}`` (epoch column -> TIMESTAMPTZ in the detected unit) and the named parameters
    ``$venue``, ``$symbol``, ``$kind``, ``$interval``, ``$file_id``, ``$source_file``.
    """

    format: str
    table: str
    columns: tuple[Col, ...]
    select: str
    time_column: str
    description: str
    header_names: tuple[str, ...] = ()  # expected header (defaults to the column names)

    @property
    def names(self) -> tuple[str, ...]:
        return self.header_names or tuple(c.name for c in self.columns)


@dataclass
class Plan:
    """How one file will be read: the reader, the target table and what is known about it."""

    path: Path
    format: str
    table: str
    venue: str
    symbol: str | None = None
    kind: str | None = None
    interval: str | None = None
    header: bool = False
    time_unit: str | None = None
    spec: CsvSpec | None = None
    reader: Reader | None = None
    member: str | None = None  # zip member holding the CSV
    options: dict[str, Any] = field(default_factory=dict)


#: A Python reader: the file and its plan -> frames by table name.
Reader = Callable[[Path, Plan], dict[str, pl.DataFrame]]


@dataclass(frozen=True)
class FileFormat:
    """One file format, as ``--format`` names it and ``liqcascade data formats`` lists it.

    A CSV format has its ``specs`` (the layouts DuckDB reads, e.g. futures and spot); a format
    read in Python has its ``read`` function and the ``table`` its rows mainly go to.
    """

    name: str
    description: str
    specs: tuple[CsvSpec, ...] = ()
    table: str | None = None
    read: Reader | None = None


class FormatTable:
    """The formats one source module reads, in the order they are declared.

    ``prefix`` starts the name of every format read in Python (``hyperliquid_``), so a reader is
    declared by the rest of its name (``fills`` -> ``hyperliquid_fills``).
    """

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix
        self.formats: dict[str, FileFormat] = {}

    def _add(self, fmt: FileFormat) -> None:
        if fmt.name in self.formats:
            raise ValueError(f"format {fmt.name!r} is declared twice")
        self.formats[fmt.name] = fmt

    def csv(self, description: str, *specs: CsvSpec) -> None:
        """Declare a CSV format by its layouts (all of one ``format`` name)."""
        names = {s.format for s in specs}
        if len(names) != 1:
            raise ValueError(f"CSV layouts of one format expected, got {sorted(names)}")
        self._add(FileFormat(names.pop(), description, specs=specs))

    def reader(self, name: str, table: str, description: str) -> Callable[[Reader], Reader]:
        """Decorator declaring ``read`` as the reader of format ``prefix + name`` (rows into
        ``table``)."""

        def declare(read: Reader) -> Reader:
            self._add(FileFormat(self.prefix + name, description, table=table, read=read))
            return read

        return declare


# --------------------------------------------------------------------------------------------
# reading helpers
# --------------------------------------------------------------------------------------------
def open_text(path: Path) -> io.TextIOBase:
    """Open a file as text, transparently for ``.zip`` (single CSV member) and ``.gz``."""
    name = path.name.lower()
    if name.endswith(".zip"):
        try:
            zf = zipfile.ZipFile(path)
            member = zip_member(zf, path)
            return io.TextIOWrapper(zf.open(member), encoding="utf-8", newline="")
        except zipfile.BadZipFile as exc:
            raise DataError(
                f"{path}: not a readable zip archive (truncated or corrupt): {exc}"
            ) from None
    if name.endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")  # noqa: SIM115


def zip_member(zf: zipfile.ZipFile, path: Path) -> str:
    """The one data member of a Binance-style zip (exactly one ``.csv``)."""
    names = [n for n in zf.namelist() if not n.endswith("/")]
    csvs = [n for n in names if n.lower().endswith(".csv")]
    if len(csvs) != 1:
        raise DataError(
            f"{path}: expected exactly one .csv inside the zip, found {len(csvs)} ({names[:5]})"
        )
    return csvs[0]


def head_lines(path: Path, n: int = 3) -> list[str]:
    """First ``n`` non-empty lines of a (possibly compressed) text file."""
    out: list[str] = []
    try:
        with open_text(path) as fh:
            for line in fh:
                line = line.strip("\r\n")
                if line.strip():
                    out.append(line)
                if len(out) >= n:
                    break
    except (UnicodeDecodeError, EOFError, OSError, gzip.BadGzipFile, zipfile.BadZipFile) as exc:
        raise DataError(f"{path}: cannot read the start of the file as text: {exc}") from None
    return out


def is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _check_value(col: Col, raw: str, unit: str | None) -> str | None:
    """Why ``raw`` is not valid for ``col`` (None when it is)."""
    text = raw.strip()
    if text == "":
        return None if not col.required else "is empty (a value is required)"
    t = col.type
    if t in ("BIGINT", "INTEGER"):
        try:
            v = int(text)
        except ValueError:
            return f"expected an integer, got {raw!r}"
        if col.epoch and unit is not None:
            try:
                dt = epoch_to_datetime(v, unit)
            except (OverflowError, ValueError):
                dt = None
            if dt is None or not (TIME_MIN <= dt <= TIME_MAX) or epoch_unit(v) != unit:
                return (
                    f"timestamp {raw!r} is not a {unit} epoch between 2009 and 2100 "
                    f"(the file's first row set the unit to {unit})"
                )
    elif t == "DOUBLE":
        try:
            v2 = float(text)
        except ValueError:
            return f"expected a number, got {raw!r}"
        if not math.isfinite(v2):
            return f"expected a finite number, got {raw!r}"
    elif t == "BOOLEAN":
        if text.lower() not in ("true", "false"):
            return f"expected true/false, got {raw!r}"
    elif t == "TIMESTAMP":
        try:
            dt = parse_iso(text)
        except ValueError:
            return f"expected a date-time like 2025-10-10 00:00:07, got {raw!r}"
        if not (TIME_MIN <= dt <= TIME_MAX):
            return f"date-time {raw!r} is outside 2009..2100"
    if col.allowed and text.lower() not in col.allowed:
        return f"expected one of {'/'.join(col.allowed)}, got {raw!r}"
    return None


def diagnose_csv(
    path: Path, spec: CsvSpec, header: bool, unit: str | None, label: str | None = None
) -> str | None:
    """Find the first bad line of a CSV with plain Python (only run after DuckDB refused it).

    Returns a message ``FILE: line L (data row R): column C ...`` or None when every row is valid.
    ``label`` names the file in messages (the zip, when ``path`` is its extracted member).
    """
    ncol = len(spec.columns)
    name = label or str(path)
    lineno = 0
    try:
        with open_text(path) as fh:
            datarow = 0
            for line in fh:
                lineno += 1
                if lineno == 1 and header:
                    continue
                body = line.rstrip("\r\n")
                if body.strip() == "":
                    continue
                datarow += 1
                fields = body.split(",")
                where = f"{name}: line {lineno} (data row {datarow})"
                if len(fields) != ncol:
                    hint = " (truncated line?)" if not line.endswith("\n") else ""
                    return (
                        f"{where}: expected {ncol} columns ({', '.join(spec.names)}), "
                        f"found {len(fields)}{hint}: {body[:120]!r}"
                    )
                for col, raw in zip(spec.columns, fields, strict=True):
                    why = _check_value(col, raw, unit)
                    if why:
                        return f"{where}: column {col.name!r} {why}"
    except (EOFError, OSError, zipfile.BadZipFile, gzip.BadGzipFile) as exc:
        return f"{name}: the compressed stream is truncated or corrupt after line {lineno}: {exc}"
    except UnicodeDecodeError as exc:
        return f"{name}: line {lineno + 1}: not UTF-8 text ({exc.reason}); is this a CSV file?"
    return None


# --------------------------------------------------------------------------------------------
# JSON helpers for the Python readers
# --------------------------------------------------------------------------------------------
def load_json(path: Path) -> Any:
    """Parse a JSON document (or JSON lines, returned as a list with ``_jsonl`` marker tuple)."""
    try:
        with open_text(path) as fh:
            text = fh.read()
    except (EOFError, OSError, gzip.BadGzipFile) as exc:
        raise DataError(f"{path}: cannot read (truncated or corrupt compression): {exc}") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text: {exc.reason}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        lines = [ln for ln in text.splitlines()]
        if len(lines) > 1:
            # JSON lines: one document per line
            out = []
            for i, ln in enumerate(lines, start=1):
                if not ln.strip():
                    continue
                try:
                    out.append(json.loads(ln))
                except json.JSONDecodeError as exc2:
                    raise DataError(
                        f"{path}: line {i}: invalid JSON ({exc2.msg} at column {exc2.colno})"
                        f"{' - truncated?' if i == len(lines) else ''}"
                    ) from None
            return JsonLines(out)
        raise DataError(
            f"{path}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
            f"{' (the file ends early: truncated?)' if exc.pos >= len(text.rstrip()) - 1 else ''}"
        ) from None


class JsonLines(list):
    """A list parsed from a JSON-lines file (records are numbered by line)."""


def num(value: Any, path: Path, where: str, field_name: str, required: bool = True) -> float | None:
    """Parse a JSON number or numeric string; a DataError names the record and field."""
    if value is None or value == "":
        if required:
            raise DataError(
                f"{path}: {where}: field {field_name!r} is missing (a number is required)"
            )
        return None
    if isinstance(value, bool):
        raise DataError(f"{path}: {where}: field {field_name!r} expected a number, got {value!r}")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise DataError(
            f"{path}: {where}: field {field_name!r} expected a number, got {value!r}"
        ) from None
    if not math.isfinite(v):
        raise DataError(
            f"{path}: {where}: field {field_name!r} expected a finite number, got {value!r}"
        )
    return v


def time_field(
    value: Any, path: Path, where: str, field_name: str, required: bool = True
) -> datetime | None:
    """Epoch (s/ms/µs/ns by magnitude) or ISO-8601 text to UTC datetime; checks 2009..2100."""
    if value is None or value == "":
        if required:
            raise DataError(
                f"{path}: {where}: field {field_name!r} is missing (a time is required)"
            )
        return None
    dt: datetime | None = None
    if (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        or (isinstance(value, str) and re.fullmatch(r"\d+(\.\d+)?", value.strip()))
    ):
        v = float(value)
        try:
            dt = epoch_to_datetime(v, epoch_unit(v))
        except (ValueError, OverflowError):
            dt = None
    elif isinstance(value, str):
        # nanosecond ISO text (Hyperliquid archives): keep microseconds
        text = re.sub(r"(\.\d{6})\d+", r"\1", value.strip())
        try:
            dt = parse_iso(text)
        except ValueError:
            dt = None
    if dt is None or not (TIME_MIN <= dt <= TIME_MAX):
        raise DataError(
            f"{path}: {where}: field {field_name!r} expected an epoch time or ISO-8601 date-time "
            f"between 2009 and 2100, got {value!r}"
        )
    return dt.astimezone(UTC)


def frame(rows: list[dict[str, Any]], table: str) -> pl.DataFrame:
    """Rows (dicts; absent keys are null) to a polars frame with the schema of store ``table``."""
    from liqcascade.data.store import polars_schema

    schema = polars_schema(table)
    return pl.DataFrame(rows, schema=schema) if rows else pl.DataFrame(schema=schema)


def iter_records(data: Any, path: Path) -> Iterator[tuple[str, Any]]:
    """Records of a JSON list / JSON lines with a human label ('record 3' / 'line 3')."""
    label = "line" if isinstance(data, JsonLines) else "record"
    for i, rec in enumerate(data, start=1):
        yield f"{label} {i}", rec
