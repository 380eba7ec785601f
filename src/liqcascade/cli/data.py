"""``liqcascade data``: ingest exchange files, list and query the store, fetch through ccxt."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from liqcascade.cli._common import (
    Col,
    DbOpt,
    FormatOpt,
    JsonOpt,
    OutputFormat,
    OutputFormatOpt,
    console,
    emit,
    err_console,
    fail,
    output_format,
    print_json,
    progress,
    sub_app,
)


def _iso(v: Any) -> Any:
    return v.isoformat() if isinstance(v, datetime) else v


def register(app: typer.Typer) -> None:
    data_app = sub_app(
        app,
        "data",
        "Market data: ingest exchange files, list/query the DuckDB store, fetch via ccxt.",
    )

    @data_app.command("ingest")
    def ingest(
        paths: Annotated[list[Path], typer.Argument(help="Files or folders (recursive).")],
        db: DbOpt = None,
        format: Annotated[
            str | None, typer.Option("--format", help="Force a format (see `data formats`).")
        ] = None,
        venue: Annotated[str | None, typer.Option(help="Override the venue.")] = None,
        symbol: Annotated[str | None, typer.Option(help="Override the symbol.")] = None,
        out_fmt: OutputFormatOpt = OutputFormat.table,
        as_json: Annotated[
            bool, typer.Option("--json", help="Same as --output-format json.")
        ] = False,
    ) -> None:
        """Ingest exchange data files into the store (idempotent; one transaction per file).

        Exit code 0 when every file went in (or was already there / skipped), 1 when any failed.
        """
        from liqcascade.data.ingest import expand_paths, ingest_paths
        from liqcascade.errors import LiqcascadeError

        fmt_ = output_format(out_fmt, as_json)
        files = expand_paths(paths)
        if not files:
            fail("no files found under the given paths")
        done = [0]
        try:
            with progress("ingest", total=len(files), enabled=fmt_ == "table") as bar:

                def on_event(event: str, path: Path, res: Any) -> None:
                    if event == "start":
                        bar(description=path.name)
                    else:
                        done[0] += 1
                        bar(done[0])

                report = ingest_paths(
                    files, db, format=format, venue=venue, symbol=symbol, progress=on_event
                )
        except LiqcascadeError as exc:
            fail(str(exc))
        if fmt_ != "table":
            rows = [
                {
                    "file": f.path,
                    **{
                        k: getattr(f, k)
                        for k in ("status", "format", "venue", "symbol", "rows", "seconds")
                    },
                }
                for f in report.files
            ]
            emit(
                rows,
                [],
                fmt=fmt_,
                json_doc=report.as_dict(),
                csv_keys=list(rows[0]) if rows else ["file"],
            )
        else:
            styles = {"failed": "red", "duplicate": "dim", "skipped": "dim"}
            emit(
                [
                    {
                        "file": Path(f.path).name,
                        "status": f.status,
                        "format": f.format or "",
                        "venue": f.venue or "",
                        "symbol": f.symbol or "",
                        "rows": f.rows,
                        "s": f.seconds,
                    }
                    for f in report.files
                ],
                [
                    Col("file", kind="text"),
                    Col("status", kind="text", style=lambda v: styles.get(v)),
                    Col("format", kind="text"),
                    Col("venue", kind="text"),
                    Col("symbol", kind="text"),
                    Col("rows", kind="count"),
                    Col("s", kind="ratio", justify="right"),
                ],
                title=f"ingested into {report.db}",
            )
            counts: dict[str, int] = {}
            for f in report.files:
                counts[f.status] = counts.get(f.status, 0) + 1
            console.print(
                f"{report.rows_added:,} rows added in {report.seconds:.1f} s; "
                + ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
            )
            for f in report.failed:
                err_console.print(
                    f"[red]error:[/red] {f.error}", soft_wrap=True, markup=True, highlight=False
                )
        if not report.ok:
            raise typer.Exit(1)

    @data_app.command("ls")
    def ls(
        db: DbOpt = None,
        as_json: JsonOpt = False,
        files: Annotated[
            bool, typer.Option("--files", help="List ingested files instead.")
        ] = False,
        fmt: FormatOpt = OutputFormat.table,
    ) -> None:
        """Show what is stored: rows and first/last time (UTC) per venue, symbol and kind."""
        from liqcascade.data.store import Store, default_db_path

        fmt_ = output_format(fmt, as_json)

        path = db or default_db_path()
        if not Path(path).exists():
            if fmt_ == "json":
                print_json([])
                return
            fail(f"{path}: no store yet; run `liqcascade data ingest PATH`")
        with Store(path, read_only=True) as store:
            df = store.files() if files else store.summary()
        recs = [{k: _iso(v) for k, v in r.items()} for r in df.to_dicts()]
        if fmt_ != "table":
            emit(recs, [], fmt=fmt_, json_doc=recs, csv_keys=list(df.columns))
            return
        cols = (
            ["file_id", "name", "format", "venue", "symbol", "rows", "first_time", "last_time"]
            if files
            else ["table", "venue", "symbol", "kind", "interval", "rows", "first", "last"]
        )
        times = ("first", "last", "first_time", "last_time")
        shown = [
            {
                c: (r[c][:19].replace("T", " ") if c in times and isinstance(r[c], str) else r[c])
                for c in cols
            }
            for r in recs
        ]  # times: UTC, to the second
        emit(
            shown,
            [Col(c, kind="count" if c == "rows" else "text") for c in cols],
            title=f"{path} (times UTC)",
        )

    @data_app.command("formats")
    def formats(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
        """List the file formats `data ingest` reads."""
        from liqcascade.data.ingest import FORMATS

        if as_json:
            print_json(FORMATS)
            return
        for k, v in FORMATS.items():
            console.print(f"[bold]{k}[/bold]  {v}")

    @data_app.command("query")
    def query(
        sql: Annotated[str, typer.Argument(help="SQL to run on the store (read-only).")],
        db: DbOpt = None,
        as_json: JsonOpt = False,
        limit: Annotated[int, typer.Option(help="Rows to print.")] = 50,
        fmt: FormatOpt = OutputFormat.table,
    ) -> None:
        """Run a read-only SQL query on the store and print the result (at most --limit rows)."""
        from liqcascade.data.store import Store

        fmt_ = output_format(fmt, as_json)
        with Store(db, read_only=True) as store:
            df = store.sql(sql)
        recs = [{k: _iso(v) for k, v in r.items()} for r in df.head(limit).to_dicts()]
        cols = [Col(c, kind="number" if dt.is_float() else "text") for c, dt in df.schema.items()]
        emit(recs, cols, fmt=fmt_, title=f"{min(limit, df.height):,} of {df.height:,} rows")

    @data_app.command("fetch")
    def fetch_cmd(
        exchange: Annotated[
            str, typer.Option(help="ccxt exchange id: binanceusdm, hyperliquid, bybit, okx.")
        ],
        symbol: Annotated[
            str, typer.Option(help="ccxt symbol (BTC/USDT:USDT) or venue id (BTCUSDT).")
        ],
        kind: Annotated[str, typer.Option(help="ohlcv, funding, oi or tiers.")] = "ohlcv",
        since: Annotated[
            str | None, typer.Option(help="Start time (ISO-8601 UTC or epoch ms).")
        ] = None,
        until: Annotated[str | None, typer.Option(help="End time (exclusive).")] = None,
        timeframe: Annotated[str, typer.Option(help="Candle/OI period, e.g. 1m, 5m, 1h.")] = "1m",
        price: Annotated[str, typer.Option(help="OHLCV price: trade, mark or index.")] = "trade",
        db: DbOpt = None,
        timeout_s: Annotated[
            float, typer.Option("--timeout-s", help="HTTP timeout, seconds.")
        ] = 15.0,
        as_json: Annotated[bool, typer.Option("--json")] = False,
    ) -> None:
        """Fetch market data through ccxt and store it (same tables as files)."""
        from liqcascade.data.fetch import fetch_to_store
        from liqcascade.errors import LiqcascadeError

        try:
            res = fetch_to_store(
                exchange,
                symbol,
                kind,
                since=since,
                until=until,
                timeframe=timeframe,
                price=price,
                db=db,
                timeout_s=timeout_s,
            )
        except LiqcascadeError as exc:
            fail(str(exc))
        if as_json:
            print_json(res)
        else:
            console.print(
                f"{res['records']:,} {kind} records from {exchange} {symbol} -> {res['file']} "
                f"({res['status']}, {res['rows']:,} rows stored)"
            )
