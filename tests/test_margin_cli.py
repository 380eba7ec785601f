"""CLI: liq-price (table and JSON) and demo."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from liqcascade import margin
from liqcascade.cli import app
from liqcascade.venues import load_venue

runner = CliRunner()


def liq_price(venue: str, symbol: str, side: str, entry: str, size: str, *extra: str):
    """Invoke ``liqcascade liq-price`` for one position, with ``extra`` options appended."""
    opts = {"--venue": venue, "--symbol": symbol, "--side": side, "--entry": entry, "--size": size}
    return runner.invoke(app, ["liq-price", *(x for kv in opts.items() for x in kv), *extra])


def test_liq_price_json_matches_library():
    res = liq_price(
        "binance_usdm", "BTCUSDT", "long", "60000", "0.85", "--leverage", "20", "--json"
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    r = load_venue("binance_usdm", "BTCUSDT")
    assert out["liquidation_price"] == pytest.approx(
        float(margin.liquidation_price(r, 1, 0.85, 60000, 2550))
    )
    assert out["bankruptcy_price"] == pytest.approx(57_000.0)
    assert (out["tier_at_entry"], out["tier_at_liquidation"]) == (2, 1)
    assert out["maintenance_margin_quote_at_entry"] == pytest.approx(51_000 * 0.005 - 50)


def test_liq_price_cross_and_margin_options():
    res = liq_price(
        "hyperliquid", "ETH", "short", "3000", "10", "--mode", "cross", "--wallet", "2000", "--json"
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    r = load_venue("hyperliquid", "ETH")
    assert out["liquidation_price"] == pytest.approx(
        float(margin.liquidation_price(r, -1, 10, 3000, 2000))
    )
    res2 = liq_price("okx", "BTC-USDT-SWAP", "long", "100000", "1", "--margin", "5000")
    assert res2.exit_code == 0 and "liquidation_price" in res2.output


def test_liq_price_rejects_leverage_above_tier_cap():
    res = liq_price("binance_usdm", "BTCUSDT", "long", "60000", "1000", "--leverage", "100")
    assert res.exit_code != 0
    assert "leverage=100 not allowed" in str(res.exception) + res.output


def test_demo_margin_table_of_example_book():
    from liqcascade.cli.demo import DEFAULT_BOOK, margin_table

    rows = margin_table(DEFAULT_BOOK)
    venues = {r["venue"] for r in rows}
    assert venues >= {
        "binance_usdm",
        "hyperliquid",
        "bybit_linear",
        "okx_swap",
        "dydx_v4",
        "generic",
    }
    for r in rows:
        lp = r["liquidation_price"]
        if lp == lp:  # not NaN
            assert (lp < r["entry_price"]) == (r["side"] == "long")
        assert r["maintenance_margin_quote"] > 0


def test_liq_price_with_own_tier_file_up_to_1001x(tmp_path):
    f = tmp_path / "tiers.csv"
    f.write_text("floor_quote,max_leverage\n0,1001\n50000,500\n")
    res = liq_price(
        "generic",
        "XYZ",
        "long",
        "100",
        "10",
        "--leverage",
        "1001",
        "--tiers-file",
        str(f),
        "--json",
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    # mmr = 1/2002: equity M + Q*(P - EP) = Q*P/2002 with M = 1000/1001
    m = 1000 / 1001
    assert out["liquidation_price"] == pytest.approx(
        (10 * 100 - m) / (10 * (1 - 1 / 2002)), rel=1e-12
    )
    res2 = liq_price(
        "generic", "XYZ", "long", "100", "1000", "--leverage", "1001", "--tiers-file", str(f)
    )
    assert res2.exit_code != 0
    assert "tier 2: 1 <= leverage <= 500" in str(res2.exception) + res2.output
