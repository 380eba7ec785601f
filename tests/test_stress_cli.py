"""``liqcascade stress``: runs a scenario, writes Parquet with the seed, stores runs, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import polars as pl
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from liqcascade.cli import app
from liqcascade.errors import ConfigError

SCENARIO = """
[scenario]
name = "cli-test"

[[venues]]
name = "binance_usdm"
symbol = "BTCUSDT"
impact = "linear:200"
insurance_fund_quote = 1.0e5

[book]
source = "synthetic"
n_positions = 5000
history_end = "2025-10-10T20:50:00"

[shock]
kind = "jump"
size_range = [-0.08, -0.01]

[behaviours.dip_buying]
levels = [-0.05]
notional_quote = [1.0e7]

[monte_carlo]
paths = 30
seed = 5
"""


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    p = tmp_path / "s.toml"
    p.write_text(SCENARIO)
    return p


def test_cli_writes_parquet_and_prints_summary(scenario: Path, tmp_path: Path) -> None:
    out = tmp_path / "res.parquet"
    r = CliRunner().invoke(
        app,
        [
            "stress",
            str(scenario),
            "--paths",
            "40",
            "--seed",
            "9",
            "--workers",
            "0",
            "--out",
            str(out),
        ],
    )
    assert r.exit_code == 0, r.output
    assert "LaR99" in r.output and "fund_exhausted" in r.output and "seed 9" in r.output
    df = pl.read_parquet(out)
    assert df.height == 40 and df["seed"].unique().to_list() == [9]
    meta = json.loads(pq.read_schema(out).metadata[b"liqcascade.meta"])
    assert (
        meta["seed"] == 9 and meta["shock_kind"] == "jump" and meta["behaviours"] == ["dip_buying"]
    )
    assert (tmp_path / "res.summary.parquet").exists()


def test_cli_json_and_store(scenario: Path, tmp_path: Path) -> None:
    db = tmp_path / "m.duckdb"
    r = CliRunner().invoke(
        app, ["stress", str(scenario), "--workers", "0", "--json", "--store", "--db", str(db)]
    )
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["paths"] == 30 and doc["seed"] == 5 and doc["run_id"]
    con = duckdb.connect(str(db), read_only=True)
    runs = con.execute("SELECT run_id, seed, paths FROM stress_runs").fetchall()
    assert runs == [(doc["run_id"], 5, 30)]
    n = con.execute(
        "SELECT count(DISTINCT path) FROM stress_results WHERE metric = 'liq_notional_quote'"
    ).fetchall()
    assert n == [(30,)]
    con.close()


def test_cli_bad_key_names_it(tmp_path: Path) -> None:
    p = tmp_path / "bad.toml"
    p.write_text(SCENARIO.replace('kind = "jump"', 'kind = "jmp"'))
    r = CliRunner().invoke(app, ["stress", str(p), "--paths", "2"])
    assert isinstance(r.exception, ConfigError)
    assert str(r.exception).startswith("bad.toml: shock.kind: expected one of jump|news|bridge")


def test_example_scenarios_run_small(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[1] / "examples"
    for f in sorted(root.glob("stress_*.toml")):
        r = CliRunner().invoke(app, ["stress", str(f), "--paths", "4", "--workers", "0", "--json"])
        assert r.exit_code == 0, (f, r.output)
        doc = json.loads(r.stdout)
        assert doc["paths"] == 4


def _result(paths: pl.DataFrame):
    from liqcascade.sweep import StressResult

    return StressResult(
        paths,
        pl.DataFrame({"metric": ["m"], "value": [1.0]}),
        {"scenario": "t.toml", "seed": 3, "backend": "inline"},
    )


def test_store_results_registered_tables_and_one_transaction(tmp_path: Path) -> None:
    from liqcascade.data import Store
    from liqcascade.data.store import RESULT_TABLES
    from liqcascade.errors import DataError
    from liqcascade.sweep import store_results

    db = tmp_path / "m.duckdb"
    # the store creates the result tables from its registry
    with Store(db) as st:
        assert {"stress_runs", "stress_results"} <= set(RESULT_TABLES)
        assert st.table_rows("stress_runs") == 0 and st.table_rows("stress_results") == 0
    # a null path breaks the second INSERT (NOT NULL): the first must be rolled back with it
    bad = _result(pl.DataFrame({"path": [0, None], "liq_notional_quote": [1.0, 2.0]}))
    with pytest.raises(DataError, match="nothing was written"):
        store_results(bad, db)
    with Store(db) as st:
        assert st.table_rows("stress_runs") == 0 and st.table_rows("stress_results") == 0
    # the store is usable afterwards and a good run lands whole
    good = _result(pl.DataFrame({"path": [0, 1], "liq_notional_quote": [1.0, 2.0]}))
    run_id = store_results(good, db)
    with Store(db) as st:
        assert st.sql("SELECT run_id, seed, paths FROM stress_runs").rows() == [(run_id, 3, 2)]
        assert st.table_rows("stress_results") == 2
