"""``liqcascade calibrate``: fit the market model on kline files (docs/market-model.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from liqcascade.cli._common import Col, FormatOpt, OutputFormat, emit, note, output_format, progress

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    @app.command("calibrate")
    def calibrate(
        paths: Annotated[list[Path], typer.Argument(help="Binance 1m kline CSV files")],
        out: Annotated[Path, typer.Option(help="Parameters file to write (TOML)")] = Path(
            "params.toml"
        ),
        bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples over files")] = 40,
        seed: Annotated[int, typer.Option(help="Bootstrap seed")] = 20251010,
        fmt: FormatOpt = OutputFormat.table,
        json_out: Annotated[bool, typer.Option("--json", help="Same as --format json")] = False,
    ) -> None:
        """Fit the market model on kline files; write values, standard errors and fit metrics."""
        from liqcascade.calibrate import calibrate_files
        from liqcascade.market import write_params

        fmt_ = output_format(fmt, json_out)
        with progress("calibrate (point fit + bootstrap)", enabled=fmt_ == "table") as bar:
            res = calibrate_files(
                [str(p) for p in paths], n_boot=bootstrap, seed=seed, progress=bar
            )
        write_params(out, res.params, header="liqcascade market-model parameters (calibrate)")
        rows = res.table()
        emit(
            rows,
            [
                Col("param", "parameter", kind="text"),
                Col("value", kind="number"),
                Col("stderr", "std. error", kind="number"),
                Col("identified", kind="bool", style=lambda v: None if v else "red"),
            ],
            fmt=fmt_,
            title=f"market model fitted on {len(res.files)} files",
            json_doc={"out": str(out), "fit": res.params.fit, "params": rows},
        )
        if fmt_ != "table":
            return
        f = res.params.fit
        note(
            f"{f['n_bars']:,} bars; impact weighted R2 {f['impact_weighted_r2']:.3f}; "
            f"{f['bootstrap_resamples']} bootstrap resamples (seed {f['bootstrap_seed']}); "
            "book priors (open interest, forced-flow cap, old-entry dispersion) are stated, "
            f"not fitted. Written to {out}"
        )
