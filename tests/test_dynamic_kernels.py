"""Numba kernels of the dynamic engine agree with their plain twins."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liqcascade import margin
from liqcascade.depth import (
    curve_move_for_volume,
    curve_move_for_volume_plain,
    curve_volume_for_move,
    curve_volume_for_move_plain,
)
from liqcascade.engine import dyn_kernels as K
from liqcascade.engine.dyn_tiers import TierSet
from liqcascade.impact import LinearImpact, SqrtImpact
from liqcascade.markets import (
    ImpactTable,
    curve_integral,
    curve_integral_plain,
    execute_on_curve,
    execute_on_curve_plain,
)
from liqcascade.venues import list_symbols, list_venues, load_venue


def _tables():
    return [
        ImpactTable.from_impact(LinearImpact(depth_1pct_base=50.0)),
        ImpactTable.from_impact(SqrtImpact(y=1.0, sigma_daily=0.03, adv_base=10_000.0)),
        ImpactTable.from_arrays(
            np.array([0.0, 10.0, 30.0, 100.0]), np.array([0.0, 0.02, 0.03, 1.0])
        ),
    ]


TABLES = _tables()


@settings(max_examples=30, deadline=None)
@given(k=st.integers(0, 2), frac=st.floats(0.0, 1.5))
def test_curve_move_and_inverse_twins(k, frac):
    t = TABLES[k]
    e = frac * t.volume_base[-1]
    a = curve_move_for_volume(t.volume_base, t.move, e)
    b = curve_move_for_volume_plain(t.volume_base, t.move, e)
    assert a == pytest.approx(b, rel=1e-12, abs=1e-15)
    x = min(a, 2.0)
    if x > 0:
        inv = curve_volume_for_move(t.volume_base, t.move, x)
        inv_p = curve_volume_for_move_plain(t.volume_base, t.move, x)
        assert inv == pytest.approx(inv_p, rel=1e-9)
        assert curve_move_for_volume(t.volume_base, t.move, inv) == pytest.approx(x, rel=1e-9)


@settings(max_examples=15, deadline=None)
@given(k=st.integers(0, 2), frac=st.floats(0.0, 1.3), sigma=st.sampled_from([1.0, -1.0]))
def test_curve_integral_twin(k, frac, sigma):
    t = TABLES[k]
    e = frac * t.volume_base[-1]
    a = curve_integral(t.volume_base, t.move, t.cum_for(sigma), e, sigma)
    b = curve_integral_plain(t.volume_base, t.move, t.cum_for(sigma), e, sigma)
    assert a == pytest.approx(b, rel=1e-8, abs=1e-9 * t.volume_base[-1])


@settings(max_examples=25, deadline=None)
@given(
    k=st.integers(0, 2),
    eaten_frac=st.floats(0.0, 0.8),
    qty_frac=st.floats(1e-6, 0.5),
    sigma=st.sampled_from([1.0, -1.0]),
    scale=st.floats(0.2, 1.0),
    limit=st.floats(0.0, 0.2),
)
def test_execute_on_curve_twin(k, eaten_frac, qty_frac, sigma, scale, limit):
    t = TABLES[k]
    vmax = t.volume_base[-1]
    anchor = 100.0
    lim = 0.0 if limit == 0 else anchor * (1 - sigma * limit)
    args = (
        t.volume_base,
        t.move,
        t.cum_for(sigma),
        sigma,
        anchor,
        eaten_frac * vmax,
        scale,
        qty_frac * vmax,
        lim,
    )
    a = execute_on_curve(*args)
    b = execute_on_curve_plain(*args)
    assert a[0] == pytest.approx(b[0], rel=1e-8, abs=1e-12)
    assert a[1] == pytest.approx(b[1], rel=1e-7, abs=1e-9)
    assert a[2] == pytest.approx(b[2], rel=1e-8, abs=1e-12)
    if a[0] > 0:
        vwap = a[1] / a[0]
        start = anchor * (
            1 - sigma * curve_move_for_volume(t.volume_base, t.move, eaten_frac * vmax)
        )
        # a sell fills at or below the starting price, a buy at or above; within the limit
        assert sigma * (start - vwap) >= -1e-9
        if lim > 0:
            assert sigma * (vwap - lim) >= -1e-9


def test_linear_execution_matches_closed_form():
    t = ImpactTable.from_impact(LinearImpact(depth_1pct_base=50.0))
    # selling 25 base on a fresh 50/1% book: price 100 -> 99.5, VWAP 99.75
    f, quote, e = execute_on_curve(
        t.volume_base, t.move, t.cum_bid, 1.0, 100.0, 0.0, 1.0, 25.0, 0.0
    )
    assert f == 25.0
    assert quote / f == pytest.approx(99.75, rel=1e-12)
    assert 100.0 * (1 - curve_move_for_volume(t.volume_base, t.move, e)) == pytest.approx(
        99.5, rel=1e-12
    )
    # half depth: the same volume moves the price twice as far
    _, quote2, e2 = execute_on_curve(
        t.volume_base, t.move, t.cum_bid, 1.0, 100.0, 0.0, 0.5, 25.0, 0.0
    )
    assert 100.0 * (1 - curve_move_for_volume(t.volume_base, t.move, e2)) == pytest.approx(
        99.0, rel=1e-12
    )


def _random_state(rng, n, proc):
    side = np.where(rng.random(n) < 0.5, 1, -1).astype(np.int8)
    size = rng.uniform(0.1, 3000.0, n)
    entry = rng.uniform(90, 110, n)
    lev = rng.uniform(2, 60, n)
    marg = size * entry / lev
    rules = load_venue("hyperliquid", "BTC")
    tiers = TierSet.from_rules([rules, None], [0.0, 0.01])
    table = (rng.random(n) < 0.5).astype(np.int64)  # half on HL's tiers, half on one 1% tier
    liq = np.empty(n)
    mmr = np.empty(n)
    cum = np.empty(n)
    for j in (0, 1):
        sel = table == j
        r = rules if j == 0 else None
        if r is None:
            liq[sel] = margin.liquidation_price_at_rate(
                margin.PositionsAtRate(
                    side=side[sel],
                    size_base=size[sel],
                    entry_price=entry[sel],
                    margin_quote=marg[sel],
                    mmr=0.01,
                )
            )
            mmr[sel], cum[sel] = 0.01, 0.0
        else:
            liq[sel], k = margin.liquidation_price_and_tier(
                r, side[sel], size[sel], entry[sel], marg[sel]
            )
            mmr[sel], cum[sel] = r.tiers.mmr[k], r.tiers.cum_quote[k]
    bank = entry - side * marg / size
    prm = np.zeros(K.N_PRM)
    prm[:] = [0.005, 1, 100_000, 0.2, 30, 2 / 3, 0, 1, 1.0, 1.5, 0.1, 1000, 100_000, 1e6]
    fund = np.array([rng.choice([0.0, 1e4, 1e9]), 0.0, rng.choice([0.0, 1e6]), 0.0, 0.0, 0.0])
    return side, size, entry, marg, mmr, cum, liq, bank, prm, fund, tiers, table


@pytest.mark.parametrize("proc", [K.PROC_BINANCE, K.PROC_HYPERLIQUID, K.PROC_DYDX])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_liquidate_batch_twin(proc, seed):
    n = 40
    t = TABLES[seed % 3]
    out = []
    for fn in (K.liquidate_batch, K.liquidate_batch_plain):
        side, size, entry, marg, mmr, cum, liq, bank, prm, fund, tiers, table = _random_state(
            np.random.default_rng(seed), n, proc
        )
        s = 1
        idx = np.flatnonzero(side == s).astype(np.int64)
        active = np.ones(n, np.bool_)
        last = np.full(n, -np.inf)
        rq = np.zeros(n, np.uint8)
        ev = {
            k: np.zeros(n)
            for k in ("qty", "ref", "exe", "liq", "tp", "fee", "ifc", "vault", "bad", "ret")
        }
        kind = np.zeros(n, np.int64)
        posa = np.zeros(n, np.int64)
        pend = np.zeros(n, np.int64)
        px = np.zeros(n)
        pos = (side, size, entry, marg, mmr, cum, liq, bank, active, last, rq, table)
        book = (t.volume_base, t.move, t.cum_bid, 1.0, 100.0, 1.0)
        evt = (kind, posa, *ev.values())
        res = fn(
            idx, 1.0, 95.0, 100.0, proc, prm, fund, pos, tiers.arrays(), book, 0.0, evt, (pend, px)
        )
        out.append(
            (res, kind, posa, ev, fund.copy(), size.copy(), marg.copy(), pend, px, liq.copy())
        )
    (ra, ka, pa, ea, fa, sa, ma, pna, pxa, la), (rb, kb, pb, eb, fb, sb, mb, pnb, pxb, lb) = out
    assert ra[0] == rb[0] and ra[1] == rb[1]
    assert ra[2] == pytest.approx(rb[2], rel=1e-12)
    assert np.array_equal(ka, kb) and np.array_equal(pa, pb) and np.array_equal(pna, pnb)
    # the plain twin walks the book by quadrature (markets.execute_on_curve_plain), which agrees
    # with the closed form to 1e-8 (test_execute_on_curve_twin)
    for k in ea:
        np.testing.assert_allclose(ea[k], eb[k], rtol=1e-8, atol=1e-6)
    np.testing.assert_allclose(fa, fb, rtol=1e-8)
    np.testing.assert_allclose(sa, sb, rtol=1e-8)
    np.testing.assert_allclose(la, lb, rtol=1e-8)
    # every event balances
    n_ev = ra[0]
    tot = ea["tp"] + ea["fee"] + ea["ifc"] + ea["vault"] + ea["bad"]
    scale = np.abs(ea["qty"] * ea["ref"]) + 1.0
    assert np.all(np.abs(tot[:n_ev]) <= 1e-9 * scale[:n_ev])


def _venue_rules():
    out = []
    for v in list_venues():
        for sym in list_symbols(v)[:2] or ["BTCUSDT"]:
            out.append(load_venue(v, sym))
    return out


@pytest.mark.parametrize("rules", _venue_rules(), ids=lambda r: f"{r.venue}:{r.symbol}")
def test_liquidation_price_one_is_margins_rule(rules):
    """The one-position kernel the engine re-prices with gives margin.liquidation_price_and_tier,
    for every venue's rules, across every tier (notionals from 0 to past the last floor)."""
    rng = np.random.default_rng(7)
    n = 400
    entry = rng.uniform(50.0, 150_000.0, n)
    top = max(float(rules.tiers.floor_quote[-1]) * 2.0, 1e6)
    size = np.exp(rng.uniform(np.log(1.0), np.log(top), n)) / entry
    side = np.where(rng.random(n) < 0.5, 1, -1)
    marg = size * entry / rng.uniform(1.0, 100.0, n)
    want_p, want_k = margin.liquidation_price_and_tier(rules, side, size, entry, marg)
    t = rules.tiers
    got_p = np.empty(n)
    got_k = np.empty(n, np.int64)
    for i in range(n):
        p, k = margin.liquidation_price_one(
            float(side[i]), size[i], entry[i], marg[i], t.floor_quote, t.mmr, t.cum_quote,
            rules.mm_fee_rate, margin.formula_code(rules),
        )  # fmt: skip
        got_p[i] = p if p > 0 else np.nan
        got_k[i] = k
    np.testing.assert_allclose(got_p, want_p, rtol=1e-12, equal_nan=True)
    ok = np.isfinite(want_p)
    assert np.array_equal(got_k[ok], want_k[ok])
    assert len(np.unique(want_k)) > 1 or len(t) == 1  # the draw spans several tiers


def test_reprice_uses_the_venue_tier_at_the_new_size():
    """A Hyperliquid position above the $150M tier floor, cut below it, is re-priced in tier 1
    (a fixed-tier formula would keep tier 2's rate)."""
    rules = load_venue("hyperliquid", "BTC")
    tiers = TierSet.from_rules([rules], [0.0])
    s, q, e, m = 1.0, 2_000.0, 100_000.0, 20e6  # $200M at 10x: tier 2
    p0, k0 = margin.liquidation_price_and_tier(rules, 1, q, e, m)
    assert int(k0) == 1
    pos = (
        np.array([1], np.int8), np.array([q]), np.array([e]), np.array([m]),
        np.array([rules.tiers.mmr[1]]), np.array([rules.tiers.cum_quote[1]]), np.array([float(p0)]),
        np.array([e - m / q]), np.ones(1, np.bool_), np.zeros(1), np.zeros(1, np.uint8),
        np.zeros(1, np.int64),
    )  # fmt: skip
    q1, m1 = 1_000.0, 9e6
    K.reprice(pos, tiers.arrays(), 0, s, q1, e, m1)
    want, k1 = margin.liquidation_price_and_tier(rules, 1, q1, e, m1)
    assert int(k1) == 0
    assert pos[6][0] == pytest.approx(float(want), rel=1e-12)
    assert pos[4][0] == rules.tiers.mmr[0] and pos[10][0] == 1
    assert pos[7][0] == pytest.approx(
        float(margin.bankruptcy_price(rules, 1, q1, e, m1)), rel=1e-12
    )
    fixed = margin.liquidation_price_at_rate(
        margin.PositionsAtRate(
            side=1,
            size_base=q1,
            entry_price=e,
            margin_quote=m1,
            mmr=rules.tiers.mmr[1],
            cum_quote=rules.tiers.cum_quote[1],
        )
    )
    assert abs(float(fixed) - pos[6][0]) > 1.0  # the old fixed-tier price is off by dollars


def test_funding_moves_the_trigger_as_margins_rule_does():
    rules = load_venue("okx_swap", "BTC-USDT-SWAP")  # fee term in the rule
    tiers = TierSet.from_rules([rules], [0.0])
    side = np.array([1, -1], np.int8)
    q = np.array([2.0, 3.0])
    e = np.array([100_000.0, 100_000.0])
    m = np.array([10_000.0, 20_000.0])
    liq, k = margin.liquidation_price_and_tier(rules, side, q, e, m)
    pos = (
        side, q.copy(), e, m.copy(), rules.tiers.mmr[k], rules.tiers.cum_quote[k], liq.copy(),
        e - side * m / q, np.ones(2, np.bool_), np.zeros(2), np.zeros(2, np.uint8),
        np.zeros(2, np.int64),
    )  # fmt: skip
    pay = np.array([150.0, -80.0])
    K.pay_funding(np.arange(2, dtype=np.int64), pay, pos, tiers.arrays())
    want = margin.liquidation_price(rules, side, q, e, m - pay)
    np.testing.assert_allclose(pos[6], want, rtol=1e-12)
    np.testing.assert_allclose(pos[3], m - pay, rtol=0)
    np.testing.assert_allclose(
        pos[7], margin.bankruptcy_price(rules, side, q, e, m - pay), rtol=1e-12
    )


@settings(max_examples=15, deadline=None)
@given(
    gap=st.floats(0.001, 0.2),
    keep=st.floats(0.0, 0.95),
    k1=st.integers(0, 2),
    k2=st.integers(0, 2),
    eaten=st.floats(0.0, 0.3),
)
def test_arb_solve_twin(gap, keep, k1, k2, eaten):
    from liqcascade.markets import VenueMarket, arb_volume, arb_volume_plain

    dear = VenueMarket("a", 100.0 * (1 + gap), TABLES[k1])
    cheap = VenueMarket("b", 100.0, TABLES[k2])
    dear.eaten_ask = eaten * TABLES[k1].volume_base[-1]
    q = arb_volume(dear, cheap, keep)
    q_plain = arb_volume_plain(dear, cheap, keep)
    assert q == pytest.approx(q_plain, rel=1e-6)
    p0 = np.log(dear.price / cheap.price)
    dear.execute(1.0, q)
    cheap.execute(-1.0, q)
    assert np.log(dear.price / cheap.price) == pytest.approx(keep * p0, rel=1e-6, abs=1e-9)


@settings(max_examples=20, deadline=None)
@given(
    k=st.integers(0, 2),
    a_frac=st.floats(0.0, 1.2),
    width=st.floats(0.0, 0.5),
    sigma=st.sampled_from([1.0, -1.0]),
)
def test_curve_integral_between_twin(k, a_frac, width, sigma):
    from liqcascade.markets import curve_integral_between, curve_integral_between_plain

    t = TABLES[k]
    vmax = t.volume_base[-1]
    a, b = a_frac * vmax, (a_frac + width) * vmax
    got = curve_integral_between(t.volume_base, t.move, t.cum_for(sigma), a, b - a, sigma)
    want = curve_integral_between_plain(t.volume_base, t.move, t.cum_for(sigma), a, b - a, sigma)
    assert got == pytest.approx(want, rel=1e-8, abs=1e-10 * vmax)
    # and it is the difference of the cumulative integrals
    diff = curve_integral(t.volume_base, t.move, t.cum_for(sigma), b, sigma) - curve_integral(
        t.volume_base, t.move, t.cum_for(sigma), a, sigma
    )
    assert got == pytest.approx(diff, rel=1e-9, abs=1e-9 * vmax)


def test_tiny_walk_fills_at_the_touch():
    t = ImpactTable.from_impact(LinearImpact(depth_1pct_base=50.0))
    eaten = 0.1492323639610772 * t.volume_base[-1]
    start = 100.0 * (1 - curve_move_for_volume(t.volume_base, t.move, eaten))
    f, quote, _ = execute_on_curve(
        t.volume_base, t.move, t.cum_bid, 1.0, 100.0, eaten, 1.0, 1e-9, 0.0
    )
    assert quote / f == pytest.approx(start, rel=1e-9)
