"""`liqcascade cascade`: JSON contract, ladders, filters, errors, and the dynamic hand-off."""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path

import pytest
from typer.testing import CliRunner

from liqcascade.book import PositionBook
from liqcascade.cli import app
from liqcascade.engine.static import StaticCascade
from liqcascade.errors import InputError
from liqcascade.impact import DepthCurveImpact, LinearImpact

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "positions_btc.csv"
BOOKDEPTH = (
    files("liqcascade")
    / "sample_data"
    / "binance"
    / "um"
    / "bookDepth"
    / "BTCUSDT-bookDepth-2025-10-10.csv"
)
KEYS = {
    "shock",
    "initial_price",
    "shocked_price",
    "final_price",
    "liquidated_count",
    "liquidated_base",
    "liquidated_notional",
    "cascade_multiplier",
    "book_exhausted",
}
runner = CliRunner()


def _run(*args: str):
    return runner.invoke(app, ["cascade", "--positions", str(EXAMPLE), "--price", "120000", *args])


@pytest.fixture(scope="module")
def book() -> PositionBook:
    return PositionBook.from_csv(EXAMPLE)


def test_single_shock_json_object_matches_api(book):
    res = _run("--shock", "-0.1", "--impact", "linear:1500", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert isinstance(out, dict) and KEYS <= set(out)
    ref = StaticCascade(book, LinearImpact(1500.0), 120_000.0).solve(-0.1)
    assert out["liquidated_count"] == ref.liquidated_count > 0
    assert out["final_price"] == ref.final_price
    assert out["liquidated_notional"] == pytest.approx(ref.liquidated_notional, rel=1e-12)
    assert out["shocked_price"] == pytest.approx(108_000.0)
    assert out["venue"] == "binance_usdm" and out["symbol"] == "BTCUSDT"


def test_ladder_range_and_list(book):
    res = _run("--shock=-0.3:-0.05:0.05", "--impact", f"depth:{BOOKDEPTH}@12:00", "--json")
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    assert [r["shock"] for r in rows] == [-0.3, -0.25, -0.2, -0.15, -0.1, -0.05]
    counts = [r["liquidated_count"] for r in rows]
    assert counts == sorted(counts, reverse=True)  # a larger shock never liquidates less
    impact = DepthCurveImpact.from_bookdepth(BOOKDEPTH, at="12:00")
    ref = StaticCascade(book, impact, 120_000.0).solve(-0.2)
    assert rows[2]["final_price"] == ref.final_price
    res = _run("--shock", "-0.05,0.05", "--impact", "sqrt:0.8,0.035,150000", "--json")
    rows = json.loads(res.output)
    assert len(rows) == 2 and rows[1]["final_price"] > rows[1]["shocked_price"] == pytest.approx(
        126_000.0
    )


def test_table_output_and_filters():
    res = _run(
        "--shock", "-0.1", "--impact", "linear:1500", "--venue", "binance", "--symbol", "BTCUSDT"
    )
    assert res.exit_code == 0, res.output
    assert "liquidated" in res.output and "108,000.00" in res.output
    res = _run("--shock", "-0.1", "--impact", "linear:1500", "--symbol", "ETHUSDT")
    assert isinstance(res.exception, InputError)
    assert "no positions in symbol 'ETHUSDT'" in str(res.exception)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--shock", "-1.2", "--impact", "linear:1"], "shock must be a finite fraction > -1"),
        (["--shock", "-0.1:0:-0.1", "--impact", "linear:1"], "points away"),
        (["--shock", "x", "--impact", "linear:1"], "expected a number, a comma list"),
        (["--shock", "-0.1", "--impact", "flat:1"], "unknown model"),
        (
            ["--shock", "-0.1", "--impact", "linear:1", "--mode", "magic"],
            "--mode must be static or dynamic",
        ),
    ],
)
def test_errors_are_clear(args, message):
    res = _run(*args)
    assert res.exit_code != 0
    assert isinstance(res.exception, InputError)
    assert message in str(res.exception)


def test_missing_file_names_it(tmp_path):
    res = runner.invoke(
        app,
        [
            "cascade",
            "--positions",
            str(tmp_path / "p.csv"),
            "--price",
            "1",
            "--shock",
            "-0.1",
            "--impact",
            "linear:1",
        ],
    )
    assert isinstance(res.exception, InputError) and "p.csv" in str(res.exception)


@pytest.mark.slow  # compiles the dynamic engine's kernels on a cold cache
def test_dynamic_mode_hands_off_to_the_dynamic_engine(tmp_path):
    pytest.importorskip("liqcascade.engine.dynamic")
    small = tmp_path / "small.csv"
    import polars as pl

    pl.read_csv(EXAMPLE).head(2_000).write_csv(small)
    res = runner.invoke(
        app,
        [
            "cascade",
            "--positions",
            str(small),
            "--price",
            "120000",
            "--shock",
            "-0.08",
            "--impact",
            "linear:200",
            "--mode",
            "dynamic",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert KEYS <= set(out)
    assert out["shocked_price"] == pytest.approx(110_400.0)
    assert out["final_price"] <= out["shocked_price"]
