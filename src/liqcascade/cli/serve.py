"""``liqcascade serve``: the web dashboard and HTTP API on uvicorn."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve(
        host: str = typer.Option("127.0.0.1", help="Interface to bind (default: localhost only)."),
        port: int = typer.Option(8000, min=0, max=65535, help="TCP port (0 picks a free one)."),
        db: Path | None = typer.Option(
            None, "--db", help="DuckDB market-data store for the map and replay pages."
        ),
        data_dir: Path | None = typer.Option(
            None,
            "--data-dir",
            help="The only directory requests may read or write (uploads go here). "
            "Default: $LIQCASCADE_WEB_DATA or the user data directory.",
        ),
        workers: int = typer.Option(2, min=1, max=32, help="Threads for background jobs."),
    ) -> None:
        """Serve the dashboard (liquidation map, cascade simulator, replay, risk, policy) and its JSON API."""
        from liqcascade._optional import require

        require("liqcascade serve", "fastapi", "python_multipart", "plotly", "uvicorn", extra="web")
        import uvicorn

        from liqcascade.web.app import WebConfig, create_app, default_data_dir

        if host not in ("127.0.0.1", "localhost", "::1"):
            typer.echo(f"warning: binding to {host}: the dashboard has no authentication", err=True)
        config = WebConfig(data_dir=data_dir or default_data_dir(), db_path=db, job_workers=workers)
        application = create_app(config)
        typer.echo(
            f"liqcascade dashboard on http://{host}:{port}/  (data dir {application.state.lc.data_dir})"
        )
        uvicorn.run(application, host=host, port=port, log_level="info")
