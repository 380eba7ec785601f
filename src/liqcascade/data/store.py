"""The market-data store: one DuckDB file, one table per kind of market data, polars out.

Every data row keeps ``venue``, ``symbol``, ``file_id`` and ``source_file`` (the base name of the
file it came from; ``file_id`` points into the ``files`` registry, which holds the full path and the
SHA-256 of the file). All times are stored as DuckDB ``TIMESTAMPTZ`` in UTC (microsecond
resolution) and come out of the query API as ``pl.Datetime("us", "UTC")``.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from liqcascade.errors import DataError, InputError
from liqcascade.log import logger
from liqcascade.timeutil import TimeLike, to_utc

ENV_DB = "LIQCASCADE_DB"
DB_FILENAME = "market.duckdb"
SCHEMA_VERSION = 1

_PROVENANCE = "file_id INTEGER NOT NULL, source_file VARCHAR NOT NULL"

#: DDL of every table; the order of columns is the order the query API returns.
TABLES: dict[str, str] = {
    "klines": f"""
        venue VARCHAR NOT NULL, symbol VARCHAR NOT NULL, kind VARCHAR NOT NULL,
        interval VARCHAR NOT NULL, open_time TIMESTAMPTZ NOT NULL, close_time TIMESTAMPTZ,
        open DOUBLE NOT NULL, high DOUBLE NOT NULL, low DOUBLE NOT NULL, close DOUBLE NOT NULL,
        volume DOUBLE, quote_volume DOUBLE, trade_count BIGINT, taker_buy_volume DOUBLE,
        taker_buy_quote_volume DOUBLE, {_PROVENANCE}""",
    "trades": f"""
        venue VARCHAR NOT NULL, symbol VARCHAR NOT NULL, time TIMESTAMPTZ NOT NULL,
        trade_id VARCHAR, price DOUBLE NOT NULL, size_base DOUBLE NOT NULL, quote_qty DOUBLE,
        side TINYINT NOT NULL, is_buyer_maker BOOLEAN, is_best_match BOOLEAN,
        is_liquidation BOOLEAN, buyer VARCHAR, seller VARCHAR, fee_quote DOUBLE,
        closed_pnl_quote DOUBLE, start_position_base DOUBLE, direction VARCHAR, {_PROVENANCE}""",
    "agg_trades": f"""
        venue VARCHAR NOT NULL, symbol VARCHAR NOT NULL, time TIMESTAMPTZ NOT NULL,
        agg_trade_id BIGINT NOT NULL, price DOUBLE NOT NULL, size_base DOUBLE NOT NULL,
        first_trade_id BIGINT NOT NULL, last_trade_id BIGINT NOT NULL,
        is_buyer_maker BOOLEAN NOT NULL, is_best_match BOOLEAN, {_PROVENANCE}""",
    "book_depth": f"""
        venue VARCHAR NOT NULL, symbol VARCHAR NOT NULL, time TIMESTAMPTZ NOT NULL,
        percentage DOUBLE NOT NULL, depth_base DOUBLE NOT NULL, notional_quote DOUBLE NOT NULL,
        weighted_avg_price DOUBLE, {_PROVENANCE}""",
    "funding": f"""
        venue VARCHAR NOT NULL, symbol VARCHAR NOT NULL, time TIMESTAMPTZ NOT NULL,
        funding_rate DOUBLE NOT NULL, interval_hours DOUBLE, mark_price DOUBLE, premium DOUBLE,
        {_PROVENANCE}""",
    "open_interest": f"""
        venue VARCHAR NOT NULL, symbol VARCHAR NOT NULL, time TIMESTAMPTZ NOT NULL,
        open_interest_base DOUBLE, open_interest_quote DOUBLE,
        top_trader_account_ls_ratio DOUBLE, top_trader_position_ls_ratio DOUBLE,
        account_ls_ratio DOUBLE, taker_buy_sell_vol_ratio DOUBLE, {_PROVENANCE}""",
    "liquidations": f"""
        venue VARCHAR NOT NULL, symbol VARCHAR NOT NULL, time TIMESTAMPTZ NOT NULL,
        order_side TINYINT NOT NULL, price DOUBLE NOT NULL, avg_price DOUBLE,
        size_base DOUBLE NOT NULL, filled_base DOUBLE, last_fill_base DOUBLE, mark_price DOUBLE,
        status VARCHAR, order_type VARCHAR, time_in_force VARCHAR, method VARCHAR,
        liquidated_user VARCHAR, trade_id VARCHAR, {_PROVENANCE}""",
    "asset_ctx": f"""
        venue VARCHAR NOT NULL, symbol VARCHAR NOT NULL, time TIMESTAMPTZ NOT NULL,
        funding_rate DOUBLE, open_interest_base DOUBLE, mark_price DOUBLE, oracle_price DOUBLE,
        mid_price DOUBLE, premium DOUBLE, impact_bid_price DOUBLE, impact_ask_price DOUBLE,
        prev_day_price DOUBLE, day_notional_quote DOUBLE, day_base_volume DOUBLE, {_PROVENANCE}""",
    "leverage_brackets": f"""
        venue VARCHAR NOT NULL, symbol VARCHAR NOT NULL, bracket INTEGER NOT NULL,
        floor_quote DOUBLE NOT NULL, cap_quote DOUBLE NOT NULL, mmr DOUBLE NOT NULL,
        cum_quote DOUBLE NOT NULL, max_leverage DOUBLE NOT NULL, snapshot_time TIMESTAMPTZ,
        {_PROVENANCE}""",
    "positions": f"""
        venue VARCHAR NOT NULL, symbol VARCHAR NOT NULL, time TIMESTAMPTZ, account VARCHAR,
        side TINYINT NOT NULL, contracts DOUBLE NOT NULL, contract_size DOUBLE,
        size_base DOUBLE NOT NULL, entry_price DOUBLE, mark_price DOUBLE, notional_quote DOUBLE,
        leverage DOUBLE, collateral_quote DOUBLE, initial_margin_quote DOUBLE,
        maintenance_margin_quote DOUBLE, liquidation_price DOUBLE, margin_mode VARCHAR,
        unrealized_pnl_quote DOUBLE, {_PROVENANCE}""",
    "analysis": f"""
        venue VARCHAR NOT NULL, symbol VARCHAR, dataset VARCHAR NOT NULL,
        row_number INTEGER NOT NULL, time TIMESTAMPTZ, record JSON NOT NULL, {_PROVENANCE}""",
}

#: DDL of the tables of results the library writes back (no provenance columns): a stress run
#: (``liqcascade.sweep.store_results``) is one ``stress_runs`` row and its per-path metrics in
#: long format.
RESULT_TABLES: dict[str, str] = {
    "stress_runs": """
        run_id VARCHAR PRIMARY KEY, created TIMESTAMPTZ, scenario VARCHAR, seed BIGINT,
        paths BIGINT, backend VARCHAR, meta JSON, summary JSON""",
    "stress_results": """
        run_id VARCHAR NOT NULL, path BIGINT NOT NULL, metric VARCHAR NOT NULL, value DOUBLE""",
}

#: The time column each table is indexed by (for ranges and `data ls`).
TIME_COLUMN: dict[str, str | None] = {
    "klines": "open_time",
    "trades": "time",
    "agg_trades": "time",
    "book_depth": "time",
    "funding": "time",
    "open_interest": "time",
    "liquidations": "time",
    "asset_ctx": "time",
    "leverage_brackets": "snapshot_time",
    "positions": "time",
    "analysis": "time",
}

_FILES_DDL = """
CREATE TABLE IF NOT EXISTS files (
    file_id INTEGER PRIMARY KEY, sha256 VARCHAR NOT NULL UNIQUE, path VARCHAR NOT NULL,
    name VARCHAR NOT NULL, format VARCHAR NOT NULL, table_name VARCHAR NOT NULL,
    venue VARCHAR, symbol VARCHAR, kind VARCHAR, rows BIGINT NOT NULL, bytes BIGINT NOT NULL,
    first_time TIMESTAMPTZ, last_time TIMESTAMPTZ, ingested_at TIMESTAMPTZ NOT NULL)
"""


_PL_TYPES = {
    "VARCHAR": pl.String,
    "JSON": pl.String,
    "DOUBLE": pl.Float64,
    "BIGINT": pl.Int64,
    "INTEGER": pl.Int32,
    "TINYINT": pl.Int8,
    "BOOLEAN": pl.Boolean,
    "TIMESTAMPTZ": pl.Datetime("us", "UTC"),
}


def _sql_columns(table: str) -> dict[str, str]:
    """Name -> DuckDB type of a table's data columns (provenance columns excluded), from its DDL."""
    out: dict[str, str] = {}
    for part in TABLES[table].split(","):
        name, dtype = part.split()[:2]
        if name not in ("file_id", "source_file"):
            out[name] = dtype
    return out


def polars_schema(table: str) -> dict[str, Any]:
    """The polars schema of a table's data columns (provenance columns excluded), from its DDL."""
    return {name: _PL_TYPES[dtype] for name, dtype in _sql_columns(table).items()}


def _query_columns(
    table: str,
    *,
    drop: Sequence[str] = (),
    after: Mapping[str, Sequence[str]] | None = None,
    expr: Mapping[str, str] | None = None,
) -> str:
    """The SELECT list a query returns: the table's data columns in registry order, then
    ``source_file``. ``drop`` leaves columns out, ``after`` adds computed columns (``"SQL AS
    name"``) after the named column, and ``expr`` gives a column by an SQL expression."""
    after, expr = after or {}, expr or {}
    out: list[str] = []
    for name in _sql_columns(table):
        if name not in drop:
            out.append(f"{expr[name]} AS {name}" if name in expr else name)
        out.extend(after.get(name, ()))
    return ", ".join([*out, "source_file"])


def _query_columns_as(table: str, source: str, expr: Mapping[str, str]) -> str:
    """The SELECT list of :func:`_query_columns` for ``table`` read from the ``source`` table:
    a column ``source`` has is read as it is, one in ``expr`` is computed, any other is NULL."""
    have = _sql_columns(source)
    nulls = {
        name: f"CAST(NULL AS {dtype})"
        for name, dtype in _sql_columns(table).items()
        if name not in have and name not in expr
    }
    return _query_columns(table, expr={**nulls, **expr})


#: Computed columns of the trade queries.
_NOTIONAL = "price * size_base AS notional_quote"
_AGGRESSOR_SIDE = "CAST(CASE WHEN is_buyer_maker THEN -1 ELSE 1 END AS TINYINT) AS side"


def default_db_path() -> Path:
    """Path of the store when none is given: ``$LIQCASCADE_DB`` or the user data directory.

    The user data directory comes from ``platformdirs.user_data_dir("liqcascade")``.
    """
    env = os.environ.get(ENV_DB)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("liqcascade")) / DB_FILENAME


#: Seconds :class:`Store` retries while another process holds the file's lock.
LOCK_WAIT_S = 2.0


def _connect(path: Path, read_only: bool, lock_wait_s: float) -> duckdb.DuckDBPyConnection:
    """Open ``path``; while another process holds its lock, retry (backing off) for up to
    ``lock_wait_s`` seconds, then raise DataError saying the store is busy."""
    deadline = time.monotonic() + max(0.0, float(lock_wait_s))
    pause_s = 0.05
    while True:
        try:
            try:
                return duckdb.connect(str(path), read_only=read_only)
            except duckdb.ConnectionException as exc:
                if "different configuration" not in str(exc):
                    raise
                # this process already holds the file with the other mode: share that instance
                return duckdb.connect(str(path), read_only=not read_only)
        except duckdb.IOException as exc:
            msg = str(exc)
            if "lock" not in msg.lower():
                raise DataError(f"{path}: cannot open the DuckDB store: {msg}") from None
            left = deadline - time.monotonic()
            if left <= 0:
                raise DataError(_busy_message(path, msg, read_only, lock_wait_s)) from None
            time.sleep(min(pause_s, left))
            pause_s = min(2 * pause_s, 0.5)
        except duckdb.Error as exc:
            raise DataError(f"{path}: cannot open as a DuckDB store: {exc}") from None


def _busy_message(path: Path, duckdb_message: str, read_only: bool, waited_s: float) -> str:
    """The store is held by another process: who (DuckDB names its PID), why, what to do."""
    m = re.search(r"held in (.+?) \(PID (\d+)\)", duckdb_message)
    who = f"another process (PID {m.group(2)}, {m.group(1)})" if m else "another process"
    if read_only:
        what = (
            f"{who} is writing to it (e.g. `liqcascade data ingest` or `data fetch`), and DuckDB "
            "lets no other process open the file while one writes, not even to read"
        )
    else:
        what = f"{who} has it open, and DuckDB lets one process at a time open a store to write"
    return (
        f"{path}: the store is busy: {what}. Waited {waited_s:g} s; retry when that process "
        "finishes (or point --db / $LIQCASCADE_DB at another store)."
    )


class Store:
    """An open DuckDB market-data store.

    Parameters
    ----------
    path:
        Database file. ``None`` uses :func:`default_db_path` (``$LIQCASCADE_DB`` or the user data
        directory). The file and its folder are created when missing (unless ``read_only``).
    read_only:
        Open without the write lock, so several readers can share the file.
    lock_wait_s:
        While another process holds the file (DuckDB lets one process write, and no other
        process open the file meanwhile, not even to read), retry for up to this many seconds,
        then raise :class:`DataError` saying the store is busy and which process holds it.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with Store(pathlib.Path(tempfile.mkdtemp()) / "m.duckdb") as s:
    ...     s.summary().height
    0
    """

    def __init__(
        self,
        path: str | Path | None = None,
        read_only: bool = False,
        *,
        lock_wait_s: float = LOCK_WAIT_S,
    ) -> None:
        self.path = Path(path).expanduser() if path is not None else default_db_path()
        self.read_only = read_only
        if read_only and not self.path.exists():
            raise DataError(
                f"{self.path}: no market-data store here (run `liqcascade data ingest`)"
            )
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.con = _connect(self.path, read_only, lock_wait_s)
        self.con.execute("SET TimeZone='UTC'")
        if not read_only:
            self._create_schema()
        logger.debug("opened market store %s (read_only=%s)", self.path, read_only)

    # -- lifecycle -------------------------------------------------------------------------
    def _create_schema(self) -> None:
        con = self.con
        con.execute("BEGIN")
        con.execute("CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
        con.execute("CREATE SEQUENCE IF NOT EXISTS file_id_seq START 1")
        con.execute(_FILES_DDL)
        for name, ddl in {**TABLES, **RESULT_TABLES}.items():
            con.execute(f"CREATE TABLE IF NOT EXISTS {name} ({ddl})")
        con.execute(
            "INSERT INTO meta VALUES ('schema_version', ?) ON CONFLICT DO NOTHING",
            [str(SCHEMA_VERSION)],
        )
        con.execute("COMMIT")

    def close(self) -> None:
        """Close the connection (a checkpoint folds the write-ahead log into the file)."""
        try:
            self.con.close()
        except duckdb.Error:  # pragma: no cover - closing twice
            pass

    def __enter__(self) -> Store:
        return self

    @contextlib.contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """``with store.transaction() as con:`` -- every statement inside commits together, or
        none does (rolled back on any exception, which is re-raised)."""
        if self.read_only:
            raise DataError(f"{self.path}: opened read-only; cannot write")
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield self.con
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- generic ---------------------------------------------------------------------------
    def sql(self, query: str, params: Sequence[Any] | None = None) -> pl.DataFrame:
        """Run any SQL on the store and return a polars frame."""
        try:
            rel = self.con.sql(query, params=list(params) if params else None)
            if rel is None:  # a statement without a result (DDL)
                return pl.DataFrame()
            return pl.from_arrow(rel.to_arrow_table())  # type: ignore[return-value]
        except duckdb.Error as exc:
            raise DataError(f"{self.path}: query failed: {exc}") from None

    def _has_table(self, name: str) -> bool:
        rows = self.con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]
        ).fetchall()
        return bool(rows[0][0])

    def _select(
        self,
        table: str,
        columns: str,
        venue: str | None,
        symbol: str | None,
        start: TimeLike,
        end: TimeLike,
        extra: list[tuple[str, Any]] | None = None,
        order: str | None = None,
        unique: str | None = None,
    ) -> pl.DataFrame:
        if not self._has_table(table):
            raise DataError(f"{self.path}: no table {table!r} (empty or foreign database)")
        where: list[str] = []
        params: list[Any] = []
        if venue is not None:
            where.append("venue = ?")
            params.append(venue)
        if symbol is not None:
            where.append("symbol = ?")
            params.append(symbol)
        tcol = TIME_COLUMN[table]
        s, e = to_utc(start, "start"), to_utc(end, "end")
        if s is not None and tcol:
            where.append(f"{tcol} >= ?")
            params.append(s)
        if e is not None and tcol:
            where.append(f"{tcol} < ?")
            params.append(e)
        for clause, value in extra or []:
            where.append(clause)
            params.append(value)
        q = f"SELECT {columns} FROM {table}"
        if where:
            q += " WHERE " + " AND ".join(where)
        if unique:
            # overlapping files (a monthly file and its days, a fetch over stored days): one row
            # per natural key, from the most recently ingested file
            q += f" QUALIFY row_number() OVER (PARTITION BY {unique} ORDER BY file_id DESC) = 1"
        q += f" ORDER BY {order or tcol or 'file_id'}"
        return self.sql(q, params)

    # -- query API -------------------------------------------------------------------------
    def klines(
        self,
        venue: str,
        symbol: str,
        start: TimeLike = None,
        end: TimeLike = None,
        interval: str | None = None,
        kind: str = "trade",
    ) -> pl.DataFrame:
        """Candles of one venue/symbol/kind, ordered by ``open_time``.

        ``kind`` is ``trade`` (traded price, volumes in the venue's units: base asset on USDⓈ-M and
        spot, contracts on COIN-M), ``mark``, ``index``, ``premium`` or ``price`` (a Binance
        price-only file whose name did not say mark or index). ``interval`` like ``1m``; when None
        and several intervals are stored, a DataError asks to choose.
        """
        extra: list[tuple[str, Any]] = [("kind = ?", kind)]
        if interval is None:
            got = self.con.execute(
                "SELECT DISTINCT interval FROM klines WHERE venue=? AND symbol=? AND kind=?",
                [venue, symbol, kind],
            ).fetchall()
            if len(got) > 1:
                raise DataError(
                    f"klines {venue}/{symbol}/{kind}: several intervals stored "
                    f"({', '.join(sorted(g[0] for g in got))}); pass interval="
                )
        else:
            extra.append(("interval = ?", interval))
        cols = _query_columns("klines")
        return self._select(
            "klines", cols, venue, symbol, start, end, extra, unique="interval, open_time"
        )

    def trades(
        self, venue: str, symbol: str, start: TimeLike = None, end: TimeLike = None
    ) -> pl.DataFrame:
        """Individual trades (or user fills), ordered by time.

        ``side`` is the aggressor: +1 buyer took liquidity, -1 seller, 0 unknown.
        ``notional_quote`` = price * size_base.
        """
        cols = _query_columns(
            "trades", drop=("quote_qty", "is_best_match"), after={"size_base": [_NOTIONAL]}
        )
        return self._select("trades", cols, venue, symbol, start, end, order="time, trade_id")

    def agg_trades(
        self, venue: str, symbol: str, start: TimeLike = None, end: TimeLike = None
    ) -> pl.DataFrame:
        """Binance aggregated trades, ordered by time then id.

        ``side`` = -1 when the buyer was the maker (a seller hit the bid), else +1.
        """
        cols = _query_columns(
            "agg_trades", after={"size_base": [_NOTIONAL], "last_trade_id": [_AGGRESSOR_SIDE]}
        )
        return self._select(
            "agg_trades", cols, venue, symbol, start, end, order="time, agg_trade_id"
        )

    def book_depth(
        self, venue: str, symbol: str, start: TimeLike = None, end: TimeLike = None
    ) -> pl.DataFrame:
        """Depth bands: cumulative size within ``percentage`` % of mid (negative = bids)."""
        return self._select(
            "book_depth",
            _query_columns("book_depth"),
            venue,
            symbol,
            start,
            end,
            order="time, percentage",
            unique="time, percentage",
        )

    def funding(
        self, venue: str, symbol: str, start: TimeLike = None, end: TimeLike = None
    ) -> pl.DataFrame:
        """Funding settlements: ``funding_rate`` is a fraction per interval (0.0001 = 1 bp)."""
        cols = _query_columns("funding")
        return self._select("funding", cols, venue, symbol, start, end, unique="time")

    def open_interest(
        self, venue: str, symbol: str, start: TimeLike = None, end: TimeLike = None
    ) -> pl.DataFrame:
        """Open interest (base units and quote notional) and Binance's long/short metrics.

        Hyperliquid asset contexts also carry open interest; they are included here with
        ``open_interest_quote`` = open interest * mark price.
        """
        cols = _query_columns("open_interest")
        oi = self._select("open_interest", cols, venue, symbol, start, end, unique="time")
        ctx_cols = _query_columns_as(
            "open_interest", "asset_ctx", {"open_interest_quote": "open_interest_base * mark_price"}
        )
        ctx = self._select("asset_ctx", ctx_cols, venue, symbol, start, end)
        ctx = ctx.filter(pl.col("open_interest_base").is_not_null())
        if ctx.height == 0:
            return oi
        return pl.concat([oi, ctx], how="vertical_relaxed").sort("time")

    def liquidations(
        self, venue: str, symbol: str, start: TimeLike = None, end: TimeLike = None
    ) -> pl.DataFrame:
        """Forced orders. ``order_side`` +1 = a buy order (a short was liquidated), -1 = a sell."""
        return self._select(
            "liquidations", _query_columns("liquidations"), venue, symbol, start, end
        )

    def asset_contexts(
        self, venue: str, symbol: str, start: TimeLike = None, end: TimeLike = None
    ) -> pl.DataFrame:
        """Hyperliquid asset contexts (funding, open interest, mark/oracle/mid/impact prices)."""
        cols = _query_columns("asset_ctx")
        return self._select("asset_ctx", cols, venue, symbol, start, end, unique="time")

    def leverage_brackets(self, venue: str, symbol: str, as_of: TimeLike = None) -> pl.DataFrame:
        """The latest stored bracket table of a symbol (or the latest at/before ``as_of``).

        Columns: bracket, floor_quote, cap_quote (position notional bounds, quote currency), mmr
        (maintenance-margin rate, fraction), cum_quote (maintenance amount), max_leverage,
        snapshot_time. A snapshot is one source file; snapshots without a time sort by ingestion.
        """
        params: list[Any] = [venue, symbol]
        cond = ""
        t = to_utc(as_of, "as_of")
        if t is not None:
            cond = " AND (b.snapshot_time IS NULL OR b.snapshot_time <= ?)"
            params.append(t)
        q = f"""
            WITH cand AS (
                SELECT b.file_id, max(b.snapshot_time) AS st FROM leverage_brackets b
                WHERE b.venue = ? AND b.symbol = ?{cond} GROUP BY b.file_id),
            pick AS (SELECT file_id FROM cand ORDER BY st DESC NULLS FIRST, file_id DESC LIMIT 1)
            SELECT {_query_columns("leverage_brackets")}
            FROM leverage_brackets WHERE venue = ? AND symbol = ?
              AND file_id IN (SELECT file_id FROM pick)
            ORDER BY bracket"""
        return self.sql(q, [*params, venue, symbol])

    def positions(self, venue: str | None = None, symbol: str | None = None) -> pl.DataFrame:
        """ccxt unified positions that were ingested (side +1 long, -1 short)."""
        return self._select("positions", "*", venue, symbol, None, None, order="file_id, symbol")

    def analysis(self, dataset: str | None = None) -> pl.DataFrame:
        """Generic analysis tables (one JSON record per source row), e.g. Hyperliquid ADL waves.

        With ``dataset`` (the file stem, e.g. ``policy_per_wave_metrics``) the JSON records are
        expanded into columns.
        """
        extra = [("dataset = ?", dataset)] if dataset is not None else []
        df = self._select(
            "analysis",
            _query_columns(
                "analysis", drop=("symbol",), expr={"record": "CAST(record AS VARCHAR)"}
            ),
            None,
            None,
            None,
            None,
            extra,
            order="file_id, row_number",
        )
        if dataset is None or df.height == 0:
            return df
        import json

        recs = [json.loads(r) for r in df["record"]]
        return pl.DataFrame(recs, infer_schema_length=None)

    # -- inventory -------------------------------------------------------------------------
    def summary(self) -> pl.DataFrame:
        """What is stored: one row per (table, venue, symbol, kind, interval) with row counts and
        the first/last time (UTC)."""
        parts = []
        for table, tcol in TIME_COLUMN.items():
            if not self._has_table(table):
                continue
            kind = (
                "kind"
                if table == "klines"
                else ("'analysis:' || dataset" if table == "analysis" else f"'{table}'")
            )
            interval = "interval" if table == "klines" else "CAST(NULL AS VARCHAR)"
            symbol = "coalesce(symbol, '')" if table == "analysis" else "symbol"
            t = tcol or "NULL"
            parts.append(
                f"SELECT '{table}' AS \"table\", venue, {symbol} AS symbol, {kind} AS kind, "
                f"{interval} AS interval, count(*) AS rows, min({t}) AS first, max({t}) AS last "
                f"FROM {table} GROUP BY ALL"
            )
        if not parts:
            return pl.DataFrame()
        q = " UNION ALL ".join(parts) + ' ORDER BY venue, symbol, "table", kind, interval'
        return self.sql(q)

    def files(self) -> pl.DataFrame:
        """The registry of ingested files (one row per distinct file content)."""
        return self.sql("SELECT * FROM files ORDER BY file_id")

    def table_rows(self, table: str) -> int:
        """Number of rows in one table."""
        if table not in TABLES and table not in RESULT_TABLES and table != "files":
            raise InputError(
                f"unknown table {table!r}; expected one of {sorted({**TABLES, **RESULT_TABLES})}"
            )
        return int(self.con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])
