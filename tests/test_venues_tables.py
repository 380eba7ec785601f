"""Venue rule tables: loading, sources, recurrence checks, user tables, bad input."""

from __future__ import annotations

import json
from importlib import resources

import numpy as np
import pytest

from liqcascade.errors import InputError, RuleError
from liqcascade.venues import (
    TierTable,
    derive_cum,
    from_binance_leverage_bracket,
    from_ccxt_tiers,
    list_symbols,
    list_venues,
    load_tier_file,
    load_venue,
)

SYMBOL = {
    "binance_usdm": "BTCUSDT",
    "hyperliquid": "BTC",
    "bybit_linear": "BTCUSDT",
    "okx_swap": "BTC-USDT-SWAP",
    "dydx_v4": "BTC-USD",
    "generic": "ANY",
}


@pytest.mark.parametrize("venue", list_venues())
def test_every_venue_has_source_date_and_consistent_tiers(venue):
    r = load_venue(venue, SYMBOL[venue])
    assert r.source_url.startswith(("http", "user")), r.source_url
    assert r.effective_date
    t = r.tiers
    np.testing.assert_allclose(t.cum_quote, derive_cum(t.floor_quote, t.mmr), atol=0.01)
    assert np.all(np.diff(t.mmr) >= 0)
    assert r.max_leverage == t.max_leverage[0] >= 1


def test_binance_snapshot_a_values_match_reference_table():
    t = load_venue("binance_usdm", "BTCUSDT").tiers
    assert t.cap_quote[0] == 50_000 and t.max_leverage[0] == 125
    assert t.cum_quote[4] == 131_450 and t.mmr[4] == 0.02
    e = load_venue("binance", "ETH/USDT:USDT").tiers
    assert e.floor_quote[5] == 50_000_000 and e.cum_quote[5] == 381_450


def test_binance_snapshot_b_is_a_separate_version():
    b = load_venue("binance_usdm", "BTCUSDT", version="2025-B")
    assert b.max_leverage == 150 and b.tiers.cum_quote[1] == 300
    with pytest.raises(InputError, match="version"):
        load_venue("binance_usdm", "BTCUSDT", version="1999")


def test_binance_leverage_bracket_file_from_sample_data():
    path = resources.files("liqcascade") / "sample_data" / "binance" / "um" / "leverageBracket.json"
    r = from_binance_leverage_bracket(str(path), "ETHUSDT")
    ref = load_venue("binance_usdm", "ETHUSDT")
    np.testing.assert_array_equal(r.tiers.cum_quote, ref.tiers.cum_quote)
    assert r.effective_date == "2024-10-24"
    r2 = load_venue("binance_usdm", "ETHUSDT", bracket_file=str(path))
    np.testing.assert_array_equal(r2.tiers.mmr, ref.tiers.mmr)


def test_binance_leverage_bracket_raw_api_list_with_numbers(tmp_path):
    raw = [
        {
            "symbol": "SOLUSDT",
            "brackets": [
                {
                    "bracket": 1,
                    "initialLeverage": 75,
                    "notionalCap": 10000,
                    "notionalFloor": 0,
                    "maintMarginRatio": 0.005,
                    "cum": 0.0,
                },
                {
                    "bracket": 2,
                    "initialLeverage": 50,
                    "notionalCap": 50000,
                    "notionalFloor": 10000,
                    "maintMarginRatio": 0.01,
                    "cum": 50.0,
                },
            ],
        }
    ]
    p = tmp_path / "lb.json"
    p.write_text(json.dumps(raw))
    r = load_venue("binance_usdm", "SOLUSDT", bracket_file=p)
    assert r.symbol == "SOLUSDT" and r.tiers.cum_quote[1] == 50.0
    with pytest.raises(InputError, match="unknown symbol 'XRPUSDT'"):
        from_binance_leverage_bracket(p, "XRPUSDT")


def test_inconsistent_maintenance_amount_is_rule_error():
    with pytest.raises(RuleError, match=r"tier 2: maintenance amount cum_quote=60.0 .* = 50.0"):
        TierTable.from_rows(
            [0, 50_000], [0.004, 0.005], [125, 100], cum_quote=[0, 60.0], name="bad"
        )


def test_gap_between_tiers_is_rule_error():
    with pytest.raises(RuleError, match="floor_quote"):
        TierTable.from_rows([0, 50_000], [0.004, 0.005], [125, 100], cap_quote=[40_000, 100_000])


def test_percent_instead_of_fraction_is_rule_error():
    with pytest.raises(RuleError, match=r"mmr=0.4 .*|mmr=40"):
        TierTable.from_rows([0], [40.0], [125])


def test_unknown_venue_and_symbol():
    with pytest.raises(InputError, match="unknown venue 'kraken'"):
        load_venue("kraken", "BTCUSD")
    with pytest.raises(InputError, match="unknown symbol 'NOPE'"):
        load_venue("hyperliquid", "NOPE")


def test_hyperliquid_tiers_follow_half_initial_margin_rule():
    t = load_venue("hyperliquid", "ETH").tiers
    np.testing.assert_allclose(t.mmr, [1 / 50, 1 / 30])
    assert t.cum_quote[1] == pytest.approx(100e6 * (1 / 30 - 1 / 50))
    assert "DOGE" in list_symbols("hyperliquid")


def test_ccxt_unified_tiers_with_info_cum():
    tiers = [
        {
            "tier": 1,
            "minNotional": 0,
            "maxNotional": 50000,
            "maintenanceMarginRate": 0.004,
            "maxLeverage": 125,
            "info": {"cum": "0.0"},
        },
        {
            "tier": 2,
            "minNotional": 50000,
            "maxNotional": 600000,
            "maintenanceMarginRate": 0.005,
            "maxLeverage": 100,
            "info": {"cum": "50.0"},
        },
    ]
    r = from_ccxt_tiers(tiers, venue="binance_usdm", symbol="BTC/USDT:USDT")
    assert r.formula == "binance" and r.tiers.cum_quote[1] == 50.0
    tiers[1]["info"]["cum"] = "70.0"
    with pytest.raises(RuleError, match="inconsistent"):
        from_ccxt_tiers(tiers)


def test_user_tier_files_json_toml_csv(tmp_path):
    (tmp_path / "t.csv").write_text("floor_quote,max_leverage\n0,1001\n100000,200\n1000000,50\n")
    (tmp_path / "t.toml").write_text(
        'source_url = "https://example.org/tiers"\neffective_date = "2025-10-01"\n'
        "[[tiers]]\nfloor_quote = 0\nmax_leverage = 1001\n"
        "[[tiers]]\nfloor_quote = 100000\nmax_leverage = 200\n"
        "[[tiers]]\nfloor_quote = 1000000\nmax_leverage = 50\n"
    )
    (tmp_path / "t.json").write_text(
        json.dumps(
            [
                {"floor_quote": 0, "max_leverage": 1001, "mmr": 1 / 2002},
                {"floor_quote": 100000, "max_leverage": 200, "mmr": 1 / 400},
                {"floor_quote": 1000000, "max_leverage": 50, "mmr": 0.01},
            ]
        )
    )
    tables = [load_tier_file(tmp_path / f"t.{ext}") for ext in ("csv", "toml", "json")]
    for r in tables:
        assert r.max_leverage == 1001
        np.testing.assert_allclose(r.tiers.cum_quote, tables[0].tiers.cum_quote)
    assert tables[1].effective_date == "2025-10-01"


def test_generic_leverage_limit_and_bad_rows(tmp_path):
    (tmp_path / "over.csv").write_text("floor_quote,max_leverage\n0,2000\n")
    with pytest.raises(RuleError, match="exceeds the limit 1001x"):
        load_tier_file(tmp_path / "over.csv")
    (tmp_path / "bad.csv").write_text("floor_quote,max_leverage\n0,abc\n")
    with pytest.raises(InputError, match="row 1"):
        load_tier_file(tmp_path / "bad.csv")
    (tmp_path / "miss.csv").write_text("floor_quote\n0\n")
    with pytest.raises(InputError, match="miss.csv row 1: max_leverage: missing required key"):
        load_tier_file(tmp_path / "miss.csv")
    with pytest.raises(InputError, match="not found"):
        load_tier_file(tmp_path / "nope.csv")


def test_symbol_spellings_and_quote_mismatch():
    assert load_venue("okx_swap", "BTC/USDT:USDT").symbol == "BTC-USDT-SWAP"
    assert load_venue("dydx_v4", "ETHUSDT").symbol == "ETH-USD"
    assert load_venue("hyperliquid", "BTCUSDT").symbol == "BTC"
    with pytest.raises(InputError, match="unknown symbol 'BTCUSDC'"):
        load_venue("binance_usdm", "BTCUSDC")
