"""``liqcascade calibrate``: fit the market model on kline files (docs/market-model.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from liqcascade.cli._common import console, print_json

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
        json_out: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
    ) -> None:
        """Fit the market model on kline files; write values, standard errors and fit metrics."""
        from rich.table import Table

        from liqcascade.calibrate import calibrate_files
        from liqcascade.market import write_params

        res = calibrate_files([str(p) for p in paths], n_boot=bootstrap, seed=seed)
        write_params(out, res.params, header="liqcascade market-model parameters (calibrate)")
        if json_out:
            print_json({"out": str(out), "fit": res.params.fit, "params": res.table()})
            return
        t = Table(title=f"market model fitted on {len(res.files)} files")
        for c in ("parameter", "value", "std. error", "identified"):
            t.add_column(c, overflow="fold")
        for row in res.table():
            t.add_row(
                row["param"],
                f"{row['value']:.4g}",
                f"{row['stderr']:.2g}",
                "yes" if row["identified"] else "NO",
            )
        console.print(t)
        f = res.params.fit
        console.print(
            f"{f['n_bars']:,} bars; impact weighted R2 {f['impact_weighted_r2']:.3f}; "
            f"{f['bootstrap_resamples']} bootstrap resamples (seed {f['bootstrap_seed']}); "
            "book priors (open interest, forced-flow cap, old-entry dispersion) are stated, "
            f"not fitted. Written to {out}"
        )
