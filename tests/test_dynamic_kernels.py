"""Numba kernels of the dynamic engine agree with their plain twins."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liqcascade.engine import dyn_kernels as K
from liqcascade.impact import LinearImpact, SqrtImpact
from liqcascade.markets import (
    ImpactTable,
    curve_integral,
    curve_integral_plain,
    curve_move,
    curve_move_plain,
    curve_volume_at_move,
    curve_volume_at_move_plain,
    execute_on_curve,
    execute_on_curve_plain,
)


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
    a = curve_move(t.volume_base, t.move, e)
    b = curve_move_plain(t.volume_base, t.move, e)
    assert a == pytest.approx(b, rel=1e-12, abs=1e-15)
    x = min(a, 2.0)
    if x > 0:
        inv = curve_volume_at_move(t.volume_base, t.move, x)
        inv_p = curve_volume_at_move_plain(t.volume_base, t.move, x)
        assert inv == pytest.approx(inv_p, rel=1e-9)
        assert curve_move(t.volume_base, t.move, inv) == pytest.approx(x, rel=1e-9)


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
        start = anchor * (1 - sigma * curve_move(t.volume_base, t.move, eaten_frac * vmax))
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
    assert 100.0 * (1 - curve_move(t.volume_base, t.move, e)) == pytest.approx(99.5, rel=1e-12)
    # half depth: the same volume moves the price twice as far
    _, quote2, e2 = execute_on_curve(
        t.volume_base, t.move, t.cum_bid, 1.0, 100.0, 0.0, 0.5, 25.0, 0.0
    )
    assert 100.0 * (1 - curve_move(t.volume_base, t.move, e2)) == pytest.approx(99.0, rel=1e-12)


@settings(max_examples=40, deadline=None)
@given(
    liq=st.lists(st.floats(1.0, 200.0), min_size=0, max_size=30),
    price=st.floats(1.0, 200.0),
    side=st.sampled_from([1, -1]),
    start_frac=st.floats(0, 1),
)
def test_crossed_count_twin(liq, price, side, start_frac):
    arr = np.sort(np.array(liq, dtype=np.float64))
    if side > 0:
        arr = arr[::-1].copy()
    start = int(start_frac * len(arr))
    assert K.crossed_count(arr, start, price, side) == K.crossed_plain(arr, start, price, side)


def _random_state(rng, n, proc):
    side = np.where(rng.random(n) < 0.5, 1, -1).astype(np.int8)
    size = rng.uniform(0.1, 3000.0, n)
    entry = rng.uniform(90, 110, n)
    lev = rng.uniform(2, 60, n)
    marg = size * entry / lev
    mmr = np.full(n, 0.01)
    cum = np.zeros(n)
    s = side.astype(float)
    liq = (s * size * entry - marg - cum) / (size * (s - mmr))
    bank = entry - s * marg / size
    prm = np.zeros(K.N_PRM)
    prm[:] = [0.005, 1, 100_000, 0.2, 30, 2 / 3, 0, 1, 1.0, 1.5, 0.1, 1000, 100_000, 1e6]
    fund = np.array([rng.choice([0.0, 1e4, 1e9]), 0.0, rng.choice([0.0, 1e6]), 0.0, 0.0, 0.0])
    return side, size, entry, marg, mmr, cum, liq, bank, prm, fund


@pytest.mark.parametrize("proc", [K.PROC_BINANCE, K.PROC_HYPERLIQUID, K.PROC_DYDX])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_liquidate_batch_twin(proc, seed):
    n = 40
    t = TABLES[seed % 3]
    out = []
    for fn in (K.liquidate_batch, K.liquidate_batch_plain):
        side, size, entry, marg, mmr, cum, liq, bank, prm, fund = _random_state(
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
        res = fn(
            idx,
            1,
            1.0,
            95.0,
            100.0,
            proc,
            prm,
            fund,
            side,
            size,
            entry,
            marg,
            mmr,
            cum,
            liq,
            bank,
            active,
            last,
            rq,
            t.volume_base,
            t.move,
            t.cum_bid,
            1.0,
            100.0,
            0.0,
            1.0,
            kind,
            posa,
            ev["qty"],
            ev["ref"],
            ev["exe"],
            ev["liq"],
            ev["tp"],
            ev["fee"],
            ev["ifc"],
            ev["vault"],
            ev["bad"],
            ev["ret"],
            pend,
            px,
        )
        out.append((res, kind, posa, ev, fund.copy(), size.copy(), marg.copy(), pend, px))
    (ra, ka, pa, ea, fa, sa, ma, pna, pxa), (rb, kb, pb, eb, fb, sb, mb, pnb, pxb) = out
    assert ra[0] == rb[0] and ra[1] == rb[1]
    assert ra[2] == pytest.approx(rb[2], rel=1e-12)
    assert np.array_equal(ka, kb) and np.array_equal(pa, pb) and np.array_equal(pna, pnb)
    for k in ea:
        np.testing.assert_allclose(ea[k], eb[k], rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(fa, fb, rtol=1e-12)
    np.testing.assert_allclose(sa, sb, rtol=1e-12)
    # every event balances
    n_ev = ra[0]
    tot = ea["tp"] + ea["fee"] + ea["ifc"] + ea["vault"] + ea["bad"]
    scale = np.abs(ea["qty"] * ea["ref"]) + 1.0
    assert np.all(np.abs(tot[:n_ev]) <= 1e-9 * scale[:n_ev])


def test_isolated_prices_solve_their_equations():
    s, q, e, m, mmr, cum = 1.0, 2.0, 100.0, 20.0, 0.01, 0.5
    lp = K.isolated_liquidation_price(s, q, e, m, mmr, cum)
    assert m + s * q * (lp - e) == pytest.approx(q * lp * mmr - cum, rel=1e-12)
    bp = K.isolated_bankruptcy_price(s, q, e, m)
    assert m + s * q * (bp - e) == pytest.approx(0.0, abs=1e-12)
    lp_s = K.isolated_liquidation_price(-1.0, q, e, m, mmr, cum)
    assert m - q * (lp_s - e) == pytest.approx(q * lp_s * mmr - cum, rel=1e-12)


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
    start = 100.0 * (1 - curve_move(t.volume_base, t.move, eaten))
    f, quote, _ = execute_on_curve(
        t.volume_base, t.move, t.cum_bid, 1.0, 100.0, eaten, 1.0, 1e-9, 0.0
    )
    assert quote / f == pytest.approx(start, rel=1e-9)
