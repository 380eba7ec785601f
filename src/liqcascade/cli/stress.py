"""``liqcascade stress SCENARIO.toml``: Monte Carlo stress test of a scenario file."""

from __future__ import annotations

from pathlib import Path

import typer

from liqcascade.cli._common import console, err_console, print_json


def _fmt(x: float) -> str:
    import math

    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    a = abs(x)
    if a >= 1e9:
        return f"{x / 1e9:,.3f}B"
    if a >= 1e6:
        return f"{x / 1e6:,.2f}M"
    if a >= 1e4:
        return f"{x:,.0f}"
    return f"{x:.4g}"


def register(app: typer.Typer) -> None:
    @app.command("stress")
    def stress(
        scenario: Path = typer.Argument(..., help="Scenario TOML file (see docs/stress.md)."),
        paths: int = typer.Option(
            None, "--paths", "-n", help="Monte Carlo paths (default: [monte_carlo].paths)."
        ),
        seed: int = typer.Option(
            None, "--seed", "-s", help="Master seed (default: [monte_carlo].seed)."
        ),
        out: Path = typer.Option(
            None, "--out", "-o", help="Write per-path results as Parquet here."
        ),
        workers: int = typer.Option(
            None,
            "--workers",
            "-w",
            help="Local worker processes (0 = in process; default: CPU count).",
        ),
        dask_local: int = typer.Option(
            None, "--dask-local", help="Start a Dask LocalCluster with N workers."
        ),
        scheduler: str = typer.Option(
            None, "--scheduler", help="Run on an existing Dask cluster (tcp://HOST:PORT)."
        ),
        chunk_size: int = typer.Option(
            None, "--chunk-size", help="Paths per task (results do not depend on it)."
        ),
        store: bool = typer.Option(
            False,
            "--store",
            help="Also append the run to the DuckDB store (stress_runs, stress_results).",
        ),
        db: Path = typer.Option(
            None, "--db", help="DuckDB store path (default: $LIQCASCADE_DB or the user data dir)."
        ),
        as_json: bool = typer.Option(
            False, "--json", help="Print the summary as JSON instead of a table."
        ),
    ) -> None:
        """Monte Carlo stress test: liquidations, bad debt, insurance fund and ADL over many paths."""
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.table import Table

        from liqcascade.scenarios import load_scenario
        from liqcascade.sweep import prepare, run_stress, store_results

        sc = load_scenario(scenario)
        with err_console.status("preparing scenario (book, fit, index)..."):
            runner = prepare(sc, seed)
        n = paths if paths is not None else sc.monte_carlo.paths
        columns = (
            TextColumn("[bold]stress[/bold] {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("paths"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=err_console, transient=False) as prog:
            task = prog.add_task(sc.scenario.name, total=n)
            res = run_stress(
                runner,
                paths=n,
                workers=workers,
                dask_local=dask_local,
                scheduler=scheduler,
                chunk_size=chunk_size,
                progress=lambda done, total: prog.update(task, completed=done),
            )
        if out is not None:
            res.write_parquet(out)
        run_id = store_results(res, db) if store else None
        if as_json:
            print_json(
                {
                    "scenario": sc.scenario.name,
                    "seed": res.meta["seed"],
                    "paths": n,
                    "backend": res.meta["backend"],
                    "run_s": res.meta["run_s"],
                    "out": str(out) if out else None,
                    "run_id": run_id,
                    "summary": res.summary.to_dicts(),
                }
            )
            return
        m = res.meta
        table = Table(
            title=f"{sc.scenario.name}: {n:,} paths, seed {m['seed']}, {m['n_positions']:,} positions, "
            f"shock {m['shock_kind']}, behaviours {', '.join(m['behaviours']) or 'none'}",
            title_justify="left",
        )
        for col in ("metric", "stat", "value", f"{sc.monte_carlo.confidence:.0%} CI"):
            table.add_column(col, justify="left" if col in ("metric", "stat") else "right")
        for row in res.summary.iter_rows(named=True):
            if row["stat"] == "probability":
                val, ci = f"{row['value']:.4f}", f"[{row['ci_low']:.4f}, {row['ci_high']:.4f}]"
            else:
                val, ci = _fmt(row["value"]), f"[{_fmt(row['ci_low'])}, {_fmt(row['ci_high'])}]"
            table.add_row(row["metric"], row["stat"], val, ci)
        console.print(table)
        console.print(
            f"{n:,} paths in {m['run_s']:.2f} s on {m['backend']} (prepare {m['prepare_s']:.2f} s)"
            + (f"; per-path results: {out}" if out else "")
            + (f"; stored as run {run_id}" if run_id else "")
        )
