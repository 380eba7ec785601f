"""Property tests (hypothesis) of the margin rules."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from liqcascade import margin
from liqcascade.venues import load_venue

RULES = [
    load_venue(v, s)
    for v, s in (
        ("binance_usdm", "BTCUSDT"),
        ("binance_usdm", "ETHUSDT"),
        ("hyperliquid", "BTC"),
        ("hyperliquid", "SOL"),
        ("generic", "X"),
    )
]

rules_st = st.sampled_from(RULES)
price_st = st.floats(1.0, 200_000.0)
size_st = st.floats(1e-4, 1e4)


@settings(max_examples=200, deadline=None)
@given(rules_st, price_st, size_st, st.floats(1.01, 100.0), st.floats(1.01, 2.0))
def test_long_liquidation_below_entry_and_rising_with_leverage(rules, entry, size, lev, bump):
    n = entry * size
    cap = float(rules.tiers.max_leverage[rules.tiers.index(n)])
    lev = min(lev, cap / 1.01)
    lev2 = min(lev * bump, cap)  # both leverages allowed at this notional
    lp1 = float(margin.liquidation_price(rules, 1, size, entry, n / lev))
    lp2 = float(margin.liquidation_price(rules, 1, size, entry, n / lev2))
    assert np.isnan(lp1) or lp1 < entry
    assert np.isnan(lp2) or lp2 < entry
    if not np.isnan(lp1):
        assert lp2 > lp1


@settings(max_examples=200, deadline=None)
@given(rules_st, price_st, size_st, st.floats(1.01, 100.0))
def test_short_liquidation_above_entry_and_below_bankruptcy(rules, entry, size, lev):
    n = entry * size
    lev = min(lev, float(rules.tiers.max_leverage[rules.tiers.index(n)]))
    lp = float(margin.liquidation_price(rules, -1, size, entry, n / lev))
    bp = float(margin.bankruptcy_price(rules, -1, size, entry, n / lev))
    assert entry < lp < bp


@settings(max_examples=200, deadline=None)
@given(rules_st, st.data())
def test_maintenance_margin_continuous_across_tier_boundaries(rules, data):
    t = rules.tiers
    if len(t) < 2:
        return
    k = data.draw(st.integers(1, len(t) - 1))
    b = float(t.floor_quote[k])
    eps = b * 1e-12
    below = float(margin.maintenance_margin(rules, b - eps))
    at = float(margin.maintenance_margin(rules, b))
    assert abs(at - below) <= 1e-6 * max(1.0, at)
    assert (
        at == float(b * t.mmr[k - 1] - t.cum_quote[k - 1])
        or abs(at - (b * t.mmr[k - 1] - t.cum_quote[k - 1])) < 1e-6 * at
    )


@settings(max_examples=100, deadline=None)
@given(rules_st, st.lists(st.floats(0.0, 2e9), min_size=2, max_size=50))
def test_maintenance_margin_monotone(rules, notionals):
    x = np.sort(np.asarray(notionals))
    mm = margin.maintenance_margin(rules, x)
    assert np.all(np.diff(mm) >= -1e-6 * np.maximum(1.0, mm[1:]))


@settings(max_examples=150, deadline=None)
@given(
    rules_st,
    st.lists(
        st.tuples(st.sampled_from([1, -1]), size_st, price_st, st.floats(0.5, 200.0)),
        min_size=1,
        max_size=40,
    ),
)
def test_numba_and_numpy_twins_agree(rules, rows):
    side = np.array([r[0] for r in rows], dtype=np.int8)
    size = np.array([r[1] for r in rows])
    entry = np.array([r[2] for r in rows])
    m = size * entry / np.array([r[3] for r in rows])
    p1, k1 = margin.liquidation_price_and_tier(rules, side, size, entry, m, use_numba=True)
    p2, k2 = margin.liquidation_price_and_tier(rules, side, size, entry, m, use_numba=False)
    np.testing.assert_allclose(p1, p2, rtol=1e-11, equal_nan=True)
    fin = np.isfinite(p1)
    x = size * np.where(fin, p1, 0.0)
    near_floor = (
        np.min(np.abs(x[:, None] - rules.tiers.floor_quote[None, 1:]), axis=1, initial=np.inf)
        <= 1e-9 * x
    )
    # the tiers agree except where the price sits on a floor to within rounding
    assert np.array_equal(k1[fin & ~near_floor], k2[fin & ~near_floor])
    n = size * entry
    np.testing.assert_allclose(
        margin.maintenance_margin(rules, n), margin.maintenance_margin_numpy(rules, n), rtol=1e-12
    )
