"""Path kernel: agrees with the static engine and with its plain twin; money is conserved;
each behaviour moves the outcome the way its rule says."""

from __future__ import annotations

import types

import numpy as np
import pytest

from liqcascade.engine.static import StaticCascade
from liqcascade.impact import BOOKDEPTH_LEVELS, DepthCurveImpact, LinearImpact
from liqcascade.scenarios import cascade as C
from liqcascade.scenarios import schema as S
from liqcascade.scenarios.behaviours import pack_behaviours, route_flows

P0 = 100.0


def book(n: int = 20_000, seed: int = 0, n_venues: int = 1):
    g = np.random.default_rng(seed)
    side = np.where(g.random(n) < 0.7, 1, -1).astype(np.int8)
    entry = P0 * np.exp(g.normal(0, 0.01, n))
    lev = np.minimum(g.pareto(1.1, n) + 2.0, 200.0)
    size = g.lognormal(0.0, 1.0, n)
    liq = entry * (1 - side * 0.9 / lev)
    bkr = entry * (1 - side / lev)
    seg = np.where(g.random(n) < 0.5, 0, 1).astype(np.int8)
    vc = g.integers(0, n_venues, n).astype(np.int16)
    ok = np.where(side == 1, liq < P0, liq > P0)
    return side[ok], size[ok], liq[ok], bkr[ok], seg[ok], vc[ok]


def index(b, impacts, fund=1e3, fee=0.005, share=None, dips=((), ()), coll=None):
    side, size, liq, bkr, seg, vc = b
    nv = len(impacts)
    share = np.full(nv, 1.0 / nv) if share is None else np.asarray(share)
    return C.build_index(
        side, size, liq, bkr, seg, vc, np.full(nv, P0), np.full(nv, fee), np.full(nv, fund), share,
        [(m.for_side("bid"), m.for_side("ask")) for m in impacts], dips[0], dips[1], coll,
    )  # fmt: skip


NO_B = pack_behaviours(S.Behaviours(), 0.0).vector


def jump(ix, j, bvec=NO_B):
    return C.run_path_nb(ix, np.array([1.0, 1.0 + j]), np.zeros((0, 2)), 0.0, bvec)


@pytest.mark.parametrize("impact", [LinearImpact(depth_1pct_base=400.0), "curve"])
def test_jump_equals_static_engine(impact) -> None:
    if impact == "curve":
        impact = DepthCurveImpact(
            levels=BOOKDEPTH_LEVELS,
            bid_depth_base=np.array([0.0, 300.0, 500.0, 650.0, 800.0, 900.0]),
            ask_depth_base=np.array([0.0, 100.0, 150.0, 250.0, 300.0, 320.0]),
        )
    b = book()
    ix = index(b, [impact])
    sc = StaticCascade((b[0], b[1], b[2]), impact, P0)
    for j in (-0.002, -0.01, -0.02, 0.004, 0.01, 0.03):
        out = jump(ix, j)
        r = sc.solve(j)
        if r.book_exhausted:
            continue
        assert out[0, C.M_FINAL] == r.final_price
        assert out[0, C.M_COUNT] == r.liquidated_count
        assert out[0, C.M_LONG] + out[0, C.M_SHORT] == pytest.approx(
            r.liquidated_notional, rel=1e-12
        )


def test_plain_twin_agrees_on_full_featured_path() -> None:
    b = book(3000, seed=1, n_venues=2)
    coll = {
        "rows": np.arange(0, len(b[0]), 7),
        "kliq": np.full(len(range(0, len(b[0]), 7)), 5.0),
        "kbkr": np.full(len(range(0, len(b[0]), 7)), 4.0),
        "asset": np.zeros(len(range(0, len(b[0]), 7)), dtype=np.int64),
    }
    ix = index(
        b, [LinearImpact(300.0), LinearImpact(100.0)], fund=50.0, dips=((-0.03,), (2e3,)), coll=coll
    )
    beh = S.Behaviours(
        retail_deleverage=S.RetailDeleverage(vol_threshold_annual=0.5),
        dip_buying=S.DipBuying(levels=[-0.03], notional_quote=[2e3]),
        mm_withdrawal=S.MarketMakerWithdrawal(vol_low_annual=0.2, vol_high_annual=2.0),
        arbitrage=S.Arbitrage(linkage=0.6),
    )
    bvec = pack_behaviours(beh, 60.0).vector
    t = np.arange(31)
    price = np.exp(-0.002 * t + 0.001 * np.sin(t))
    coll_ratio = np.clip(1.0 - 0.02 * t, 0.6, 1.0)[None, :]
    a = C.run_path_nb(ix, price, coll_ratio, 60.0, bvec)
    p = C.run_path_plain(ix, price, coll_ratio, 60.0, bvec)
    assert a[:, C.M_COUNT].sum() > 0 and a[:, C.M_CUT].sum() > 0
    np.testing.assert_array_equal(a, p)


def test_plain_twin_runs_only_plain_steps() -> None:
    # the agreement above means something only if the plain twin compiles none of its steps
    steps = ["_path_fn", "_retail_cut_fn", "_cross_sorted_fn", "_cross_collateral_fn"]
    steps += ["_settle_fn", "_settle_sorted_fn", "_settle_collateral_fn"]
    helpers = ["_price_fn", "_count_fn", "_equity_fn", "_fee_fn", "_waterfall_fn"]
    plain = C._run_plain.__globals__
    for name in steps + helpers:
        assert isinstance(plain[name], types.FunctionType), name
        assert not isinstance(getattr(C, name), types.FunctionType), name  # compiled in run_path_nb
        if name in steps:
            assert plain[name].__code__ is getattr(C, name).py_func.__code__, name


def test_money_is_conserved() -> None:
    b = book(20_000, seed=2, n_venues=2)
    ix = index(b, [LinearImpact(200.0), LinearImpact(50.0)], fund=100.0)
    for j in (-0.01, -0.03, 0.02):
        out = jump(ix, j)
        # the deficit is paid by the fund, by ADL or left as bad debt (0 here: ADL covers the
        # rest); the fund moves by fees in minus draws out
        np.testing.assert_allclose(
            out[:, C.M_DEFICIT],
            out[:, C.M_USED] + out[:, C.M_ADLL] + out[:, C.M_UNCOV],
            rtol=1e-12,
        )
        assert np.all(out[:, C.M_UNCOV] == 0.0)
        assert np.all(out[:, [C.M_FEES, C.M_USED, C.M_DEFICIT, C.M_ADLL, C.M_ADLN]] >= 0.0)
        np.testing.assert_allclose(
            out[:, C.M_FEND], 100.0 + out[:, C.M_FEES] - out[:, C.M_USED], rtol=1e-12
        )
        assert np.all(out[:, C.M_FEND] >= -1e-9)
        assert np.all((out[:, C.M_ADLN] > 0) == (out[:, C.M_FEXH] > 0))


def test_bigger_shock_never_liquidates_less() -> None:
    ix = index(book(seed=3), [LinearImpact(300.0)])
    shocks = np.linspace(-0.05, 0.0, 41)
    liq = [jump(ix, j)[0, C.M_LONG] for j in shocks]
    assert all(a >= b - 1e-9 for a, b in zip(liq, liq[1:], strict=False))


def test_dip_bids_cushion_the_fall() -> None:
    b = book(seed=4)
    base = index(b, [LinearImpact(200.0)])
    dips = index(b, [LinearImpact(200.0)], dips=((-0.02, -0.03), (2e5, 2e5)))
    bvec = pack_behaviours(
        S.Behaviours(dip_buying=S.DipBuying(levels=[-0.02, -0.03], notional_quote=[2e5, 2e5])), 0.0
    ).vector
    off, on = jump(base, -0.015), jump(dips, -0.015, bvec)
    assert on[0, C.M_FINAL] > off[0, C.M_FINAL]
    assert on[0, C.M_LONG] < off[0, C.M_LONG]
    assert on[0, C.M_FINAL] >= P0 * 0.97 - 1e-9


def test_mm_withdrawal_deepens_the_cascade_when_vol_rises() -> None:
    b = book(seed=5)
    ix = index(b, [LinearImpact(300.0)])
    t = np.arange(21)
    price = np.exp(-0.0015 * t)  # a steady slide: realised vol builds up
    on = pack_behaviours(
        S.Behaviours(
            mm_withdrawal=S.MarketMakerWithdrawal(vol_low_annual=0.1, vol_high_annual=1.0)
        ),
        60.0,
    ).vector
    a = C.run_path_nb(ix, price, np.zeros((0, 21)), 60.0, NO_B)
    m = C.run_path_nb(ix, price, np.zeros((0, 21)), 60.0, on)
    assert m[0, C.M_LONG] > a[0, C.M_LONG]
    assert m[0, C.M_MIN] < a[0, C.M_MIN]


def test_full_arbitrage_equalises_relative_moves() -> None:
    b = book(seed=6, n_venues=2)
    ix = index(b, [LinearImpact(400.0), LinearImpact(100.0)])
    on = pack_behaviours(S.Behaviours(arbitrage=S.Arbitrage(linkage=1.0)), 0.0).vector
    out = jump(ix, -0.01, on)
    assert out[0, C.M_FINAL] == pytest.approx(out[1, C.M_FINAL], rel=1e-12)
    off = jump(ix, -0.01)
    assert abs(off[0, C.M_FINAL] - off[1, C.M_FINAL]) > 1e-3


def test_route_flows_conserves_total() -> None:
    net = np.array([10.0, -3.0, 5.0])
    w = np.array([0.5, 0.3, 0.2])
    out = np.zeros(3)
    route_flows(net, w, 0.4, out)
    assert out.sum() == pytest.approx(net.sum())
    assert out[0] == pytest.approx(0.6 * 10.0 + 0.4 * 0.5 * 12.0)


def test_retail_deleveraging_cuts_retail_and_sells() -> None:
    b = book(seed=7)
    ix = index(b, [LinearImpact(300.0)])
    t = np.arange(31)
    price = np.exp(-0.002 * t)
    on = pack_behaviours(
        S.Behaviours(
            retail_deleverage=S.RetailDeleverage(
                vol_threshold_annual=0.1, cut_fraction_per_step=0.2
            )
        ),
        60.0,
    ).vector
    a = C.run_path_nb(ix, price, np.zeros((0, 31)), 60.0, NO_B)
    r = C.run_path_nb(ix, price, np.zeros((0, 31)), 60.0, on)
    assert r[0, C.M_CUT] > 0 and a[0, C.M_CUT] == 0
    # closing at market moves the price; liquidated retail positions are smaller
    assert r[0, C.M_FINAL] != a[0, C.M_FINAL]


def test_collateral_depeg_liquidates_holders_without_a_perp_move() -> None:
    b = book(seed=8)
    rows = np.arange(0, len(b[0]), 5)
    q = b[1][rows]
    loss = 0.5 * b[1][rows] * P0 / 5.0  # half of a 5x wallet
    coll = {
        "rows": rows,
        "kliq": loss / q,
        "kbkr": loss / q,
        "asset": np.zeros(len(rows), dtype=np.int64),
    }
    ix = index(b, [LinearImpact(1e6)], coll=coll)
    flat = np.ones(11)
    none = C.run_path_nb(ix, flat, np.ones((1, 11)), 60.0, NO_B)
    dep = C.run_path_nb(ix, flat, np.linspace(1.0, 0.5, 11)[None, :], 60.0, NO_B)
    assert none[0, C.M_COUNT] == 0
    assert 0 < dep[0, C.M_COUNT] <= len(rows)
