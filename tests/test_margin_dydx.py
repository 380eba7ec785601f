"""dYdX v4 integer arithmetic (quantums, ppm, exact rationals)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from liqcascade.errors import InputError
from liqcascade.venues import dydx_v4 as d

BTC = d.Perp("BTC", 50_000, 0, -8, 200_000, 500_000)
ETH = d.Perp("ETH", 3_000, 0, -9, 200_000, 500_000)
PERPS = {"BTC": BTC, "ETH": ETH}


def test_notional_and_margin_are_integers_rounded_as_the_chain():
    assert BTC.net_notional(10_000_000) == 5_000_000_000  # 0.1 BTC * 50,000 USD in quote quantums
    odd = d.Perp("ODD", 33, 0, -8, 200_000, 500_000)
    assert odd.net_notional(-3) == 0 and odd.net_notional(3) == 0  # +-0.99 truncated toward zero
    imr, mmr = odd.margin_requirements(
        7
    )  # notional 2 (2.31 rounded down) -> IMR ceil(0.4)=1, MMR ceil(0.5)=1
    assert (imr, mmr) == (1, 1)
    assert isinstance(imr, int)


def test_bankruptcy_price_rounds_toward_positive_infinity():
    acct = d.Subaccount(13_000_000, {"BTC": -100_000_000})
    bp = d.bankruptcy_price_quote_quantums(acct, PERPS, "BTC", 21_347)
    tnc, _, tmmr = d.risk(acct, PERPS)
    dnnv = BTC.net_notional(-100_000_000 + 21_347) - BTC.net_notional(-100_000_000)
    dmmr = (
        BTC.margin_requirements(-100_000_000 + 21_347)[1] - BTC.margin_requirements(-100_000_000)[1]
    )
    exact = Fraction(-dnnv) - Fraction(tnc * abs(dmmr), tmmr)
    assert bp >= exact and bp - exact < 1
    assert bp == -2775


def test_multi_position_bankruptcy_uses_total_collateral():
    acct = d.Subaccount(-490_000_000, {"BTC": 400_000, "ETH": 100_000_000})
    assert d.bankruptcy_price_quote_quantums(acct, PERPS, "ETH", -100_000_000) == 294_000_000


def test_fillable_price_is_exact_and_independent_of_delta():
    acct = d.Subaccount(-4_501_000_000, {"BTC": 10_000_000})
    fp_full = d.fillable_price(acct, PERPS, "BTC", -10_000_000, 1_000_000, 100_000)
    fp_part = d.fillable_price(acct, PERPS, "BTC", -1, 1_000_000, 100_000)
    assert fp_full == fp_part == Fraction(49_999, 100)
    assert d.fillable_price_usd(fp_full, BTC) == 49_999


def test_insurance_fund_delta_fee_capped_and_fund_pays():
    acct = d.Subaccount(-5_100_000_000, {"BTC": 10_000_000})
    assert (
        d.liquidation_insurance_fund_delta(
            acct, PERPS, "BTC", False, 10_000_000, 56_100_000_000, 25_000
        )
        == 140_250_000
    )
    assert (
        d.liquidation_insurance_fund_delta(
            acct, PERPS, "BTC", False, 10_000_000, 50_490_000_000, 5_000
        )
        == -51_000_000
    )


def test_liquidatable_and_invalid_delta():
    acct = d.Subaccount(-4_501_000_000, {"BTC": 10_000_000})
    assert d.is_liquidatable(acct, PERPS)
    assert not d.is_liquidatable(d.Subaccount(1_000_000_000, {"BTC": 10_000_000}), PERPS)
    with pytest.raises(InputError, match="must reduce the position"):
        d.bankruptcy_price_quote_quantums(acct, PERPS, "BTC", 5)
    with pytest.raises(InputError, match="must reduce the position"):
        d.bankruptcy_price_quote_quantums(acct, PERPS, "BTC", -20_000_000)


def test_deleveraging_docs_example_conserves_money():
    out = d.deleverage_full_takeover(-1_000, 1, 10_000, -9, 900)
    assert out["B_after"] == {"usdc": 9_000, "btc": -8}
    assert out["B_loss_usd"] == pytest.approx(100)
    assert out["B_margin_pct_before"] == pytest.approx(1_900 / 8_100)
    # value conserved: A's equity (-100) + B's equity before = B's equity after
    assert (-1_000 + 900) + (10_000 - 9 * 900) == pytest.approx(9_000 - 8 * 900)
