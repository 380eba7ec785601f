"""ADL policies: who is hit, how much, at what price; never a losing account."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liqcascade.adl import (
    ADLPolicy,
    allocate,
    binance_score,
    bitmex_score,
    capped_pro_rata,
    hyperliquid_score,
    pro_rata,
    rank_queue,
)
from liqcascade.errors import ConfigError

POLICIES = [
    ADLPolicy.parse("queue:binance"),
    ADLPolicy.parse("queue:hyperliquid"),
    ADLPolicy.parse("queue:bitmex"),
    ADLPolicy.parse("random_start"),
    ADLPolicy.parse("pro_rata"),
    ADLPolicy.parse("capped_pro_rata:0.5"),
]


@st.composite
def candidates(draw):
    n = draw(st.integers(1, 60))
    rng = np.random.default_rng(draw(st.integers(0, 10**6)))
    side = np.where(rng.random(n) < 0.5, 1.0, -1.0)
    size = rng.uniform(0.01, 50.0, n)
    entry = rng.uniform(60.0, 140.0, n)
    wallet = size * entry / rng.uniform(1.0, 50.0, n)
    mm = 0.01 * size * 100.0
    bank = entry - side * wallet / size
    return side, size, entry, wallet, mm, bank


@settings(max_examples=80, deadline=None)
@given(
    c=candidates(),
    k=st.integers(0, len(POLICIES) - 1),
    loser_side=st.sampled_from([1, -1]),
    qty=st.floats(0.0, 500.0),
    ref=st.floats(70.0, 130.0),
    close_off=st.floats(-0.2, 0.2),
    seed=st.integers(0, 1000),
)
def test_adl_never_takes_from_a_losing_account(c, k, loser_side, qty, ref, close_off, seed):
    side, size, entry, wallet, mm, bank = c
    close = ref * (1 + close_off)
    deficit = max(0.0, loser_side * (close - ref)) * qty
    a = allocate(
        POLICIES[k],
        loser_side=loser_side,
        qty_base=qty,
        close_price=close,
        ref_price=ref,
        deficit_quote=deficit,
        side=side,
        size_base=size,
        entry_price=entry,
        wallet_quote=wallet,
        mm_quote=mm,
        bankruptcy_price=bank,
        rng=np.random.default_rng(seed),
    )
    w = a.winner
    assert len(np.unique(w)) == len(w)
    # only opposite-side accounts in profit at the reference price
    assert np.all(side[w] == -loser_side)
    assert np.all(side[w] * (ref - entry[w]) > 0)
    # the closed part never realises a loss, and nobody closes more than it holds
    assert np.all(side[w] * (a.price - entry[w]) >= -1e-12 * entry[w])
    assert np.all(a.qty_base <= size[w] * (1 + 1e-12))
    assert np.all(a.qty_base > 0)
    assert a.filled_base <= qty * (1 + 1e-9) + 1e-12
    # if enough profitable size exists, the whole quantity is placed
    avail = size[(side == -loser_side) & (side * (ref - entry) > 0)].sum()
    if POLICIES[k].kind != "random_start" and avail >= qty:
        assert a.filled_base == pytest.approx(qty, rel=1e-9, abs=1e-12)


def test_binance_queue_order_follows_the_ranking():
    side = np.array([-1.0, -1.0, -1.0, 1.0])
    size = np.array([1.0, 1.0, 1.0, 5.0])
    entry = np.array([110.0, 120.0, 105.0, 90.0])
    wallet = np.array([10.0, 10.0, 10.0, 100.0])
    mm = np.array([1.0, 1.0, 1.0, 1.0])
    a = allocate(
        ADLPolicy.parse("queue:binance"),
        loser_side=1,
        qty_base=1.5,
        close_price=98.0,
        ref_price=100.0,
        deficit_quote=3.0,
        side=side,
        size_base=size,
        entry_price=entry,
        wallet_quote=wallet,
        mm_quote=mm,
        bankruptcy_price=entry + wallet / size,
        rng=np.random.default_rng(0),
    )
    upnl = side * size * (100.0 - entry)
    score = binance_score(upnl, wallet, mm)
    assert list(a.winner) == [1, 0]  # the two highest scores, highest first
    assert score[1] > score[0] > score[2]
    assert list(a.qty_base) == [1.0, 0.5]
    assert np.all(a.price == 98.0)


def test_scores_match_their_formulas():
    # Binance: PnL% x margin ratio
    s = binance_score(np.array([50.0, -5.0]), np.array([100.0, 100.0]), np.array([10.0, 10.0]))
    assert s[0] == pytest.approx(0.5 * 10.0 / 150.0)
    assert s[1] == 0.0
    # Hyperliquid: (mark/entry) x notional / account value (entry/mark for shorts)
    h = hyperliquid_score(
        np.array([1.0, -1.0]),
        110.0,
        np.array([100.0, 120.0]),
        np.array([1100.0, 1100.0]),
        np.array([200.0, 200.0]),
    )
    assert h[0] == pytest.approx(1.1 * 5.5)
    assert h[1] == pytest.approx(120 / 110 * 5.5)
    # BitMEX: PnL% x effective leverage
    b = bitmex_score(np.array([1.0]), 110.0, np.array([100.0]), np.array([90.0]))
    assert b[0] == pytest.approx(0.1 * 110.0 / 20.0)


def test_splits():
    assert list(rank_queue(np.array([2.0, 3.0, 4.0]), 4.0)) == [2.0, 2.0, 0.0]
    np.testing.assert_allclose(pro_rata(np.array([1.0, 3.0]), 2.0), [0.5, 1.5])
    np.testing.assert_allclose(pro_rata(np.array([1.0, 3.0]), 10.0), [1.0, 3.0])
    h = capped_pro_rata(np.array([10.0, 30.0]), 30.0, cap_fraction=0.5)
    np.testing.assert_allclose(h, [5.0, 15.0])  # shares 7.5/22.5 capped at half the profit
    np.testing.assert_allclose(capped_pro_rata(np.array([10.0, 30.0]), 8.0), [2.0, 6.0])


def test_capped_pro_rata_haircut_respects_the_cap():
    side = np.array([-1.0, -1.0])
    size = np.array([1.0, 3.0])
    entry = np.array([120.0, 110.0])
    a = allocate(
        ADLPolicy.parse("capped_pro_rata:0.5"),
        loser_side=1,
        qty_base=2.0,
        close_price=80.0,
        ref_price=100.0,
        deficit_quote=1e6,
        side=side,
        size_base=size,
        entry_price=entry,
        wallet_quote=np.ones(2),
        mm_quote=np.ones(2),
        bankruptcy_price=entry + 1,
        rng=np.random.default_rng(0),
    )
    profit_closed = a.qty_base * (entry[a.winner] - 100.0)
    haircut = a.qty_base * (a.price - 100.0)  # shorts closed above the reference price
    np.testing.assert_allclose(haircut, 0.5 * profit_closed)


def test_random_start_uses_the_generator():
    n = 50
    side = -np.ones(n)
    size = np.ones(n)
    entry = np.full(n, 120.0)
    args = dict(
        loser_side=1,
        qty_base=3.0,
        close_price=95.0,
        ref_price=100.0,
        deficit_quote=15.0,
        side=side,
        size_base=size,
        entry_price=entry,
        wallet_quote=np.ones(n),
        mm_quote=np.ones(n),
        bankruptcy_price=entry + 1,
    )
    p = ADLPolicy.parse("random_start")
    a = allocate(p, rng=np.random.default_rng(1), **args)
    b = allocate(p, rng=np.random.default_rng(1), **args)
    c = allocate(p, rng=np.random.default_rng(2), **args)
    assert list(a.winner) == list(b.winner)
    assert list(a.winner) != list(c.winner)
    # consecutive offsetting accounts from the start index (cyclic)
    assert list(np.diff(a.winner) % n) == [1, 1]


def test_policy_parse_errors():
    with pytest.raises(ConfigError):
        ADLPolicy.parse("lottery")
    with pytest.raises(ConfigError):
        ADLPolicy.parse("queue:okx_magic")
    with pytest.raises(ConfigError):
        ADLPolicy.parse("capped_pro_rata:1.5")
    with pytest.raises(ConfigError, match="unknown keys"):
        ADLPolicy.parse({"kind": "queue", "colour": "red"})
