"""Dynamic cascade: agreement with the static fixed point, venue processes, markets, outputs."""

from __future__ import annotations

import json
import math

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liqcascade.engine.dynamic import (
    DynamicConfig,
    PositionArrays,
    VenueProcess,
    simulate,
    simulate_shock,
)
from liqcascade.engine.static import solve_static_oracle
from liqcascade.errors import ConfigError, InputError
from liqcascade.impact import LinearImpact, SqrtImpact
from liqcascade.margin import PositionsAtRate

STATIC_KEYS = (
    "shock",
    "initial_price",
    "shocked_price",
    "final_price",
    "liquidated_count",
    "liquidated_base",
    "liquidated_notional",
    "cascade_multiplier",
    "book_exhausted",
)


def _book(n, seed, venues=("generic",), lev=(3.0, 60.0), price=100.0, long_share=0.5):
    rng = np.random.default_rng(seed)
    side = np.where(rng.random(n) < long_share, 1, -1).astype(np.int8)
    entry = price * rng.uniform(0.97, 1.03, n)
    size = rng.uniform(0.5, 20.0, n)
    lv = rng.uniform(*lev, n)
    return PositionArrays.isolated(
        PositionsAtRate(
            side=side, size_base=size, entry_price=entry, margin_quote=size * entry / lv, mmr=0.01
        ),
        venue_code=rng.integers(0, len(venues), n),
        venues=venues,
    )


# ------------------------------------------------------------------------------------------
# the dynamic loop converges to the static fixed point (same model, no frictions)
# ------------------------------------------------------------------------------------------


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    shock=st.floats(-0.15, 0.15).filter(lambda s: abs(s) > 1e-3),
    depth=st.floats(20.0, 400.0),
)
def test_converges_to_static_fixed_point(seed, shock, depth):
    full = _book(80, seed)
    down = shock < 0
    # only the shocked side (the other side may already be past its trigger at P0, which the
    # dynamic engine liquidates and the static definition ignores)
    keep = full.side == (1 if down else -1)
    pos = PositionArrays.isolated(
        PositionsAtRate(
            side=full.side[keep],
            size_base=full.size_base[keep],
            entry_price=full.entry_price[keep],
            margin_quote=full.margin_quote[keep],
            mmr=0.01,
        )
    )
    impact = LinearImpact(depth_1pct_base=depth)
    cfg = dict(
        steps=400,
        resilience_half_life_s=math.inf,
        venues={"generic": {"process": "binance", "clearance_fee_rate": 0.0}},
    )
    res = simulate_shock(pos, 100.0, shock, impact, **cfg)
    oracle = solve_static_oracle(
        (pos.side, pos.size_base, pos.liquidation_price), 100.0, shock, impact
    )
    s = res.summary()
    if oracle.book_exhausted:
        assert s["book_exhausted"]
        return
    assert s["final_price"] == pytest.approx(oracle.final_price, rel=1e-9)
    assert s["liquidated_count"] == oracle.liquidated_count
    assert s["liquidated_base"] == pytest.approx(oracle.liquidated_base, rel=1e-9)
    assert s["liquidated_notional"] == pytest.approx(oracle.liquidated_notional, rel=1e-9)


def test_summary_has_the_static_keys_and_json_roundtrips():
    pos = _book(200, 3)
    res = simulate_shock(pos, 100.0, -0.05, LinearImpact(depth_1pct_base=100.0), seed=42)
    s = res.summary()
    for k in STATIC_KEYS:
        assert k in s
    assert s["seed"] == 42 and res.seed == 42 and res.config.seed == 42
    assert s["shocked_price"] == pytest.approx(95.0)
    assert s["cascade_multiplier"] >= 1.0 - 1e-12
    doc = json.loads(res.to_json())
    assert doc["summary"]["liquidated_count"] == s["liquidated_count"]
    assert {
        "venue",
        "trader_pnl",
        "insurance_fund_change",
        "vault_pnl",
        "adl_transfer",
        "bad_debt",
    } <= set(doc["losses"][0])
    assert DynamicConfig.from_dict(doc["config"]).seed == 42
    cfg = DynamicConfig(
        resilience_half_life_s=math.inf, venues={"hyperliquid": {"vault_capital_quote": math.inf}}
    )
    assert DynamicConfig.from_dict(json.loads(cfg.to_json())) == cfg
    tl = res.timeline
    assert {
        "step",
        "time_s",
        "venue",
        "price",
        "liquidated_notional_long",
        "liquidated_notional_short",
    } <= set(tl.columns)
    # timeline totals match the ledger
    lg = res.ledger.filter(pl.col("kind") != "adl_winner")
    assert tl["liquidated_notional_long"].sum() + tl[
        "liquidated_notional_short"
    ].sum() == pytest.approx(float((lg["qty_base"] * lg["ref_price"]).sum()), rel=1e-9)


def test_seed_reproducible_and_changes_random_start():
    pos = _book(300, 5, venues=("dydx_v4",), lev=(20.0, 60.0))
    kw = dict(
        venues={"dydx_v4": {"insurance_fund_quote": 0.0}},
        steps=200,
        resilience_half_life_s=math.inf,
    )
    a = simulate_shock(pos, 100.0, -0.08, LinearImpact(depth_1pct_base=30.0), seed=1, **kw)
    b = simulate_shock(pos, 100.0, -0.08, LinearImpact(depth_1pct_base=30.0), seed=1, **kw)
    assert a.ledger.equals(b.ledger)
    winners = a.ledger.filter(pl.col("kind") == "adl_winner")
    assert winners.height > 0
    c = simulate_shock(pos, 100.0, -0.08, LinearImpact(depth_1pct_base=30.0), seed=2, **kw)
    wc = c.ledger.filter(pl.col("kind") == "adl_winner")
    assert not winners["position"].equals(wc["position"])


# ------------------------------------------------------------------------------------------
# venue processes
# ------------------------------------------------------------------------------------------


def _one(side, size, entry, margin, venue, mmr=0.0125, extra=None):
    sides = [side] + [-side] * 3
    sizes = [size, 5.0, 5.0, 5.0]
    entries = [entry, entry * (1.2 if side > 0 else 0.8)] + [
        entry * (1.15 if side > 0 else 0.85)
    ] * 2
    margins = [margin] + [5.0 * entry] * 3  # counterparties at 1x: never liquidated
    return PositionArrays.isolated(
        PositionsAtRate(
            side=sides, size_base=sizes, entry_price=entries, margin_quote=margins, mmr=mmr
        ),
        venues=(venue,),
    )


def test_binance_surplus_to_fund_and_fee():
    pos = _one(1, 10.0, 100.0, 100.0, "binance_usdm", mmr=0.005)  # 10x long, LP ~ 90.45
    res = simulate_shock(
        pos,
        100.0,
        -0.097,
        LinearImpact(depth_1pct_base=1e6),
        venues={"binance_usdm": {"insurance_fund_quote": 1e6, "clearance_fee_rate": 0.001}},
    )
    ev = res.ledger.filter(pl.col("kind") == "liquidation").row(0, named=True)
    fill = ev["exec_price"]
    equity = 100.0 + 10.0 * (fill - 100.0)
    assert ev["fee"] == pytest.approx(min(0.001 * 10.0 * fill, equity))
    assert ev["fee"] > 0
    assert ev["insurance_fund_change"] == pytest.approx(equity - ev["fee"])
    assert ev["insurance_fund_change"] > 0
    assert ev["returned_quote"] == 0.0  # closed at the bankruptcy price
    los = res.losses.row(0, named=True)
    # the clearance fee is credited to the fund too (fee_to_fund)
    assert los["insurance_fund_end"] - los["insurance_fund_start"] == pytest.approx(equity)


def test_binance_fund_exhausted_goes_to_adl_at_bankruptcy_price():
    pos = _one(1, 10.0, 100.0, 100.0, "binance_usdm", mmr=0.005)
    # thin book: the fill falls far below the bankruptcy price (90)
    res = simulate_shock(
        pos,
        100.0,
        -0.097,
        LinearImpact(depth_1pct_base=2.0),
        venues={"binance_usdm": {"insurance_fund_quote": 0.0}},
    )
    lg = res.ledger
    loser = lg.filter(pl.col("kind") == "adl_loser")
    assert loser.height == 1
    win = lg.filter(pl.col("kind") == "adl_winner")
    assert win["qty_base"].sum() == pytest.approx(10.0)
    assert np.allclose(win["exec_price"].to_numpy(), 90.0)  # bankruptcy price 100 - 100/10
    # the most profitable short (entry 120) is first in Binance's queue
    assert win["position"][0] == 1


def test_hyperliquid_partial_liquidation_and_cooldown():
    # 40x-max BTC: mmr 1.25%; a 200k long with 20k margin, large -> 20% partial first
    pos = _one(1, 2.0, 100_000.0, 20_000.0, "hyperliquid")
    lp = pos.liquidation_price[0]
    res = simulate_shock(
        pos,
        100_000.0,
        lp / 100_000.0 - 1.0 - 1e-4,
        LinearImpact(depth_1pct_base=1e3),
        steps=200,
        resilience_half_life_s=math.inf,
        venues={"hyperliquid": {"vault_capital_quote": 1e9}},
    )
    ev = res.ledger.filter(pl.col("position") == 0).sort("step")
    assert ev["kind"][0] == "partial_liquidation"
    assert ev["qty_base"][0] == pytest.approx(0.4)  # 20% of 2.0
    # no vault takeover: the equity stays above 2/3 of maintenance on a deep book
    assert "vault_takeover" not in ev["kind"].to_list()


def test_hyperliquid_cooldown_means_full_order():
    pos = _one(1, 2.0, 100_000.0, 20_000.0, "hyperliquid")
    lp = pos.liquidation_price[0]
    # first a hit at the trigger, then another drop within 30 s
    path = np.zeros(20)
    path[0] = lp / 100_000.0 - 1.0 - 1e-4
    path[5] = -0.004
    res = simulate(
        pos,
        LinearImpact(depth_1pct_base=1e4),
        path,
        DynamicConfig(
            steps=40,
            resilience_half_life_s=math.inf,
            venues={"hyperliquid": {"vault_capital_quote": 1e9}},
        ),
        initial_price=100_000.0,
    )
    ev = res.ledger.filter(pl.col("position") == 0).sort("step")
    kinds = ev["kind"].to_list()
    assert kinds[0] == "partial_liquidation"
    assert kinds[1] in ("liquidation", "vault_takeover")
    assert ev["step"][1] - ev["step"][0] < 30
    assert ev["qty_base"][1] == pytest.approx(1.6)  # the whole remaining position


def test_hyperliquid_vault_takes_over_below_two_thirds_of_maintenance():
    pos = _one(1, 1.0, 100_000.0, 10_000.0, "hyperliquid")
    res = simulate_shock(
        pos,
        100_000.0,
        -0.095,
        LinearImpact(depth_1pct_base=1e3),
        venues={"hyperliquid": {"vault_capital_quote": 1e9}},
    )
    ev = res.ledger.filter(pl.col("position") == 0).row(0, named=True)
    assert ev["kind"] == "vault_takeover"
    mark = ev["ref_price"]
    equity = 10_000.0 + (mark - 100_000.0)
    assert ev["vault_pnl"] == pytest.approx(equity)  # the vault keeps the remaining margin
    assert equity < (2 / 3) * 0.0125 * mark
    assert ev["returned_quote"] == 0.0


def test_dydx_liquidates_a_portion_per_block_at_or_above_the_fillable_price():
    pos = _one(1, 50.0, 100.0, 600.0, "dydx_v4", mmr=0.012)  # notional 5,000; 10% -> 1,000 min
    lp = pos.liquidation_price[0]
    res = simulate_shock(
        pos,
        100.0,
        lp / 100.0 - 1.0 - 1e-3,
        LinearImpact(depth_1pct_base=1e4),
        steps=100,
        resilience_half_life_s=math.inf,
    )
    ev = res.ledger.filter(pl.col("position") == 0).sort("step")
    assert ev.height >= 2
    first = ev.row(0, named=True)
    assert first["kind"] == "partial_liquidation"
    assert first["qty_base"] * first["ref_price"] == pytest.approx(1000.0, rel=0.01)
    assert ev["step"].n_unique() == ev.height  # one order per block


def test_funding_accrues_only_when_the_run_crosses_the_interval():
    pos = _book(50, 9, venues=("hyperliquid",), lev=(1.0, 2.0))
    cfg = dict(steps=3600, resilience_half_life_s=math.inf)
    res = simulate(
        pos, LinearImpact(depth_1pct_base=1e6), None, DynamicConfig(**cfg), initial_price=100.0
    )
    los = res.losses.row(0, named=True)
    longs = pos.size_base[pos.side == 1].sum()
    shorts = pos.size_base[pos.side == -1].sum()
    assert los["funding_paid_by_book"] == pytest.approx(
        (longs - shorts) * 100.0 * 0.0001 / 8, rel=1e-9
    )
    assert res.accounts["funding_quote"].sum() == pytest.approx(-los["funding_paid_by_book"])
    short = simulate(
        pos, LinearImpact(depth_1pct_base=1e6), None, DynamicConfig(steps=3599), initial_price=100.0
    )
    assert short.losses["funding_paid_by_book"][0] == 0.0


def test_arbitrage_transmits_a_one_venue_shock():
    pos = _book(100, 2, venues=("binance_usdm", "hyperliquid"), lev=(1.0, 2.0))
    cfg = DynamicConfig(steps=60, shock_venues=("binance_usdm",), arb_rate_per_s=0.5)
    res = simulate(pos, LinearImpact(depth_1pct_base=500.0), -0.05, cfg, initial_price=100.0)
    tl = res.timeline.filter(pl.col("step") == 60)
    prices = dict(zip(tl["venue"], tl["price"], strict=True))
    assert prices["hyperliquid"] < 99.0  # the shock reached HL through arbitrage
    assert abs(math.log(prices["hyperliquid"] / prices["binance_usdm"])) < 1e-6
    assert res.timeline["arb_volume_base"].sum() > 0
    none = simulate(
        pos,
        LinearImpact(depth_1pct_base=500.0),
        -0.05,
        DynamicConfig(steps=60, shock_venues=("binance_usdm",), arb_rate_per_s=0.0),
        initial_price=100.0,
    )
    tl0 = none.timeline.filter((pl.col("step") == 60) & (pl.col("venue") == "hyperliquid"))
    assert tl0["price"][0] == pytest.approx(100.0)


def test_depth_refill_and_stress_change_the_outcome():
    pos = _book(400, 4, lev=(5.0, 40.0), long_share=0.9)
    imp = SqrtImpact(y=1.0, sigma_daily=0.03, adv_base=2e5)
    base = dict(steps=300, venues={"generic": {"clearance_fee_rate": 0.0}})
    never = simulate_shock(
        pos, 100.0, -0.05, imp, resilience_half_life_s=math.inf, **base
    ).summary()
    fast = simulate_shock(pos, 100.0, -0.05, imp, resilience_half_life_s=0.5, **base).summary()
    # concave sqrt impact: a refilled book puts every new order back on the steep part
    assert fast["final_price"] < never["final_price"]
    stressed = simulate_shock(
        pos,
        100.0,
        -0.05,
        LinearImpact(depth_1pct_base=300.0),
        stress_beta=3.0,
        stress_floor=0.3,
        **base,
    )
    calm = simulate_shock(pos, 100.0, -0.05, LinearImpact(depth_1pct_base=300.0), **base)
    assert stressed.timeline["depth_scale"].min() < 1.0
    assert stressed.summary()["final_price"] <= calm.summary()["final_price"]


def test_bad_input_errors_name_the_field():
    pos = _book(10, 1)
    with pytest.raises(ConfigError, match="unknown"):
        simulate_shock(pos, 100.0, -0.05, LinearImpact(depth_1pct_base=10.0), not_a_key=1)
    with pytest.raises(ConfigError, match="process"):
        VenueProcess(process="ftx")
    with pytest.raises(InputError, match="shock"):
        simulate_shock(pos, 100.0, -1.5, LinearImpact(depth_1pct_base=10.0))
    with pytest.raises(InputError, match=r"path\[1\]"):
        simulate(pos, LinearImpact(depth_1pct_base=10.0), [0.0, -2.0], initial_price=100.0)
    with pytest.raises(InputError, match="initial_price"):
        simulate(pos, LinearImpact(depth_1pct_base=10.0), -0.1, initial_price=-1.0)
    with pytest.raises(ConfigError, match="venues.generic"):
        DynamicConfig(venues={"generic": {"insurance": 1}})


def test_from_position_book():
    from liqcascade.book import PositionBook

    df = pl.DataFrame(
        {
            "account_id": [1, 2, 3, 4],
            "venue": ["binance_usdm", "binance_usdm", "hyperliquid", "hyperliquid"],
            "symbol": ["BTCUSDT", "BTCUSDT", "BTC", "BTC"],
            "side": ["long", "short", "long", "short"],
            "size_base": [1.0, 1.0, 1.0, 1.0],
            "entry_price": [100_000.0] * 4,
            "leverage": [20.0, 5.0, 20.0, 5.0],
        }
    )
    book = PositionBook.from_frame(df)
    res = simulate_shock(book, 100_000.0, -0.06, LinearImpact(depth_1pct_base=100.0))
    s = res.summary()
    assert s["liquidated_count"] == 2  # both 20x longs
    assert set(res.losses["venue"]) == {"binance_usdm", "hyperliquid"}
    assert abs(s["conservation_residual"]) <= 1e-9 * max(1.0, s["notional_involved"])


def test_dydx_fill_respects_the_fillable_price():
    pos = _one(1, 50.0, 100.0, 600.0, "dydx_v4", mmr=0.012)
    lp = pos.liquidation_price[0]
    shock = lp / 100.0 - 1.0 - 0.02  # well past the trigger, equity still positive
    res = simulate_shock(
        pos,
        100.0,
        shock,
        LinearImpact(depth_1pct_base=5.0),
        steps=50,
        resilience_half_life_s=math.inf,
    )
    ev = res.ledger.filter(pl.col("position") == 0).sort("step").row(0, named=True)
    mark = 100.0 * (1 + shock)
    v = 600.0 + 50.0 * (mark - 100.0)
    mm = 50.0 * mark * 0.012
    abr = min(1.0, max(0.0, 1.0 * (1 - v / mm)))
    fp = mark - abr * 1.5 * mm / 50.0
    assert ev["exec_price"] >= fp - 1e-9
    # order = max(10% of 50, 1,000 USDC / mark); on a thin book the IOC stops at the fillable price
    assert ev["qty_base"] < max(5.0, 1000.0 / mark) * (1 - 1e-6)


def test_hyperliquid_adl_at_previous_mark_when_no_vault_capital():
    pos = _one(1, 1.0, 100_000.0, 5_000.0, "hyperliquid")
    res = simulate_shock(
        pos,
        100_000.0,
        -0.10,
        LinearImpact(depth_1pct_base=1e3),
        venues={"hyperliquid": {"vault_capital_quote": 0.0}},
    )
    lg = res.ledger
    loser = lg.filter(pl.col("kind") == "adl_loser")
    assert loser.height == 1 and loser["position"][0] == 0
    win = lg.filter(pl.col("kind") == "adl_winner")
    # closed at the previous mark (the price before the shock step), clamped at the winners' entry
    expected = np.minimum(100_000.0, pos.entry_price[win["position"].to_numpy()])
    np.testing.assert_allclose(win["exec_price"].to_numpy(), expected)
    assert win["qty_base"].sum() == pytest.approx(1.0)


def test_isolated_names_the_first_bad_position():
    # PositionArrays.isolated prices through liqcascade.margin.liquidation_price_at_rate, whose
    # checks name the field and the index of the first bad value
    with pytest.raises(InputError, match=r"size_base must be > 0 and finite, got .*index 1"):
        PositionArrays.isolated(
            PositionsAtRate(
                side=[1, -1], size_base=[1.0, 0.0], entry_price=100.0, margin_quote=10.0, mmr=0.01
            )
        )
    with pytest.raises(InputError, match="side must be"):
        PositionArrays.isolated(
            PositionsAtRate(
                side=[1, 0], size_base=1.0, entry_price=100.0, margin_quote=10.0, mmr=0.01
            )
        )
