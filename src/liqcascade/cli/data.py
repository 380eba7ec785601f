"""``liqcascade data``: ingest exchange files, list and query the store, fetch through ccxt."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from liqcascade.cli._common import console, err_console, fail, print_json

DbOpt = Annotated[
    Path | None,
    typer.Option("--db", help="DuckDB store (default: $LIQCASCADE_DB or the user data directory)."),
]


def _iso(v: Any) -> Any:
    return v.isoformat() if isinstance(v, datetime) else v


def register(app: typer.Typer) -> None:
    data_app = typer.Typer(
        help="Market data: ingest exchange files, list/query the DuckDB store, fetch via ccxt.",
        no_args_is_help=True,
    )
    app.add_typer(data_app, name="data")

    @data_app.command("ingest")
    def ingest(
        paths: Annotated[list[Path], typer.Argument(help="Files or folders (recursive).")],
        db: DbOpt = None,
        format: Annotated[
            str | None, typer.Option("--format", help="Force a format (see `data formats`).")
        ] = None,
        venue: Annotated[str | None, typer.Option(help="Override the venue.")] = None,
        symbol: Annotated[str | None, typer.Option(help="Override the symbol.")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    ) -> None:
        """Ingest exchange data files into the store (idempotent; one transaction per file).

        Exit code 0 when every file went in (or was already there / skipped), 1 when any failed.
        """
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )
        from rich.table import Table

        from liqcascade.data.ingest import expand_paths, ingest_paths
        from liqcascade.errors import LiqcascadeError

        files = expand_paths(paths)
        if not files:
            fail("no files found under the given paths")
        total = sum(f.stat().st_size for f in files if f.is_file())
        progress = Progress(
            TextColumn("[bold]ingest[/bold] {task.fields[name]}", justify="left"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
            disable=as_json,
        )
        task = progress.add_task("ingest", total=len(files), name="", bytes=total)

        def on_event(event: str, path: Path, res: Any) -> None:
            if event == "start":
                progress.update(task, name=path.name)
            else:
                progress.advance(task)

        try:
            with progress:
                report = ingest_paths(
                    files, db, format=format, venue=venue, symbol=symbol, progress=on_event
                )
        except LiqcascadeError as exc:
            fail(str(exc))
        if as_json:
            print_json(report.as_dict())
        else:
            table = Table(title=f"ingested into {report.db}")
            for col in ("file", "status", "format", "venue", "symbol", "rows", "s"):
                table.add_column(col, justify="right" if col in ("rows", "s") else "left")
            for f in report.files:
                style = {"failed": "red", "duplicate": "dim", "skipped": "dim"}.get(f.status, "")
                table.add_row(
                    Path(f.path).name,
                    f"[{style}]{f.status}[/{style}]" if style else f.status,
                    f.format or "",
                    f.venue or "",
                    f.symbol or "",
                    f"{f.rows:,}",
                    f"{f.seconds:.2f}",
                )
            console.print(table)
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
        as_json: Annotated[bool, typer.Option("--json", help="JSON list of objects.")] = False,
        files: Annotated[
            bool, typer.Option("--files", help="List ingested files instead.")
        ] = False,
    ) -> None:
        """Show what is stored: rows and first/last time (UTC) per venue, symbol and kind."""
        from rich.table import Table

        from liqcascade.data.store import Store, default_db_path

        path = db or default_db_path()
        if not Path(path).exists():
            if as_json:
                print_json([])
                return
            fail(f"{path}: no store yet; run `liqcascade data ingest PATH`")
        with Store(path, read_only=True) as store:
            df = store.files() if files else store.summary()
        recs = [{k: _iso(v) for k, v in r.items()} for r in df.to_dicts()]
        if as_json:
            print_json(recs)
            return
        table = Table(title=f"{path} (times UTC)")
        cols = (
            ["file_id", "name", "format", "venue", "symbol", "rows", "first_time", "last_time"]
            if files
            else ["table", "venue", "symbol", "kind", "interval", "rows", "first", "last"]
        )
        for c in cols:
            table.add_column(c, justify="right" if c == "rows" else "left")

        def cell(c: str, v: Any) -> str:
            if c == "rows":
                return f"{v:,}"
            if isinstance(v, str) and c in ("first", "last", "first_time", "last_time"):
                return v[:19].replace("T", " ")  # UTC, to the second
            return "" if v is None else str(v)

        for r in recs:
            table.add_row(*[cell(c, r[c]) for c in cols])
        console.print(table)

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
        as_json: Annotated[bool, typer.Option("--json")] = False,
        limit: Annotated[int, typer.Option(help="Rows to print.")] = 50,
    ) -> None:
        """Run a read-only SQL query on the store and print the result."""
        from liqcascade.data.store import Store

        with Store(db, read_only=True) as store:
            df = store.sql(sql)
        if as_json:
            print_json([{k: _iso(v) for k, v in r.items()} for r in df.head(limit).to_dicts()])
        else:
            import polars as pl

            with pl.Config(tbl_rows=limit, tbl_cols=-1, fmt_str_lengths=40):
                console.print(str(df.head(limit)))

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
