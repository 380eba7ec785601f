"""``liqcascade stress SCENARIO.toml``: Monte Carlo stress test of a scenario file."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated

import typer

from liqcascade.cli._common import (
    Col,
    DbOpt,
    Output,
    emit,
    make_table,
    note,
    option_group,
    print_table,
    progress,
    status,
)


@option_group
@dataclasses.dataclass(frozen=True)
class Backend:
    """Where the paths run (:func:`liqcascade.sweep.run_stress`); results do not depend on it."""

    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            "-w",
            help="Local worker processes (0 = in process; default: CPU count).",
        ),
    ] = None
    dask_local: Annotated[
        int | None,
        typer.Option("--dask-local", help="Start a Dask LocalCluster with N workers."),
    ] = None
    scheduler: Annotated[
        str | None,
        typer.Option("--scheduler", help="Run on an existing Dask cluster (tcp://HOST:PORT)."),
    ] = None
    chunk_size: Annotated[
        int | None,
        typer.Option("--chunk-size", help="Paths per task (results do not depend on it)."),
    ] = None


def _value_cell(row: dict) -> str:
    from liqcascade.fmt import money, number

    if row["stat"] == "probability":
        return number(row["value"])
    return money(row["value"])


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
        backend: Backend = Backend(),
        store: bool = typer.Option(
            False,
            "--store",
            help="Also append the run to the DuckDB store (stress_runs, stress_results).",
        ),
        db: DbOpt = None,
        output: Output = Output(),
    ) -> None:
        """Monte Carlo stress test: liquidations, bad debt, insurance fund and ADL over many paths."""
        from liqcascade.scenarios import load_scenario
        from liqcascade.sweep import prepare, run_stress, store_results

        fmt_ = output.format
        sc = load_scenario(scenario)
        with status("preparing scenario (book, fit, index)..."):
            runner = prepare(sc, seed)
        n = paths if paths is not None else sc.monte_carlo.paths
        with progress(f"stress {sc.scenario.name}", total=n, unit="paths") as bar:
            res = run_stress(
                runner,
                paths=n,
                **dataclasses.asdict(backend),
                progress=lambda done, total: bar(done, total),
            )
        if out is not None:
            res.write_parquet(out)
        run_id = store_results(res, db) if store else None
        doc = {
            "scenario": sc.scenario.name,
            "seed": res.meta["seed"],
            "paths": n,
            "backend": res.meta["backend"],
            "run_s": res.meta["run_s"],
            "out": str(out) if out else None,
            "run_id": run_id,
            "summary": res.summary.to_dicts(),
        }
        m = res.meta
        rows = []
        for row in res.summary.iter_rows(named=True):
            lo, hi = dict(row, value=row["ci_low"]), dict(row, value=row["ci_high"])
            rows.append(
                {
                    **row,
                    "value_cell": _value_cell(row),
                    "ci_cell": f"[{_value_cell(lo)}, {_value_cell(hi)}]",
                }
            )
        if fmt_ != "table":
            emit(rows, [], fmt=fmt_, json_doc=doc, csv_keys=list(res.summary.columns))
            return
        table = make_table(
            rows,
            [
                Col("metric", kind="text"),
                Col("stat", kind="text"),
                Col("value_cell", "value", kind="text", justify="right"),
                Col("ci_cell", f"{sc.monte_carlo.confidence:.0%} CI", kind="text", justify="right"),
            ],
            title=f"{sc.scenario.name}: {n:,} paths, seed {m['seed']}, {m['n_positions']:,} positions, "
            f"shock {m['shock_kind']}, behaviours {', '.join(m['behaviours']) or 'none'}",
        )
        table.title_justify = "left"
        print_table(table)
        note(
            f"{n:,} paths in {m['run_s']:.2f} s on {m['backend']} (prepare {m['prepare_s']:.2f} s)"
            + (f"; per-path results: {out}" if out else "")
            + (f"; stored as run {run_id}" if run_id else "")
        )
