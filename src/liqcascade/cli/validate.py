"""``liqcascade validate``: score the market model on kline files (docs/market-model.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from liqcascade.cli._common import console, print_json

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    @app.command("validate")
    def validate(
        paths: Annotated[list[Path], typer.Argument(help="Binance 1m kline CSV files")],
        out: Annotated[Path, typer.Option(help="Output directory (forecast CSVs, JSON, HTML)")],
        db: Annotated[
            Path | None, typer.Option(help="DuckDB store holding history before each file")
        ] = None,
        params: Annotated[
            Path | None, typer.Option(help="Parameters file (default: the shipped calibration)")
        ] = None,
        paths_n: Annotated[int, typer.Option("--paths", help="Ensemble paths")] = 1000,
        seed: Annotated[int, typer.Option(help="Seed of every ensemble")] = 0,
        no_forecast: Annotated[
            bool, typer.Option("--no-forecast", help="Event replays only")
        ] = False,
        json_out: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
    ) -> None:
        """Event replays and rolling tail forecasts against baselines, per kline file."""
        from rich.table import Table

        from liqcascade.validate import table_rows, validate_files

        res = validate_files(
            [str(p) for p in paths],
            db=db,
            params=params,
            n_paths=paths_n,
            seed=seed,
            out_dir=out,
            forecast=not no_forecast,
        )
        if json_out:
            print_json(res.to_json())
            return
        t = Table(title=f"validation on {len(res.files)} files ({res.n_paths} paths, seed {seed})")
        for c in ("measure", "model", "impact-only", "EWMA (vol only)", "no change"):
            t.add_column(c, overflow="fold")
        for row in table_rows(res):
            t.add_row(*row)
        console.print(t)
        for f in res.files:
            for note in f.notes:
                console.print(f"{f.file}: {note}", markup=False)
        console.print(f"written: {out}/validation.json, {out}/validation.html, per-file forecasts")
