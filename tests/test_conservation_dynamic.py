"""Money is conserved in the dynamic mode: every dollar of loss lands somewhere named.

Property tests on random books, venues, funds, vaults, ADL policies and price paths:
trader_pnl + fee + insurance_fund_change + vault_pnl + adl_transfer + bad_debt = 0 per event and
in total (to 1e-9 of the notional involved), and the named places are consistent with each other.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liqcascade.engine.dynamic import DynamicConfig, PositionArrays, simulate
from liqcascade.impact import LinearImpact, SqrtImpact
from liqcascade.margin import PositionsAtRate

IDENTITY = ["trader_pnl", "fee", "insurance_fund_change", "vault_pnl", "adl_transfer", "bad_debt"]


@st.composite
def scenarios(draw):
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    venues = tuple(
        draw(
            st.lists(
                st.sampled_from(["binance_usdm", "hyperliquid", "dydx_v4", "generic"]),
                min_size=1,
                max_size=3,
                unique=True,
            )
        )
    )
    n = draw(st.integers(2, 80))
    side = np.where(rng.random(n) < draw(st.floats(0.1, 0.9)), 1, -1)
    entry = 100.0 * np.exp(rng.normal(0, 0.04, n))
    size = np.exp(rng.normal(0.0, 1.5, n)) * draw(st.sampled_from([1.0, 1e3]))
    lev = rng.uniform(1.5, draw(st.sampled_from([20.0, 100.0])), n)
    pos = PositionArrays.isolated(
        PositionsAtRate(
            side=side,
            size_base=size,
            entry_price=entry,
            margin_quote=size * entry / lev,
            mmr=draw(st.sampled_from([0.004, 0.0125, 0.03])),
        ),
        venue_code=rng.integers(0, len(venues), n),
        venues=venues,
        account_id=rng.integers(0, max(1, n // 2), n),
    )
    vcfg = {}
    for v in venues:
        d = {
            "insurance_fund_quote": draw(st.sampled_from([0.0, 50.0, 1e4, math.inf])),
            "adl_policy": draw(
                st.sampled_from(
                    [
                        "queue:binance",
                        "queue:hyperliquid",
                        "queue:bitmex",
                        "random_start",
                        "pro_rata",
                        "capped_pro_rata:0.5",
                    ]
                )
            ),
        }
        if v == "hyperliquid":
            d["vault_capital_quote"] = draw(st.sampled_from([0.0, 1e3, 1e9]))
            d["vault_mode"] = draw(st.sampled_from(["hold", "unwind"]))
        if v == "generic":
            d["process"] = draw(st.sampled_from(["binance", "hyperliquid", "dydx"]))
            d["has_vault"] = draw(st.booleans())
            d["vault_capital_quote"] = 1e4
        vcfg[v] = d
    steps = draw(st.integers(5, 60))
    path = rng.normal(0, draw(st.sampled_from([0.002, 0.02])), steps)
    path[0] += draw(st.floats(-0.3, 0.3))
    path = np.clip(path, -0.5, 0.5)
    cfg = DynamicConfig(
        steps=steps,
        seed=seed,
        resilience_half_life_s=draw(st.sampled_from([0.5, 30.0, math.inf])),
        permanent_fraction=draw(st.sampled_from([0.0, 0.5, 1.0])),
        stress_beta=draw(st.sampled_from([0.0, 2.0])),
        arb_rate_per_s=draw(st.sampled_from([0.0, 0.3])),
        venues=vcfg,
    )
    impact = draw(
        st.sampled_from(
            [
                LinearImpact(depth_1pct_base=50.0),
                LinearImpact(depth_1pct_base=5e3),
                SqrtImpact(y=1.0, sigma_daily=0.05, adv_base=1e5),
            ]
        )
    )
    return pos, path, cfg, impact


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_money_is_conserved(sc):
    pos, path, cfg, impact = sc
    res = simulate(pos, impact, path, cfg, initial_price=100.0)
    lg = res.ledger
    s = res.summary()
    if lg.height == 0:
        return
    notional = (lg["qty_base"] * lg["ref_price"]).abs()
    # per event
    total = lg.select(pl.sum_horizontal(IDENTITY)).to_series()
    assert ((total.abs() - 1e-9 * (notional + 1.0)) <= 0).all()
    # in total, to 1e-9 of the notional involved
    assert abs(s["conservation_residual"]) <= 1e-9 * max(1.0, s["notional_involved"])
    # limited liability: nobody gets a negative refund; bad debt is a loss, never a gain
    assert (lg["returned_quote"] >= -1e-9 * (notional + 1.0)).all()
    assert (lg["bad_debt"] <= 1e-12).all()
    # what ADL counterparties gave up equals what the losers' rows say they received
    losers = lg.filter(pl.col("kind") == "adl_loser")
    winners = lg.filter(pl.col("kind") == "adl_winner")
    assert abs(
        float(winners["adl_haircut"].sum()) + float(losers["adl_transfer"].sum())
    ) <= 1e-9 * max(1.0, float(notional.sum()))
    # ADL never takes from a losing account: in profit at the reference price, no realised loss
    if winners.height:
        e = pos.entry_price[winners["position"].to_numpy()]
        sw = winners["side"].to_numpy()
        assert np.all(sw * (winners["ref_price"].to_numpy() - e) > 0)
        assert np.all(sw * (winners["exec_price"].to_numpy() - e) >= -1e-9 * e)
    # the ledger never closes a position twice
    closed = lg.filter(pl.col("kind").is_in(["liquidation", "vault_takeover", "adl_loser"]))
    assert closed["position"].n_unique() == closed.height
    # the funds' balances match their ledger columns
    for row in res.losses.iter_rows(named=True):
        sub = lg.filter(pl.col("venue") == row["venue"])
        if math.isfinite(row["insurance_fund_start"]):
            fee_in = float(sub["fee"].sum())  # fee_to_fund is the default
            change = row["insurance_fund_end"] - row["insurance_fund_start"]
            assert abs(change - float(sub["insurance_fund_change"].sum()) - fee_in) <= 1e-9 * max(
                1.0, float(notional.sum())
            )
            assert row["insurance_fund_end"] >= -1e-9 * max(1.0, float(notional.sum()))


def test_conservation_on_a_large_book_with_all_processes():
    rng = np.random.default_rng(0)
    n = 20_000
    venues = ("binance_usdm", "hyperliquid", "dydx_v4")
    side = np.where(rng.random(n) < 0.6, 1, -1)
    entry = 100.0 * np.exp(rng.normal(0, 0.03, n))
    size = np.exp(rng.normal(0, 2.0, n))
    pos = PositionArrays.isolated(
        PositionsAtRate(
            side=side,
            size_base=size,
            entry_price=entry,
            margin_quote=size * entry / rng.uniform(2, 50, n),
            mmr=0.01,
        ),
        venue_code=rng.integers(0, 3, n),
        venues=venues,
    )
    cfg = DynamicConfig(
        steps=300,
        stress_beta=2.0,
        venues={
            "binance_usdm": {"insurance_fund_quote": 1e3},
            "hyperliquid": {"vault_capital_quote": 1e4},
            "dydx_v4": {"insurance_fund_quote": 1e3},
        },
    )
    path = np.zeros(300)
    path[:30] = -0.004
    res = simulate(pos, LinearImpact(depth_1pct_base=2_000.0), path, cfg, initial_price=100.0)
    s = res.summary()
    kinds = set(res.ledger["kind"].unique())
    # the scenario exercises every mechanism
    assert {
        "liquidation",
        "partial_liquidation",
        "vault_takeover",
        "adl_loser",
        "adl_winner",
    } <= kinds
    assert abs(s["conservation_residual"]) <= 1e-9 * s["notional_involved"]
    per_venue = res.losses.select(pl.sum_horizontal(IDENTITY)).to_series()
    assert (per_venue.abs() <= 1e-9 * s["notional_involved"]).all()
