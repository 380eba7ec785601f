"""liq-price refuses inputs a venue would refuse, naming the field and the limit."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from liqcascade.cli import app

runner = CliRunner()
BASE = ["liq-price", "--venue", "binance_usdm", "--symbol", "BTCUSDT", "--side", "long"]


def test_margin_implying_leverage_above_venue_limit_is_refused():
    r = runner.invoke(app, [*BASE, "--entry", "60000", "--size", "0.85", "--margin", "10"])
    assert r.exit_code == 2
    assert "--margin" in r.output and "5,100" in r.output and "100" in r.output


def test_negative_size_names_the_flag():
    r = runner.invoke(app, [*BASE, "--entry", "60000", "--size", "-1", "--leverage", "10"])
    assert r.exit_code == 2
    assert "--size" in r.output


def test_posted_margin_is_the_initial_margin():
    r = runner.invoke(
        app, [*BASE, "--entry", "60000", "--size", "0.85", "--margin", "2550", "--json"]
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["initial_margin_quote"] == 2550.0
    assert out["liquidation_price"] < 60000.0 < out["liquidation_price"] * 1.06
