"""Margin core: venue numbers, tier at the liquidation price, twins, cross, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from liqcascade import margin
from liqcascade.errors import InputError, RuleError
from liqcascade.venues import load_venue
from liqcascade.venues.binance_usdm import general_liquidation_price, other_positions_terms
from liqcascade.venues.hyperliquid import liquidation_price_single_tier, single_tier_rules

BTC = load_venue("binance_usdm", "BTCUSDT")


def _at_rate(side, size_base, entry_price, margin_quote, mmr, cum_quote):
    return margin.PositionsAtRate(
        side=side,
        size_base=size_base,
        entry_price=entry_price,
        margin_quote=margin_quote,
        mmr=mmr,
        cum_quote=cum_quote,
    )


def test_binance_faq_isolated_and_cross_to_the_cent():
    # Binance FAQ worked example (2021 brackets given explicitly): ETH 10% / 135,365; BTC 2.5% / 16,300.
    wb = 1_535_443.01
    eth = float(
        margin.liquidation_price_at_rate(_at_rate(1, 3683.979, 1456.84, wb, 0.10, 135_365.0))
    )
    btc = float(
        margin.liquidation_price_at_rate(_at_rate(1, 109.488, 32481.98, wb, 0.025, 16_300.0))
    )
    assert (round(eth, 2), round(btc, 2)) == (1114.78, 18778.73)
    tmm, upnl = other_positions_terms(
        [
            {
                "size_base": 109.488,
                "entry_price": 32481.98,
                "mark_price": 31967.27,
                "mmr": 0.025,
                "cum": 16_300.0,
            }
        ]
    )
    eth_cross = float(
        margin.liquidation_price_at_rate(
            _at_rate(1, 3683.979, 1456.84, wb - tmm + upnl, 0.10, 135_365.0)
        )
    )
    assert round(eth_cross, 2) == 1153.26


def test_bracket_is_chosen_at_the_liquidation_price():
    lp, tier = margin.liquidation_price_and_tier(BTC, 1, 0.85, 60_000.0, 2_550.0)
    assert int(tier) == 0  # entry notional 51,000 is bracket 2; at LP it is bracket 1
    assert float(lp) == pytest.approx(57_228.915663, rel=1e-10)
    wrong = float(
        margin.liquidation_price_at_rate(_at_rate(1, 0.85, 60_000.0, 2_550.0, 0.005, 50.0))
    )
    assert abs(wrong - float(lp)) > 1.0
    # equity equals maintenance margin at the solution
    eq = 2_550.0 + 0.85 * (float(lp) - 60_000.0)
    assert eq == pytest.approx(float(margin.maintenance_margin(BTC, 0.85 * float(lp))), rel=1e-9)


def test_liquidation_price_is_extreme_tier_candidate():
    """MM is convex, so LP = max over tiers of each tier's candidate (long), min (short)."""
    rng = np.random.default_rng(7)
    n = 2000
    side = np.where(rng.uniform(size=n) < 0.5, 1, -1)
    entry = rng.uniform(50_000, 120_000, n)
    size = np.exp(rng.uniform(np.log(0.01), np.log(5000), n))
    m = size * entry / rng.uniform(1.0, 20.0, n)
    lp = margin.liquidation_price(BTC, side, size, entry, m)
    t = BTC.tiers
    cand = (m[:, None] + t.cum_quote[None, :] - side[:, None] * size[:, None] * entry[:, None]) / (
        size[:, None] * (t.mmr[None, :] - side[:, None])
    )
    exact = np.where(side > 0, cand.max(axis=1), cand.min(axis=1))
    exact = np.where(exact > 0, exact, np.nan)
    np.testing.assert_allclose(lp, exact, rtol=1e-12)


@pytest.mark.parametrize(
    ("venue", "symbol"),
    [
        ("binance_usdm", "BTCUSDT"),
        ("binance_usdm", "ETHUSDT"),
        ("hyperliquid", "BTC"),
        ("okx_swap", "BTC-USDT-SWAP"),
        ("dydx_v4", "ETH-USD"),
        ("generic", "X"),
        ("bybit_linear", "BTCUSDT"),
    ],
)
def test_numba_kernel_agrees_with_numpy_twin(venue, symbol):
    r = load_venue(venue, symbol)
    rng = np.random.default_rng(11)
    n = 5000
    side = np.where(rng.uniform(size=n) < 0.5, 1, -1).astype(np.int8)
    entry = rng.uniform(1_000, 120_000, n)
    size = np.exp(rng.uniform(np.log(1e-3), np.log(3e4), n))
    m = size * entry / rng.uniform(1.0, 10.0, n)
    p1, k1 = margin.liquidation_price_and_tier(r, side, size, entry, m, use_numba=True)
    p2, k2 = margin.liquidation_price_and_tier(r, side, size, entry, m, use_numba=False)
    np.testing.assert_allclose(p1, p2, rtol=1e-12, equal_nan=True)
    assert np.array_equal(k1, k2)
    notional = size * entry
    np.testing.assert_allclose(
        margin.maintenance_margin(r, notional),
        margin.maintenance_margin_numpy(r, notional),
        rtol=1e-12,
    )


def test_hyperliquid_documented_formula_and_derived_example():
    assert liquidation_price_single_tier(1, 1.0, 100_000.0, 10_000.0, 40) == pytest.approx(
        91_139.2405063, rel=1e-10
    )
    r = load_venue("hyperliquid", "BTC")
    assert float(margin.liquidation_price(r, 1, 1.0, 100_000.0, 10_000.0)) == pytest.approx(
        91_139.2405063, rel=1e-10
    )
    # single-tier engine == documented formula for shorts too
    r50 = single_tier_rules(50)
    got = float(margin.liquidation_price(r50, -1, 0.00069, 68_595.0, 23.64871))
    assert got == pytest.approx(
        liquidation_price_single_tier(-1, 0.00069, 68_595.0, 23.64871, 50), rel=1e-12
    )


def test_okx_fee_term_and_bybit_entry_valued_mm():
    okx = load_venue("okx_swap", "BTC-USDT-SWAP", taker_fee_rate=0.0006)
    # (EP - M/Q)/(1 - MMR - taker) with MMR 0.4 %
    assert float(margin.liquidation_price(okx, 1, 1.0, 10.0, 10.0 / 3)) == pytest.approx(
        (10 - 10 / 3) / (1 - 0.004 - 0.0006), rel=1e-12
    )
    by = load_venue("bybit_linear", "BTCUSDT")
    # Bybit doc: 1 BTC @ 20,000, 50x, MMR 0.5 % -> 19,700
    assert float(margin.liquidation_price(by, 1, 1.0, 20_000.0, 400.0)) == pytest.approx(19_700.0)


def test_general_binance_hedge_mode_legs_share_one_price():
    r = load_venue("binance_usdm", "BTCUSDT")
    lp = general_liquidation_price(20_000.0, [(1, 2.0, 100_000.0), (-1, 1.0, 101_000.0)], r)
    # net long 1 BTC: at LP the cross equity equals both legs' maintenance margins
    equity = 20_000.0 + 2.0 * (lp - 100_000.0) - 1.0 * (lp - 101_000.0)
    mm = float(margin.maintenance_margin(r, 2.0 * lp) + margin.maintenance_margin(r, 1.0 * lp))
    assert equity == pytest.approx(mm, rel=1e-9)


def test_cross_liquidation_price_uses_other_positions():
    iso = float(margin.liquidation_price(BTC, 1, 1.0, 100_000.0, 10_000.0))
    cross = float(
        margin.cross_liquidation_price(BTC, 1, 1.0, 100_000.0, 10_000.0, 2_000.0, -1_000.0)
    )
    assert cross > iso
    assert cross == pytest.approx(float(margin.liquidation_price(BTC, 1, 1.0, 100_000.0, 7_000.0)))


def test_bankruptcy_price_and_margin_ratio():
    assert float(margin.bankruptcy_price(BTC, 1, 2.0, 100.0, 20.0)) == 90.0
    assert float(margin.bankruptcy_price(BTC, -1, 2.0, 100.0, 20.0)) == 110.0
    assert np.isnan(margin.bankruptcy_price(BTC, 1, 1.0, 100.0, 150.0))
    lp = float(margin.liquidation_price(BTC, 1, 1.0, 60_000.0, 3_000.0))
    assert float(margin.margin_ratio(BTC, 1, 1.0, 60_000.0, 3_000.0, lp)) == pytest.approx(
        1.0, rel=1e-9
    )
    assert float(margin.margin_ratio(BTC, 1, 1.0, 60_000.0, 3_000.0, 59_000.0)) < 1.0


def test_scalar_in_scalar_out_and_shapes():
    out = margin.liquidation_price(BTC, "long", 1.0, 60_000.0, 3_000.0)
    assert out.shape == () and isinstance(float(out), float)
    out2 = margin.liquidation_price(
        BTC, np.array([[1, -1]]), 1.0, np.array([[60_000.0, 61_000.0]]), 3_000.0
    )
    assert out2.shape == (1, 2)


def test_bad_input_names_the_field_and_limit():
    with pytest.raises(InputError, match=r"size_base must be > 0 .*index 1"):
        margin.liquidation_price(BTC, 1, np.array([1.0, -2.0]), 100.0, 10.0)
    with pytest.raises(InputError, match="entry_price must be > 0"):
        margin.liquidation_price(BTC, 1, 1.0, 0.0, 10.0)
    with pytest.raises(InputError, match="side"):
        margin.liquidation_price(BTC, "flat", 1.0, 1.0, 10.0)
    with pytest.raises(
        RuleError,
        match=r"leverage=125 not allowed at notional_quote=60,000.00 \(tier 2: 1 <= leverage <= 100\)",
    ):
        margin.initial_margin(BTC, 60_000.0, 125)
    with pytest.raises(RuleError, match="last tier cap"):
        margin.initial_margin(BTC, 2e9, 1)
    with pytest.raises(InputError, match="notional_quote must be >= 0"):
        margin.maintenance_margin(BTC, -1.0)
    assert float(margin.initial_margin(BTC, 60_000.0, 100)) == 600.0
    with pytest.raises(RuleError, match="1001"):
        margin.initial_margin(load_venue("generic", "X"), 1_000.0, 1002)
