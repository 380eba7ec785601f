"""``liqcascade validate``: score the market model on kline files (docs/market-model.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from liqcascade.cli._common import Col, FormatOpt, OutputFormat, emit, note, output_format, progress

__all__ = ["register"]

_COLS = [
    Col("measure", kind="text"),
    Col("model", kind="text", justify="right"),
    Col("impact_only", "impact-only", kind="text", justify="right"),
    Col("ewma", "EWMA (vol only)", kind="text", justify="right"),
    Col("no_change", "no change", kind="text", justify="right"),
]


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
        fmt: FormatOpt = OutputFormat.table,
        json_out: Annotated[bool, typer.Option("--json", help="Same as --format json")] = False,
    ) -> None:
        """Event replays and rolling tail forecasts against baselines, per kline file."""
        from liqcascade.validate import table_rows, validate_files

        fmt_ = output_format(fmt, json_out)
        done = [0]
        with progress("validate", total=len(paths), enabled=fmt_ == "table") as bar:

            def on_file(name: str) -> None:
                done[0] += 1
                bar(done[0], description=str(name))

            res = validate_files(
                [str(p) for p in paths],
                db=db,
                params=params,
                n_paths=paths_n,
                seed=seed,
                out_dir=out,
                forecast=not no_forecast,
                progress=on_file,
            )
        rows = [dict(zip([c.key for c in _COLS], r, strict=False)) for r in table_rows(res)]
        emit(
            rows,
            _COLS,
            fmt=fmt_,
            title=f"validation on {len(res.files)} files ({res.n_paths} paths, seed {seed})",
            json_doc=res.to_json(),
        )
        if fmt_ != "table":
            return
        for f in res.files:
            for n in f.notes:
                note(f"{f.file}: {n}")
        note(f"written: {out}/validation.json, {out}/validation.html, per-file forecasts")
