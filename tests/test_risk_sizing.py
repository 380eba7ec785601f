"""Safe sizing inverts the liquidation probability, on real venue rules."""

from __future__ import annotations

import math

import pytest

from liqcascade import margin, risk
from liqcascade.errors import InputError, RuleError
from liqcascade.venues import load_venue

JUMP = dict(jump_intensity_annual=25.0, jump_mean_log=-0.04, jump_std_log=0.05)


def _prob_at_size(rules, side, price, margin_q, size, vol, days, **kw):
    liq = float(margin.liquidation_price(rules, side, size, price, margin_q))
    return risk.prob_liquidation(price, liq, side, vol, days, **kw).probability


@pytest.mark.parametrize(
    "venue,symbol,side,target",
    [
        ("binance_usdm", "BTCUSDT", "long", 0.05),
        ("binance_usdm", "BTCUSDT", "short", 0.01),
        ("hyperliquid", "BTC", "long", 0.10),
        ("okx_swap", "BTC-USDT-SWAP", "short", 0.02),
        ("bybit_linear", "BTCUSDT", "long", 0.05),
    ],
)
def test_gbm_safe_size_inverts_the_probability(venue, symbol, side, target):
    rules = load_venue(venue, symbol)
    price, m, vol, days = 100_000.0, 2_000.0, 0.6, 7.0
    res = risk.safe_size(rules, side, price, m, target, vol_annual=vol, horizon_days=days)
    assert res.binding == "liquidation probability"
    p = _prob_at_size(rules, side, price, m, res.size_base, vol, days)
    assert p == pytest.approx(target, abs=1e-7)
    assert p <= target + 1e-12
    bigger = _prob_at_size(rules, side, price, m, res.size_base * 1.01, vol, days)
    assert bigger > target
    assert res.leverage == pytest.approx(res.size_base * price / m)


def test_jump_safe_size_inverts_the_simulated_probability_with_the_same_seed():
    rules = load_venue("binance_usdm", "BTCUSDT")
    price, m, vol, days, target = 100_000.0, 5_000.0, 0.5, 3.0, 0.05
    kw = dict(model="jump", n_paths=40_000, seed=99, n_steps=72)
    res = risk.safe_size(
        rules, "long", price, m, target, vol_annual=vol, horizon_days=days, jump=JUMP, **kw
    )
    assert res.seed == 99
    p = _prob_at_size(rules, 1, price, m, res.size_base, vol, days, **JUMP, **kw)
    assert p <= target
    assert p > target - 5 / 40_000  # the largest safe size is right at the target
    assert _prob_at_size(rules, 1, price, m, res.size_base * 1.01, vol, days, **JUMP, **kw) > target
    # jumps make the same target need a smaller position than GBM with the same diffusion
    gbm = risk.safe_size(rules, "long", price, m, target, vol_annual=vol, horizon_days=days)
    assert res.size_base < gbm.size_base


def test_safe_leverage_inverts_the_probability_for_a_given_size():
    rules = load_venue("binance_usdm", "BTCUSDT")
    price, size, vol, days, target = 100_000.0, 2.0, 0.7, 5.0, 0.03
    res = risk.safe_leverage(rules, "long", price, size, target, vol_annual=vol, horizon_days=days)
    p = _prob_at_size(rules, 1, price, res.margin_quote, size, vol, days)
    assert p == pytest.approx(target, abs=1e-7) and p <= target + 1e-12
    # a little more leverage (less margin) breaks the target
    assert _prob_at_size(rules, 1, price, res.margin_quote * 0.99, size, vol, days) > target


def test_tier_limit_binds_when_the_probability_allows_more():
    rules = load_venue("binance_usdm", "BTCUSDT")
    # tiny volatility: the probability never binds, the venue's leverage cap does
    res = risk.safe_size(rules, "long", 100_000.0, 1_000.0, 0.05, vol_annual=0.01, horizon_days=1)
    assert res.binding == "venue tier leverage limit"
    k = int(rules.tiers.index(res.notional_quote))
    assert res.leverage == pytest.approx(rules.tiers.max_leverage[k])
    assert res.probability <= 0.05
    lev = risk.safe_leverage(rules, "long", 100_000.0, 10.0, 0.05, vol_annual=0.01, horizon_days=1)
    k = int(rules.tiers.index(1_000_000.0))
    assert lev.leverage == pytest.approx(rules.tiers.max_leverage[k])  # 1M notional: tier 3, 75x


def test_size_beyond_the_last_tier_is_a_rule_error():
    rules = load_venue("binance_usdm", "BTCUSDT")
    with pytest.raises(RuleError, match="last tier cap"):
        risk.safe_leverage(rules, "long", 100_000.0, 1e6, 0.05, vol_annual=0.5, horizon_days=1)


@pytest.mark.parametrize("target", [0.0, 1.0, -0.1, math.nan])
def test_bad_target(target):
    rules = load_venue("binance_usdm", "BTCUSDT")
    with pytest.raises(InputError, match="target_prob"):
        risk.safe_size(rules, "long", 100.0, 10.0, target, vol_annual=0.5, horizon_days=1)


def test_sizing_keywords_are_the_fields_of_sizing_model():
    rules = load_venue("binance_usdm", "BTCUSDT")
    args = (rules, "long", 100_000.0, 1_000.0, 0.05)
    spec = risk.SizingModel(vol_annual=0.6, horizon_days=7, model="jump", jump=JUMP, n_paths=4000)
    res = risk.safe_size(*args, **{f: getattr(spec, f) for f in spec.__dataclass_fields__})
    assert (res.model, res.horizon_days, res.n_paths, res.seed) == ("jump", 7.0, 4000, spec.seed)
    with pytest.raises(TypeError, match="'vol'"):
        risk.safe_size(*args, vol=0.6, horizon_days=7)
    with pytest.raises(TypeError, match="horizon_days"):
        risk.safe_leverage(rules, "long", 100_000.0, 0.1, 0.05, vol_annual=0.6)
    with pytest.raises(InputError, match="horizon_days"):
        risk.SizingModel(vol_annual=0.6, horizon_days=0)


@pytest.mark.parametrize(
    "model,jump,message",
    [
        ("gbm", JUMP, "takes no jump parameters"),
        ("merton", None, "expected 'gbm' or 'jump'"),
        ("jump", {"jump_rate": 1.0}, r"jump parameters \['jump_rate'\] unknown"),
    ],
)
def test_sizing_stops_and_probability_check_the_model_in_one_place(model, jump, message):
    rules = load_venue("binance_usdm", "BTCUSDT")
    kw = dict(vol_annual=0.6, horizon_days=7)
    with pytest.raises(InputError, match=message):
        risk.price_model(model, 0.6, **(jump or {}))
    with pytest.raises(InputError, match=message):
        risk.safe_size(rules, "long", 100_000.0, 1_000.0, 0.05, model=model, jump=jump, **kw)
    if model != "jump":  # prob_liquidation takes only the known jump keywords
        with pytest.raises(InputError, match=message):
            risk.prob_liquidation(100_000, 90_000, "long", model=model, **kw, **(jump or {}))
    else:
        with pytest.raises(InputError, match=message):
            risk.stop_analysis(rules, "long", 0.1, 100_000, 1_000, jump=jump, n_paths=10, **kw)
