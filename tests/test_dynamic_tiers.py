"""The dynamic engine re-prices positions by the venue's own liquidation rule (margin.py)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from liqcascade import margin
from liqcascade.engine.dyn_tiers import TierSet
from liqcascade.engine.dynamic import DynamicConfig, PositionArrays, simulate
from liqcascade.impact import LinearImpact
from liqcascade.venues import load_venue


def _whale(rules, size_base, margin_quote, entry=100_000.0):
    p, k = margin.liquidation_price_and_tier(rules, 1, size_base, entry, margin_quote)
    return PositionArrays(
        account_id=np.array([1]),
        venue_code=np.array([0]),
        venues=(rules.venue,),
        side=np.array([1]),
        size_base=np.array([size_base]),
        entry_price=np.array([entry]),
        margin_quote=np.array([margin_quote]),
        mmr=np.array([rules.tiers.mmr[k]]),
        cum_quote=np.array([rules.tiers.cum_quote[k]]),
        liquidation_price=np.array([float(p)]),
        bankruptcy_price=np.array([entry - margin_quote / size_base]),
        tiers=TierSet.from_rules([rules], [0.0]),
        tier_table=np.array([0]),
    )


def test_partial_liquidations_reprice_by_the_venue_tiers():
    """A $200M Hyperliquid long (tier 2, above the $150M floor) is cut 20% at a time; after every
    cut its trigger is margin.liquidation_price of what is left, in the tier of that notional."""
    rules = load_venue("hyperliquid", "BTC")
    pos = _whale(rules, 2_000.0, 20e6)
    cfg = DynamicConfig(
        steps=400,
        venues={"hyperliquid": {"has_vault": False, "cooldown_s": 1.0}},
        resilience_half_life_s=5.0,
    )
    path = np.r_[-0.09, np.full(300, -0.0003)]
    res = simulate(pos, LinearImpact(depth_1pct_base=20_000.0), path, cfg, initial_price=100_000.0)
    ev = res.ledger.filter(pl.col("position") == 0).sort("step")
    part = ev.filter(pl.col("kind") == "partial_liquidation")
    assert part.height >= 2
    q, m, e = 2_000.0, 20e6, 100_000.0
    tiers_seen = set()
    for row in ev.iter_rows(named=True):
        want, k = margin.liquidation_price_and_tier(rules, 1, q, e, m)
        assert row["liq_price"] == pytest.approx(float(want), rel=1e-9)
        tiers_seen.add(int(k))
        dq, fill = row["qty_base"], row["exec_price"]
        q, m = q - dq, m + dq * (fill - e)
    assert tiers_seen == {0, 1}  # the cuts took it from tier 2 into tier 1
    assert abs(res.summary()["conservation_residual"]) <= 1e-9 * res.summary()["notional_involved"]


def test_book_positions_carry_their_venue_tier_tables():
    from liqcascade.book import PositionBook

    book = PositionBook.from_frame(
        pl.DataFrame(
        [
            dict(account_id=1, venue="hyperliquid", symbol="BTC", side="long", size_base=1.0,
                 entry_price=100_000.0, margin_mode="isolated", leverage=10.0),
            dict(account_id=2, venue="binance_usdm", symbol="BTCUSDT", side="short",
                 size_base=2.0, entry_price=100_000.0, margin_mode="isolated", leverage=5.0),
        ])
    )  # fmt: skip
    pa = PositionArrays.from_book(book)
    assert pa.tiers is not None and len(pa.tiers) == 2
    for v, name in enumerate(pa.venues):
        rules = load_venue(name, pa.symbols[v])
        a, b = pa.tiers.start[v], pa.tiers.start[v + 1]
        np.testing.assert_array_equal(pa.tiers.mmr[a:b], rules.tiers.mmr)
        assert np.all(pa.tier_table[pa.venue_code == v] == v)
