"""``liqcascade dynamic``: the CLI runs the engine and reports its figures and errors."""

from __future__ import annotations

import json

import polars as pl
from typer.testing import CliRunner

from liqcascade.cli import app

BOOK = """account_id,venue,symbol,side,size_base,entry_price,leverage
1,binance_usdm,BTCUSDT,long,2,100000,20
2,binance_usdm,BTCUSDT,long,1,101000,50
3,binance_usdm,BTCUSDT,short,3,99000,10
4,binance_usdm,BTCUSDT,long,5,99500,25
5,binance_usdm,BTCUSDT,short,1,100500,5
"""


def test_dynamic_cli_json_and_outputs(tmp_path):
    book = tmp_path / "pos.csv"
    book.write_text(BOOK)
    path = tmp_path / "path.csv"
    path.write_text("price\n98000\n96000\n96000\n")
    tl = tmp_path / "tl.parquet"
    r = CliRunner().invoke(
        app,
        [
            "dynamic",
            "--positions",
            str(book),
            "--price",
            "100000",
            "--impact",
            "linear:5",
            "--path",
            str(path),
            "--set",
            "binance_usdm.insurance_fund_quote=0",
            "--set",
            "seed=9",
            "--timeline-out",
            str(tl),
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    s = doc["summary"]
    assert s["seed"] == 9
    assert s["shocked_price"] == 96000.0
    assert s["liquidated_count"] >= 1
    assert abs(s["conservation_residual"]) <= 1e-9 * s["notional_involved"]
    assert doc["losses"][0]["venue"] == "binance_usdm"
    frame = pl.read_parquet(tl)
    assert frame["price"][0] == 100000.0
    assert frame.height == s["steps_run"] + 1


def test_dynamic_cli_errors_name_the_problem(tmp_path):
    book = tmp_path / "pos.csv"
    book.write_text(BOOK)
    base = ["dynamic", "--positions", str(book), "--price", "100000", "--impact", "linear:5"]
    r = CliRunner().invoke(app, [*base, "--shock", "-0.05", "--set", "bogus=1"])
    assert r.exit_code != 0 and "bogus: unknown key" in r.output
    r = CliRunner().invoke(app, base)
    assert r.exit_code != 0 and "--shock or --path" in r.output
    bad = tmp_path / "path.csv"
    bad.write_text("price\n98000\n-5\n")
    r = CliRunner().invoke(app, [*base, "--path", str(bad)])
    # rich wraps long paths at the terminal width: compare with the line breaks removed
    assert r.exit_code != 0 and "row 2" in " ".join(r.output.split())
