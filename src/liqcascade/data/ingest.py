"""Ingestion: detect each file's format, load it in one transaction, record it in ``files``.

Guarantees
----------
* **Idempotent**: a file is identified by the SHA-256 of its bytes; a file whose hash is already in
  ``files`` adds nothing (status ``duplicate``).
* **Atomic per file**: the rows of a file and its ``files`` entry are written in one DuckDB
  transaction. A corrupt, truncated or wrong-format file is rolled back (nothing of it stays), the
  error names the file, the line/record and what was expected, and the other files still go in.
* **Crash-safe**: DuckDB's write-ahead log makes a committed file durable and drops an uncommitted
  one, so a process killed with SIGKILL leaves only whole files; running the same command again
  skips the committed files and loads the rest.
* **Fast**: CSVs are read by DuckDB's ``read_csv`` with explicit columns and types straight into the
  target table (no Python loop over rows).
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from liqcascade.data import analysis, binance, ccxt_io, hyperliquid, tardis
from liqcascade.data.formats import (
    SKIP_NAMES,
    SKIP_SUFFIXES,
    TIME_MAX,
    TIME_MIN,
    CsvSpec,
    FileFormat,
    Plan,
    diagnose_csv,
    epoch_unit,
    head_lines,
    is_number,
    load_json,
    zip_member,
)
from liqcascade.data.store import TIME_COLUMN, Store
from liqcascade.errors import DataError, InputError
from liqcascade.log import logger

#: Every format, from the source modules that read them.
_FILE_FORMATS: dict[str, FileFormat] = {
    f.name: f
    for source in (binance, tardis, hyperliquid, ccxt_io, analysis)
    for f in source.FILE_FORMATS.formats.values()
}
#: Every format name with a one-line description (``liqcascade data formats``).
FORMATS: dict[str, str] = {name: f.description for name, f in _FILE_FORMATS.items()}
#: Formats read in Python (JSON payloads, analysis tables).
_PY_READERS: dict[str, FileFormat] = {n: f for n, f in _FILE_FORMATS.items() if f.read}
#: Every CSV layout, in the order detection tries them.
_CSV_SPECS: tuple[CsvSpec, ...] = tuple(s for f in _FILE_FORMATS.values() for s in f.specs)
_JSON_SUFFIXES = (".json", ".jsonl", ".ndjson", ".json.gz", ".jsonl.gz", ".ndjson.gz")
_UNSUPPORTED = (".lz4", ".zst", ".parquet", ".7z", ".rar", ".xz", ".bz2", ".tar")


# --------------------------------------------------------------------------------------------
# results
# --------------------------------------------------------------------------------------------
@dataclass
class FileResult:
    """Outcome of one file (one entry of ``liqcascade data ingest --format json``)."""

    path: str
    """The file as it was given."""
    status: str
    """``ingested``, ``duplicate`` (its SHA-256 is already stored), ``skipped`` or ``failed``."""
    format: str | None = None
    """The format it was read as (``liqcascade data formats``); None when not detected."""
    table: str | None = None
    """The store table its rows went to."""
    venue: str | None = None
    """Venue of its rows (given, or from the path and content)."""
    symbol: str | None = None
    """Symbol of its rows, when one symbol (None when rows carry their own)."""
    kind: str | None = None
    """Kline kind (``trade``, ``mark``, ``index``, ``premium``, ``price``) for kline files."""
    rows: int = 0
    """Source rows/records stored in ``table``."""
    table_rows: dict[str, int] = field(default_factory=dict)
    """Rows per table (Hyperliquid liquidation fills land in ``trades`` and ``liquidations``)."""
    seconds: float = 0.0
    """Wall time to detect, read and store the file."""
    error: str | None = None
    """Why it failed (names the file, line or record and what was expected)."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class IngestReport:
    """All file results of one ingestion run."""

    db: str
    files: list[FileResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rows_added(self) -> int:
        return sum(f.rows for f in self.files if f.status == "ingested")

    @property
    def failed(self) -> list[FileResult]:
        return [f for f in self.files if f.status == "failed"]

    @property
    def ok(self) -> bool:
        return not self.failed

    def as_dict(self) -> dict[str, Any]:
        return {
            "db": self.db,
            "rows_added": self.rows_added,
            "failed": len(self.failed),
            "seconds": self.seconds,
            "files": [f.as_dict() for f in self.files],
        }


# --------------------------------------------------------------------------------------------
# detection
# --------------------------------------------------------------------------------------------
def is_skipped(path: Path) -> bool:
    """Documentation and licence files inside data folders are skipped, not refused."""
    low = path.name.lower()
    stem = low.split(".")[0]
    return low.startswith(".") or stem in SKIP_NAMES or any(low.endswith(s) for s in SKIP_SUFFIXES)


def _is_json(path: Path) -> bool:
    low = path.name.lower()
    if low.endswith(_JSON_SUFFIXES):
        return True
    if low.endswith((".csv", ".csv.gz", ".zip")):
        return False
    try:
        with open(path, "rb") as fh:
            head = fh.read(64).lstrip()
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc}") from None
    return head[:1] in (b"{", b"[")


def detect(
    path: Path,
    format: str | None = None,
    venue: str | None = None,
    symbol: str | None = None,
) -> Plan | None:
    """Decide how to read ``path`` (None: a documentation/licence file to skip).

    The format comes from ``format`` when given, else from the content (CSV header or JSON shape)
    and the file name (Binance ``SYMBOL-TYPE-DATE`` names for header-less files). Raises DataError
    when the file is of an unknown or contradictory format.
    """
    path = Path(path)
    if format is not None and format not in FORMATS:
        raise InputError(f"unknown format {format!r}; expected one of: {', '.join(FORMATS)}")
    if format is None and is_skipped(path):
        return None
    low = path.name.lower()
    if low.endswith(_UNSUPPORTED):
        hint = (
            " (Hyperliquid archive files are LZ4 frames: `unlz4 FILE` or `lz4 -d FILE`)"
            if low.endswith(".lz4")
            else ""
        )
        raise DataError(
            f"{path}: compression/container {Path(low).suffix} is not supported; decompress it "
            f"first{hint} (zip, gzip and plain CSV/JSON are read directly)"
        )
    if path.stat().st_size == 0:
        raise DataError(f"{path}: empty file")
    if format in _PY_READERS or (format is None and _is_json(path)):
        return _detect_json(path, format, venue, symbol)
    return _detect_csv(path, format, venue, symbol)


def _detect_json(path: Path, format: str | None, venue: str | None, symbol: str | None) -> Plan:
    fmt = format
    if fmt is None:
        data = load_json(path)
        if ccxt_io.is_envelope(data):
            fmt = ccxt_io.classify(data)
        elif binance.is_leverage_brackets(data):
            fmt = "binance_leverage_brackets"
        else:
            fmt = hyperliquid.classify(data) or ccxt_io.classify(data)
        if fmt is None and isinstance(data, dict) and analysis.is_analysis_path(path):
            fmt = "analysis"
        if fmt is None:
            shape = type(data).__name__
            keys = sorted(data)[:8] if isinstance(data, dict) else None
            raise DataError(
                f"{path}: unknown JSON payload ({shape}{', keys ' + str(keys) if keys else ''}); "
                "expected Binance leverage brackets, Hyperliquid trades/fills/asset contexts/"
                "funding/candles or a ccxt structure (or pass --format)"
            )
    table = _PY_READERS[fmt].table
    assert table is not None
    if venue is None:
        if fmt.startswith("hyperliquid"):
            venue = "hyperliquid"
        elif fmt.startswith("binance"):
            venue = binance.infer_venue(path, None, None, fmt)
        elif fmt.startswith("ccxt"):
            venue = _venue_from_path(path)
        else:
            venue = "hyperliquid" if "hyperliquid" in [p.lower() for p in path.parts] else "unknown"
    tokens = path.name.split(".")[0].split("-")
    interval = next((t for t in tokens[1:] if binance._INTERVAL_RE.match(t)), None)
    if symbol is None and fmt == "ccxt_ohlcv" and len(tokens) > 1 and tokens[0].isalnum():
        symbol = tokens[0]  # BTCUSDT-1m-....json
    return Plan(
        path=path,
        format=fmt,
        table=table,
        venue=venue,
        symbol=symbol,
        interval=interval,
        reader=_PY_READERS[fmt].read,
    )


def _venue_from_path(path: Path) -> str:
    words = re.split(r"[^a-z0-9]+", "/".join(p.lower() for p in path.parts))
    for ex_id, venue in ccxt_io.CCXT_VENUES.items():
        if ex_id in words:
            return venue
    return "unknown"


def _detect_csv(path: Path, format: str | None, venue: str | None, symbol: str | None) -> Plan:
    low = path.name.lower()
    if low.endswith(".zip"):
        try:
            with zipfile.ZipFile(path) as zf:
                member = zip_member(zf, path)
        except zipfile.BadZipFile as exc:
            raise DataError(
                f"{path}: not a readable zip archive (truncated or corrupt): {exc}"
            ) from None
    else:
        member = None
    lines = head_lines(path, 2)
    if not lines:
        raise DataError(f"{path}: no data lines")
    first = [f.strip().lower() for f in lines[0].split(",")]
    name_sym, token = binance.name_parts(path)
    token_specs = binance.BY_NAME_TOKEN.get((token or "").lower())
    if token and binance._INTERVAL_RE.match(token):
        token_specs = (binance.KLINES,)

    spec: CsvSpec | None = None
    header = False
    for s in _CSV_SPECS:
        if tuple(first) == tuple(n.lower() for n in s.names):
            spec, header = s, True
            break
    if format == "analysis" or (
        spec is None and format is None and analysis.is_analysis_path(path)
    ):
        if not is_number(first[0]) or format == "analysis":
            return Plan(
                path=path,
                format="analysis",
                table="analysis",
                venue=venue
                or (
                    "hyperliquid"
                    if "hyperliquid" in low or "hyperliquid" in str(path).lower()
                    else "unknown"
                ),
                symbol=symbol,
                reader=analysis.read_analysis,
            )
    if spec is None and first[:3] == ["time", "coin", "funding"]:
        return Plan(
            path=path,
            format="hyperliquid_asset_ctxs",
            table="asset_ctx",
            venue=venue or "hyperliquid",
            symbol=symbol,
            reader=hyperliquid.read_asset_ctxs,
        )
    if spec is None:
        looks_header = not is_number(first[0]) and not re.match(r"^\d{4}-\d{2}-\d{2}", first[0])
        if looks_header:
            raise DataError(
                f"{path}: unknown CSV header {lines[0][:120]!r}; expected a Binance public-data, "
                "Tardis trades or Hyperliquid asset_ctxs layout (see `liqcascade data formats`)"
            )
        candidates: tuple[CsvSpec, ...] = ()
        if format is not None:
            candidates = _FILE_FORMATS[format].specs
        elif token_specs:
            candidates = token_specs
        if not candidates:
            raise DataError(
                f"{path}: header-less CSV whose name does not say what it holds; expected a "
                "Binance name like BTCUSDT-aggTrades-2025-10-10.csv or pass --format"
            )
        ncol = len(first)
        spec = next((s for s in candidates if len(s.columns) == ncol), None)
        if spec is None:
            expected = " or ".join(str(len(s.columns)) for s in candidates)
            raise DataError(
                f"{path}: line 1: {ncol} columns, but {candidates[0].format} has {expected} "
                f"({', '.join(candidates[0].names)})"
            )
    elif format is not None and spec.format != format:
        raise DataError(f"{path}: the header is that of {spec.format}, not the requested {format}")
    elif token_specs and spec not in token_specs and spec.format.startswith("binance"):
        raise DataError(
            f"{path}: the file name says {token} but the header is that of {spec.format} "
            f"({lines[0][:80]!r}); wrong file?"
        )

    data_line = lines[1] if header else lines[0]
    if header and len(lines) < 2:
        raise DataError(f"{path}: only a header line, no data rows")
    fields = data_line.split(",")
    tcol = [c.name for c in spec.columns].index(spec.time_column)
    unit = None
    if next(c for c in spec.columns if c.name == spec.time_column).epoch:
        raw = fields[tcol].strip() if tcol < len(fields) else ""
        if not re.fullmatch(r"\d+", raw):
            raise DataError(
                f"{path}: line {2 if header else 1} (data row 1): column {spec.time_column!r} "
                f"expected an integer epoch time (ms or µs), got {raw!r}"
            )
        unit = epoch_unit(int(raw))
    plan = Plan(
        path=path,
        format=spec.format,
        table=spec.table,
        venue=venue or "",
        symbol=symbol,
        header=header,
        time_unit=unit,
        spec=spec,
        member=member,
    )
    if spec.format.startswith("binance"):
        plan.symbol = symbol or name_sym
        plan.venue = venue or binance.infer_venue(path, plan.symbol, unit, spec.format)
        if plan.symbol is None and spec.format != "binance_metrics":
            raise DataError(
                f"{path}: cannot tell the symbol from the file name (expected SYMBOL-{token or 'type'}"
                "-YYYY-MM-DD); pass --symbol"
            )
    if spec is tardis.TRADES:
        exch = fields[0].strip().lower()
        plan.venue = venue or tardis.TARDIS_VENUES.get(exch, exch)
        plan.symbol = symbol or fields[1].strip()
        plan.options["override"] = {"venue": venue, "symbol": symbol}
    if spec is binance.KLINES:
        plan.kind = binance.kline_kind_from_path(path)
        if token and binance._INTERVAL_RE.match(token):
            plan.interval = token
        else:
            try:
                ot, ct = int(fields[0]), int(fields[6])
                div = {"ms": 1, "us": 1000, "ns": 1_000_000, "s": 0.001}[unit or "ms"]
                plan.interval = binance.interval_from_ms(int(round((ct - ot) / div)) + 1)
            except (ValueError, IndexError):
                plan.interval = "unknown"
    return plan


# --------------------------------------------------------------------------------------------
# loading
# --------------------------------------------------------------------------------------------
def sha256_file(path: Path) -> str:
    """SHA-256 hex digest of the file's bytes."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _time_expr(col: str, unit: str | None) -> str:
    if unit == "ms":
        return f"CAST(make_timestamp({col} * 1000) AS TIMESTAMPTZ)"
    if unit == "us":
        return f"CAST(make_timestamp({col}) AS TIMESTAMPTZ)"
    if unit == "s":
        return f"CAST(make_timestamp({col} * 1000000) AS TIMESTAMPTZ)"
    if unit == "ns":
        return f"CAST(make_timestamp({col} // 1000) AS TIMESTAMPTZ)"
    raise DataError(f"no epoch unit for column {col}")


def _read_csv_sql(csv_path: Path, spec: CsvSpec, header: bool) -> str:
    cols = ", ".join(f"{_sql_str(c.name)}: {_sql_str(c.type)}" for c in spec.columns)
    comp = "gzip" if csv_path.name.lower().endswith(".gz") else "none"
    return (
        f"read_csv({_sql_str(str(csv_path))}, header={'true' if header else 'false'}, "
        f"columns={{{cols}}}, auto_detect=false, delim=',', quote='\"', escape='\"', "
        f"strict_mode=true, compression={_sql_str(comp)})"
    )


def _duck_message(exc: Exception, label: str) -> str:
    text = str(exc)
    m = re.search(r"CSV Error on Line: (\d+)", text)
    orig = re.search(r"Original Line: (.*)", text)
    first = text.splitlines()[0] if text else type(exc).__name__
    detail = next(
        (ln for ln in text.splitlines()[1:4] if ln.strip() and not ln.startswith("Original Line")),
        "",
    )
    if m:
        return f"{label}: line {m.group(1)}: {detail or first} (line: {orig.group(1)[:100] if orig else '?'})"
    return f"{label}: {first}"


def _load_csv(
    con: duckdb.DuckDBPyConnection, plan: Plan, file_id: int, label: str
) -> dict[str, int]:
    spec = plan.spec
    assert spec is not None
    tmpdir = None
    csv_path = plan.path
    try:
        if plan.member is not None:
            tmpdir = tempfile.mkdtemp(prefix="liqcascade-")
            csv_path = Path(tmpdir) / Path(plan.member).name
            try:
                with (
                    zipfile.ZipFile(plan.path) as zf,
                    zf.open(plan.member) as src,
                    open(csv_path, "wb") as dst,
                ):
                    shutil.copyfileobj(src, dst, 1 << 20)
            except (zipfile.BadZipFile, EOFError, OSError) as exc:
                raise DataError(f"{label}: corrupt or truncated zip archive: {exc}") from None
        read = _read_csv_sql(csv_path, spec, plan.header)
        select = re.sub(
            r"\{t:(\w+)\}", lambda m: _time_expr(m.group(1), plan.time_unit), spec.select
        )
        params: dict[str, Any] = {"file_id": file_id, "source_file": plan.path.name}
        for key in ("venue", "symbol", "kind", "interval"):
            if f"${key}" in select:
                params[key] = getattr(plan, key)
        try:
            if spec is binance.KLINES and plan.kind is None:
                zero = con.execute(
                    f"SELECT bool_and(volume = 0 AND quote_volume = 0) FROM {read}"
                ).fetchall()[0][0]
                plan.kind = "price" if zero else "trade"
                params["kind"] = plan.kind
            n = con.execute(
                f"INSERT INTO {spec.table} BY NAME SELECT {select}, $file_id AS file_id, "
                f"$source_file AS source_file FROM {read}",
                params,
            ).fetchall()[0][0]
            for key, value in plan.options.get("override", {}).items():
                if value is not None:  # --venue/--symbol over a per-row column (Tardis)
                    con.execute(
                        f"UPDATE {spec.table} SET {key} = ? WHERE file_id = ?", [value, file_id]
                    )
            tcol = TIME_COLUMN[spec.table]
            # range check and first/last in one scan; in SQL because a year-50000 timestamp
            # (µs read as ms) has no Python datetime
            bad, lo, hi = con.execute(
                f"SELECT count_if(t < $lo OR t > $hi), "
                f"CASE WHEN count_if(t < $lo OR t > $hi) = 0 THEN min(t) END, "
                f"CASE WHEN count_if(t < $lo OR t > $hi) = 0 THEN max(t) END "
                f"FROM (SELECT {tcol} AS t FROM {spec.table} WHERE file_id = $fid)",
                {"lo": TIME_MIN, "hi": TIME_MAX, "fid": file_id},
            ).fetchall()[0]
            if bad:
                raise _RangeError()
            plan.options["first_last"] = (lo, hi)
        except (duckdb.Error, _RangeError) as exc:
            why = diagnose_csv(csv_path, spec, plan.header, plan.time_unit, label=label)
            if why is None:
                why = (
                    f"{label}: timestamps outside 2009..2100 (mixed ms/µs units?)"
                    if isinstance(exc, _RangeError)
                    else _duck_message(exc, label)
                )
            raise DataError(why) from None
        return {spec.table: int(n)}
    finally:
        if tmpdir is not None:
            shutil.rmtree(tmpdir, ignore_errors=True)


class _RangeError(Exception):
    pass


def _load_frames(
    con: duckdb.DuckDBPyConnection, plan: Plan, file_id: int, label: str
) -> dict[str, int]:
    assert plan.reader is not None
    frames = plan.reader(plan.path, plan)
    counts: dict[str, int] = {}
    for table, df in frames.items():
        if df.height == 0:
            counts[table] = 0
            continue
        name = f"_lq_{table}"
        con.register(name, df.to_arrow())
        try:
            con.execute(
                f"INSERT INTO {table} BY NAME SELECT *, $file_id AS file_id, "
                f"$source_file AS source_file FROM {name}",
                {"file_id": file_id, "source_file": plan.path.name},
            )
        except duckdb.ConstraintException as exc:
            m = re.search(r"NOT NULL constraint failed: (\w+)\.(\w+)", str(exc))
            col = m.group(2) if m else "?"
            raise DataError(f"{label}: a record has no value for required field {col!r}") from None
        finally:
            con.unregister(name)
        counts[table] = df.height
    if plan.table not in counts:
        counts[plan.table] = 0
    return counts


def ingest_file(
    store: Store,
    path: str | Path,
    format: str | None = None,
    venue: str | None = None,
    symbol: str | None = None,
) -> FileResult:
    """Ingest one file into an open store in one transaction; never raises on bad data.

    Returns a FileResult whose ``status`` is ``ingested``, ``duplicate`` (same SHA-256 already
    stored: 0 rows added), ``skipped`` (documentation/licence file) or ``failed`` (``error`` names
    the file, the line/record and what was expected; nothing from the file is stored).
    """
    path = Path(path)
    t0 = time.perf_counter()
    res = FileResult(path=str(path), status="failed")
    con = store.con
    if not path.is_file():
        res.error = f"{path}: no such file"
        return res
    try:
        plan = detect(path, format, venue, symbol)
        if plan is None:
            res.status = "skipped"
            return res
        res.format, res.table, res.venue, res.symbol = (
            plan.format,
            plan.table,
            plan.venue,
            plan.symbol,
        )
        digest = sha256_file(path)
        if con.execute("SELECT count(*) FROM files WHERE sha256 = ?", [digest]).fetchall()[0][0]:
            res.status = "duplicate"
            return res
        con.execute("BEGIN TRANSACTION")
        try:
            file_id = int(con.execute("SELECT nextval('file_id_seq')").fetchall()[0][0])
            label = str(path)
            if plan.spec is not None:
                counts = _load_csv(con, plan, file_id, label)
            else:
                counts = _load_frames(con, plan, file_id, label)
            if "first_last" in plan.options:
                lo, hi = plan.options["first_last"]
            else:
                tcol = TIME_COLUMN[plan.table]
                lo, hi = con.execute(
                    f"SELECT min({tcol}), max({tcol}) FROM {plan.table} WHERE file_id = ?",
                    [file_id],
                ).fetchall()[0]
            rows = counts.get(plan.table, 0)
            con.execute(
                "INSERT INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    file_id,
                    digest,
                    str(path.resolve()),
                    path.name,
                    plan.format,
                    plan.table,
                    plan.venue,
                    plan.symbol,
                    plan.kind,
                    rows,
                    path.stat().st_size,
                    lo,
                    hi,
                    datetime.now(UTC),
                ],
            )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        res.status, res.rows, res.table_rows, res.kind = "ingested", rows, counts, plan.kind
    except DataError as exc:
        res.error = str(exc)
    except duckdb.Error as exc:
        res.error = f"{path}: the store refused the data: {str(exc).splitlines()[0]}"
    finally:
        res.seconds = time.perf_counter() - t0
    if res.error:
        logger.warning("%s", res.error)
    return res


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files named directly plus every file under named folders (recursive, sorted)."""
    out: list[Path] = []
    for p in paths:
        p = Path(p).expanduser()
        if p.is_dir():
            out.extend(sorted(q for q in p.rglob("*") if q.is_file()))
        else:
            out.append(p)
    return out


ProgressFn = Callable[[str, Path, FileResult | None], None]


def ingest_paths(
    paths: Iterable[str | Path],
    db: str | Path | Store | None = None,
    *,
    format: str | None = None,
    venue: str | None = None,
    symbol: str | None = None,
    progress: ProgressFn | None = None,
) -> IngestReport:
    """Ingest files and folders (recursively) into the store at ``db``.

    ``progress(event, path, result)`` is called with ``"start"`` before and ``"done"`` after each
    file. Returns an :class:`IngestReport`; failed files are listed there, never raised.
    """
    files = expand_paths(paths)
    own = not isinstance(db, Store)
    store = Store(db) if own else db  # type: ignore[arg-type]
    report = IngestReport(db=str(store.path))  # type: ignore[union-attr]
    t0 = time.perf_counter()
    try:
        for f in files:
            if progress:
                progress("start", f, None)
            res = ingest_file(store, f, format, venue, symbol)  # type: ignore[arg-type]
            report.files.append(res)
            if progress:
                progress("done", f, res)
    finally:
        if own:
            store.close()  # type: ignore[union-attr]
    report.seconds = time.perf_counter() - t0
    return report
