"""Numba kernels against their plain twins (bit-identical), and against the impact models."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liqcascade import depth
from liqcascade.engine import kernels
from liqcascade.engine.static import StaticCascade
from liqcascade.impact import LinearImpact
from liqcascade.testing import impact_models, position_books

SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(
    impact_models(),
    st.lists(st.floats(0.0, 1e7), min_size=1, max_size=20),
    st.sampled_from(["bid", "ask"]),
)
def test_move_kernel_matches_model_bit_for_bit(impact, volumes, side):
    m = impact.for_side(side)
    spec = depth.depth_spec(m)
    vec = np.asarray(m.move_for_volume(np.array(volumes)))
    for v, x in zip(volumes, vec, strict=True):
        a = depth.move_for_volume(spec, v)
        b = float(depth.move_for_volume_plain(m.kernel_spec(), v))
        assert a == b or (np.isnan(a) and np.isnan(b))
        assert a == x
        assert a == m.move_for_volume(v)


@SETTINGS
@given(
    position_books(exact_sizes=False, max_size=120),
    impact_models(),
    st.lists(st.floats(-0.7, 0.7), min_size=1, max_size=10),
)
def test_solve_kernel_twins_agree(book, impact, shock_list):
    idx = StaticCascade(book, impact, initial_price=100.0)
    fast = idx.solve_arrays(shock_list, use_numba=True)
    plain = idx.solve_arrays(shock_list, use_numba=False)
    for key in (
        "final_price",
        "liquidated_count",
        "rounds",
        "book_exhausted",
        "liquidated_notional",
    ):
        np.testing.assert_array_equal(fast[key], plain[key])


def test_galloping_count_matches_searchsorted():
    rng = np.random.default_rng(7)
    keys = np.sort(np.round(rng.normal(0, 10, 5000), 1))  # many ties
    for q in rng.normal(0, 12, 300):
        for k0 in (0, int(np.searchsorted(keys, q - 5, side="right"))):
            got = kernels.crossed_count(keys, 0, len(keys), k0, q)
            assert got == np.searchsorted(keys, q, side="right")


def test_large_random_book_twins_agree():
    rng = np.random.default_rng(11)
    n = 200_000
    side = rng.choice(np.array([-1, 1], dtype=np.int8), n)
    size = rng.lognormal(-2.0, 1.5, n)
    liq = np.where(
        side == 1, 100 * (1 - rng.pareto(2.0, n) * 0.05), 100 * (1 + rng.pareto(2.0, n) * 0.05)
    )
    idx = StaticCascade((side, size, np.where(liq > 0, liq, np.nan)), LinearImpact(5_000.0), 100.0)
    shocks = np.linspace(-0.3, 0.3, 41)
    fast = idx.solve_arrays(shocks)
    plain = idx.solve_arrays(shocks, use_numba=False)
    np.testing.assert_array_equal(fast["liquidated_count"], plain["liquidated_count"])
    np.testing.assert_array_equal(fast["final_price"], plain["final_price"])
    assert fast["liquidated_count"].max() > 1000  # the cascades are not trivial
