"""One primitive per concept: the depth walk (liqcascade.depth) and the trigger count
(liqcascade.engine.kernels.crossed_count) against their plain twins, and the static, stress and
dynamic engines against each other on the example book where their models coincide."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liqcascade import depth as D
from liqcascade.book import PositionBook
from liqcascade.engine.dynamic import simulate_shock
from liqcascade.engine.kernels import crossed_count, crossed_count_plain
from liqcascade.engine.static import StaticCascade
from liqcascade.impact import LinearImpact
from liqcascade.resources import example_path
from liqcascade.scenarios import cascade as C
from liqcascade.scenarios import schema as S
from liqcascade.scenarios.behaviours import pack_behaviours
from liqcascade.testing import impact_models

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ------------------------------------------------------------------------------------------
# the depth walk: kernels and plain twins give the same bits
# ------------------------------------------------------------------------------------------

_step = st.one_of(st.just(0.0), st.floats(1e-6, 500.0), st.integers(1, 50).map(float))


@st.composite
def depth_curves(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """Knots of a depth curve: either the move or the volume strictly rises on every segment
    (a book's depth may stall, a tabulated move may stall), the other may be flat."""
    n = draw(st.integers(1, 8))
    strict = st.floats(1e-6, 500.0)
    flat_ok = _step
    if draw(st.booleans()):  # bookDepth-like: moves strictly increase, depth may stall
        dv = [draw(flat_ok) for _ in range(n)]
        dx = [draw(strict) / 1000.0 for _ in range(n)]
    else:  # tabulated-like: volumes strictly increase, the move may stall
        dv = [draw(strict) for _ in range(n)]
        dx = [draw(flat_ok) / 1000.0 for _ in range(n)]
    kv = np.concatenate([[0.0], np.cumsum(dv)])
    kx = np.concatenate([[0.0], np.cumsum(dx)])
    return kv, kx


def _same(a: np.ndarray, b: np.ndarray) -> None:
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b), strict=False)


@SETTINGS
@given(depth_curves(), st.lists(st.floats(0.0, 2.0), min_size=1, max_size=12))
def test_curve_kernels_and_plain_twins_give_the_same_bits(curve, fracs):
    kv, kx = curve
    top_v = max(kv[-1], 1.0)
    top_x = max(kx[-1], 1e-3)
    vols = np.concatenate([np.array(fracs) * top_v, kv, [2.0 * top_v, 0.0]])
    moves = np.concatenate([np.array(fracs) * top_x, kx, [2.0 * top_x, 0.0]])
    _same(
        [D.curve_move_for_volume(kv, kx, float(v)) for v in vols],
        D.curve_move_for_volume_plain(kv, kx, vols),
    )
    _same(
        [D.curve_volume_for_move(kv, kx, float(x)) for x in moves],
        D.curve_volume_for_move_plain(kv, kx, moves),
    )
    # both are monotone (up to the rounding of a knot's value reached from the segment below)
    up = D.curve_move_for_volume_plain(kv, kx, np.sort(vols))
    assert np.all(up[1:] >= up[:-1] * (1 - 1e-15))
    up = D.curve_volume_for_move_plain(kv, kx, np.sort(moves))
    assert np.all(up[1:] >= up[:-1] * (1 - 1e-15))


@SETTINGS
@given(depth_curves(), st.floats(1e-9, 1.0))
def test_volume_for_move_inverts_move_for_volume(curve, frac):
    kv, kx = curve
    x = frac * kx[-1]
    if x <= 0.0:
        return
    v = D.curve_volume_for_move(kv, kx, x)
    # the most volume the side takes before the move exceeds x: its move is at most x, and x
    # itself unless v sits where depth stalls (a jump of the move). Rounding v costs up to a few
    # units in its last place, times the steepest slope of the curve (move per base unit)
    back = D.curve_move_for_volume(kv, kx, v)
    dv, dx = np.diff(kv), np.diff(kx)
    steepest = float(np.max(dx[dv > 0] / dv[dv > 0], initial=0.0))
    tol = 4.0 * float(np.spacing(max(v, 1.0))) * steepest + 1e-12 * x
    assert back <= x + tol
    if np.all(dv > 0):
        assert back == pytest.approx(x, abs=tol + 1e-300)
    if np.all(np.diff(kx) > 0):  # strictly increasing moves: numpy's own interpolation
        assert v == np.interp(x, kx, kv)


@SETTINGS
@given(impact_models(), st.sampled_from(["bid", "ask"]), st.lists(st.floats(0.0, 1e7), max_size=10))
def test_model_kernels_and_plain_twins_give_the_same_bits(impact, side, volumes):
    m = impact.for_side(side)
    spec = D.depth_spec(m)
    v = np.asarray(volumes + [0.0], dtype=np.float64)
    x = np.asarray(m.move_for_volume(v))
    _same([D.move_for_volume(spec, float(u)) for u in v], x)
    _same(D.move_for_volume_plain(m.kernel_spec(), v), x)
    xs = np.concatenate([np.minimum(x, 10.0), [0.0, 0.01, 0.05, 0.3]])
    back = np.asarray(m.volume_for_move(xs))
    _same([D.volume_for_move(spec, float(u)) for u in xs], back)
    _same(D.volume_for_move_plain(m.kernel_spec(), xs), back)


def test_curve_conventions_at_flat_stretches_and_in_the_tail():
    # depth stalls between 1% and 2%: V = 100 is reached at 1% (inf), a hair more needs 2%+
    kv, kx = np.array([0.0, 100.0, 100.0, 200.0]), np.array([0.0, 0.01, 0.02, 0.03])
    assert D.curve_move_for_volume(kv, kx, 100.0) == 0.01
    assert D.curve_move_for_volume(kv, kx, 100.0 + 1e-9) == pytest.approx(0.02, abs=1e-12)
    assert D.curve_move_for_volume(kv, kx, 300.0) == pytest.approx(0.04)  # last slope extended
    # the move stalls between 10 and 20 base units: 20 is the most a 1% move absorbs (sup)
    kv, kx = np.array([0.0, 10.0, 20.0, 30.0]), np.array([0.0, 0.01, 0.01, 0.02])
    assert D.curve_volume_for_move(kv, kx, 0.01) == 20.0
    # no depth after the last knot: exhausted; no move after it: any volume at the last move
    assert (
        D.curve_move_for_volume(np.array([0.0, 10.0, 10.0]), np.array([0.0, 0.01, 0.02]), 11.0)
        == math.inf
    )
    assert (
        D.curve_move_for_volume(np.array([0.0, 10.0, 20.0]), np.array([0.0, 0.01, 0.01]), 99.0)
        == 0.01
    )
    assert (
        D.curve_volume_for_move(np.array([0.0, 10.0, 20.0]), np.array([0.0, 0.01, 0.01]), 0.02)
        == math.inf
    )


# ------------------------------------------------------------------------------------------
# trigger crossing: one count, galloping kernel and searchsorted twin
# ------------------------------------------------------------------------------------------


@SETTINGS
@given(
    st.lists(st.integers(-20, 20).map(lambda k: k / 4.0), max_size=60),
    st.integers(-22, 22).map(lambda k: k / 4.0),
    st.data(),
)
def test_crossed_count_twins_and_definition(raw, q, data):
    keys = np.sort(np.asarray(raw, dtype=np.float64))  # grid values: ties and exact hits
    n = len(keys)
    lo = data.draw(st.integers(0, n))
    hi = data.draw(st.integers(lo, n))
    k = data.draw(st.integers(0, hi - lo))
    truth = int(np.sum(keys[lo:hi] <= q))
    want = max(k, truth)  # a count never goes back
    assert crossed_count(keys, lo, hi, k, q) == want
    assert crossed_count_plain(keys, lo, hi, k, q) == want


# ------------------------------------------------------------------------------------------
# static, stress and dynamic engines on the same book and shock
# ------------------------------------------------------------------------------------------

P0 = 120_000.0
NO_BEHAVIOURS = pack_behaviours(S.Behaviours(), 0.0).vector


@pytest.fixture(scope="module")
def book() -> PositionBook:
    return PositionBook.from_csv(example_path("positions_btc.csv"))


def _stress(book: PositionBook, impact, shock: float) -> np.ndarray:
    n = len(book)
    ix = C.build_index(
        book.side, book.size_base, book.liquidation_price, book.bankruptcy_price, book.segment,
        np.zeros(n, np.int64), np.array([P0]), np.zeros(1), np.array([1e15]), np.ones(1),
        [(impact.for_side("bid"), impact.for_side("ask"))],
    )  # fmt: skip
    # one step: the exogenous jump, then the fixed point within the step
    return C.run_path_nb(ix, np.array([1.0, 1.0 + shock]), np.zeros((0, 2)), 0.0, NO_BEHAVIOURS)[0]


def _dynamic(book: PositionBook, impact, shock: float):
    # no refill, no fee, a fund that covers every deficit (no ADL): the static market
    return simulate_shock(
        book,
        P0,
        shock,
        impact,
        resilience_half_life_s=math.inf,
        clearance_fee_rate=0.0,
        insurance_fund_quote=1e15,
    )


@pytest.mark.parametrize("shock", [-0.03, -0.08, -0.005, 0.05])
def test_static_stress_and_dynamic_agree_on_the_example_book(book, shock):
    impact = LinearImpact(depth_1pct_base=400.0)
    sc = StaticCascade(book, impact, P0)
    r = sc.solve(shock)
    assert not r.book_exhausted
    stress = _stress(book, impact, shock)
    dyn = _dynamic(book, impact, shock)
    s = dyn.summary()
    assert r.liquidated_count > 0
    # the fixed point: the same positions, price and notional
    assert stress[C.M_COUNT] == r.liquidated_count == s["liquidated_count"]
    assert stress[C.M_FINAL] == pytest.approx(r.final_price, rel=1e-9)
    assert s["final_price"] == pytest.approx(r.final_price, rel=1e-9)
    notional = stress[C.M_LONG] + stress[C.M_SHORT]
    assert notional == pytest.approx(r.liquidated_notional, rel=1e-9)
    assert s["liquidated_notional"] == pytest.approx(r.liquidated_notional, rel=1e-9)
    assert s["liquidated_base"] == pytest.approx(r.liquidated_base, rel=1e-9)
    assert s["book_exhausted"] is False and stress[C.M_BEXH] == 0.0
    # the dynamic engine's first step is the static iteration's first round:
    # the positions crossed at P1 are sold into the book, P = P1 (1 -/+ x(V(P1)))
    p1 = P0 * (1.0 + shock)
    idx = sc.down if shock < 0 else sc.up
    k1 = crossed_count(idx.keys, 0, len(idx.keys), 0, idx.direction * p1)
    x1 = impact.move_for_volume(float(idx.cum_size_base[k1]))
    step1 = dyn.timeline.filter(dyn.timeline["step"] == 1).row(0, named=True)
    assert step1["price"] == pytest.approx(p1 * (1.0 - idx.direction * -x1), rel=1e-9)
    assert step1["liquidated_count"] == k1
    assert step1["forced_volume_base"] == pytest.approx(idx.cum_size_base[k1], rel=1e-9)


def test_an_exhausted_bid_side_ends_the_same_in_static_and_dynamic_and_is_clamped_in_stress(book):
    impact = LinearImpact(depth_1pct_base=20.0)
    shock = -0.1
    r = StaticCascade(book, impact, P0).solve(shock)
    s = _dynamic(book, impact, shock).summary()
    stress = _stress(book, impact, shock)
    assert r.book_exhausted and s["book_exhausted"] and stress[C.M_BEXH] == 1.0
    assert r.final_price == s["final_price"] == 0.0
    assert r.liquidated_count == s["liquidated_count"]
    # the stress engine clamps an exhausted side at a move of X_MAX (docs/engine-static.md)
    assert stress[C.M_FINAL] == pytest.approx(P0 * (1 + shock) * (1 - C.X_MAX), rel=1e-12)
    lp = book.liquidation_price[book.side == 1]
    assert stress[C.M_COUNT] == np.sum(lp >= stress[C.M_FINAL])
