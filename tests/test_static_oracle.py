"""Static cascade: fast path (sorted index + numba) against the round-by-round oracle, and invariants."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings, target
from hypothesis import strategies as st

from liqcascade.engine.static import StaticCascade, solve_static, solve_static_oracle
from liqcascade.errors import InputError
from liqcascade.impact import LinearImpact, SqrtImpact
from liqcascade.testing import impact_models, position_books, shocks

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _close(a: float, b: float, rel: float = 1e-9) -> bool:
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= rel * max(abs(a), abs(b), 1e-300)


@SETTINGS
@given(position_books(), impact_models(), st.lists(shocks(), min_size=1, max_size=4))
def test_fast_path_agrees_with_oracle(book, impact, shock_list):
    idx = StaticCascade(book, impact, initial_price=100.0)
    ladder = idx.ladder(shock_list)
    most_rounds = 0
    for row, s in zip(ladder.iter_rows(named=True), shock_list, strict=True):
        ref = solve_static_oracle(book, 100.0, s, impact)
        most_rounds = max(most_rounds, ref.rounds)
        assert row["liquidated_count"] == ref.liquidated_count
        assert _close(row["final_price"], ref.final_price)
        assert row["book_exhausted"] == ref.book_exhausted
        assert row["rounds"] == ref.rounds
        assert _close(row["liquidated_base"], ref.liquidated_base)
        assert _close(row["liquidated_notional"], ref.liquidated_notional, 1e-12)
        # the final price is a fixed point of the map (unless exhausted)
        if not ref.book_exhausted:
            d = ref.direction
            mask = idx.liquidated_mask(idx.solve(s))
            v = math.fsum(book.size_base[mask])
            model = impact.for_side("bid" if d < 0 else "ask")
            x = model.move_for_volume(v)
            expect = ref.shocked_price * (1.0 - x) if d < 0 else ref.shocked_price * (1.0 + x)
            assert _close(expect, ref.final_price)
    target(float(most_rounds), label="rounds")  # steer the search towards long cascades


@SETTINGS
@given(
    position_books(exact_sizes=False),
    impact_models(),
    st.floats(0.0, 0.6),
    st.floats(0.0, 0.6),
    st.sampled_from([-1, 1]),
)
def test_larger_shock_never_liquidates_less(book, impact, a, b, sign):
    small, large = sorted((a, b))
    idx = StaticCascade(book, impact, initial_price=100.0)
    r_small = idx.solve(sign * small if sign < 0 or small > 0 else 0.0)
    r_large = idx.solve(sign * large if sign < 0 or large > 0 else 0.0)
    if r_small.direction == r_large.direction:
        assert r_large.liquidated_count >= r_small.liquidated_count
        assert r_large.liquidated_base >= r_small.liquidated_base * (1 - 1e-12)
        if sign < 0:
            assert r_large.final_price <= r_small.final_price
        else:
            assert r_large.final_price >= r_small.final_price
    for r in (r_small, r_large):
        o = solve_static_oracle(book, 100.0, r.shock, impact)
        assert o.liquidated_count == r.liquidated_count


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_long_cascades_agree_with_oracle(seed):
    """Seeded books dense near the price: cascades of many rounds, oracle vs fast path."""
    rng = np.random.default_rng(seed)
    n = 3_000
    side = rng.choice(np.array([-1, 1], dtype=np.int8), n)
    size = rng.integers(1, 640, n) / 64.0
    dist = np.round(rng.exponential(8.0, n), 2)
    liq = np.where(side == 1, 100.0 - dist, 100.0 + dist)
    liq[liq <= 0] = np.nan
    impact = LinearImpact(float(rng.uniform(200.0, 600.0)))
    idx = StaticCascade((side, size, liq), impact, 100.0)
    rounds = []
    for s in (-0.02, -0.05, 0.02, 0.05, -0.1):
        fast = idx.solve(s)
        ref = solve_static_oracle((side, size, liq), 100.0, s, impact)
        assert fast.liquidated_count == ref.liquidated_count
        assert _close(fast.final_price, ref.final_price)
        assert fast.rounds == ref.rounds
        rounds.append(ref.rounds)
    assert max(rounds) >= 5  # the books do cascade over many rounds


def test_exact_boundary_is_liquidated():
    # a long whose liquidation price equals P1 exactly is liquidated (liquidation_price >= P)
    book = (np.array([1, 1]), np.array([1.0, 1.0]), np.array([95.0, 94.0]))
    impact = LinearImpact(1e12)
    r = solve_static(book, 100.0, -0.05, impact)
    assert r.shocked_price == 95.0
    assert r.liquidated_count == 1
    assert solve_static_oracle(book, 100.0, -0.05, impact).liquidated_count == 1
    # mirror: a short at exactly P1
    book = (np.array([-1, -1]), np.array([1.0, 1.0]), np.array([105.0, 106.0]))
    r = solve_static(book, 100.0, 0.05, impact)
    assert r.liquidated_count == 1 and r.direction == 1


def test_ties_liquidate_together():
    side = np.ones(5, dtype=np.int8)
    size = np.full(5, 2.0)
    liq = np.array([90.0, 90.0, 90.0, 80.0, 80.0])
    impact = LinearImpact(100.0)  # 6 base -> 0.06%
    r = solve_static((side, size, liq), 100.0, -0.1, impact)
    assert r.liquidated_count == 3
    assert r.liquidated_base == 6.0
    assert r.liquidated_notional == 540.0
    assert r.final_price == pytest.approx(90.0 * (1 - 0.0006), rel=1e-15)


def test_cascade_runs_to_exhaustion():
    # each liquidation pushes the price through the next liquidation price
    n = 50
    side = np.ones(n, dtype=np.int8)
    size = np.full(n, 10.0)
    liq = 99.0 - np.arange(n) * 1.0
    impact = LinearImpact(5.0)  # 10 base -> 2%
    r = solve_static((side, size, liq), 100.0, -0.01, impact)
    o = solve_static_oracle((side, size, liq), 100.0, -0.01, impact)
    assert r.book_exhausted and o.book_exhausted
    assert r.final_price == 0.0 == o.final_price
    assert r.liquidated_count == n == o.liquidated_count
    assert r.cascade_multiplier == pytest.approx(100.0)
    # upward mirror: exhaustion means no finite price
    r_up = solve_static((-side, size, 101.0 + np.arange(n)), 100.0, 0.01, impact)
    assert r_up.book_exhausted and math.isinf(r_up.final_price)
    assert r_up.liquidated_count == n


def test_multiplier_and_no_cascade():
    book = (np.array([1, -1]), np.array([1.0, 1.0]), np.array([50.0, 150.0]))
    r = solve_static(book, 100.0, -0.1, SqrtImpact(1.0, 0.05, 1e4))
    assert r.liquidated_count == 0 and r.final_price == r.shocked_price == 90.0
    assert r.cascade_multiplier == pytest.approx(1.0)
    assert r.rounds == 1
    zero = solve_static(book, 100.0, 0.0, SqrtImpact(1.0, 0.05, 1e4))
    assert math.isnan(zero.cascade_multiplier)


def test_empty_book_and_nan_liquidation_prices():
    r = solve_static(
        (np.array([], dtype=np.int8), np.array([]), np.array([])), 100.0, -0.2, LinearImpact(1.0)
    )
    assert r.liquidated_count == 0 and r.final_price == 80.0
    book = (np.array([1, 1]), np.array([5.0, 5.0]), np.array([np.nan, 99.0]))
    r = solve_static(book, 100.0, -0.01, LinearImpact(0.1))  # 5 base -> 50%
    assert r.liquidated_count == 1  # the NaN (never liquidated) position stays
    r = solve_static(book, 100.0, -0.01, LinearImpact(0.01))  # exhausted
    assert r.book_exhausted and r.liquidated_count == 1


@pytest.mark.parametrize("bad", [-1.0, -1.5, math.nan, math.inf])
def test_bad_shock_is_rejected(bad):
    with pytest.raises(InputError, match="shock"):
        solve_static(
            (np.array([1]), np.array([1.0]), np.array([90.0])), 100.0, bad, LinearImpact(1.0)
        )


def test_bad_price_and_book_are_rejected():
    with pytest.raises(InputError, match="initial_price"):
        solve_static(
            (np.array([1]), np.array([1.0]), np.array([90.0])), -5.0, -0.1, LinearImpact(1.0)
        )
    with pytest.raises(InputError, match="size_base"):
        solve_static(
            (np.array([1]), np.array([-1.0]), np.array([90.0])), 100.0, -0.1, LinearImpact(1.0)
        )
    with pytest.raises(InputError, match="side"):
        solve_static(
            (np.array([2]), np.array([1.0]), np.array([90.0])), 100.0, -0.1, LinearImpact(1.0)
        )


def test_position_book_input_frames_and_symbol_guard():
    from pathlib import Path

    from liqcascade.book import PositionBook
    from liqcascade.impact import DepthCurveImpact

    root = Path(__file__).resolve().parents[1]
    book = PositionBook.from_csv(root / "examples" / "positions_btc.csv")
    depth = DepthCurveImpact.from_bookdepth(
        root
        / "src"
        / "liqcascade"
        / "sample_data"
        / "binance"
        / "um"
        / "bookDepth"
        / "BTCUSDT-bookDepth-2025-10-10.csv",
        at="12:00",
    )
    idx = StaticCascade(book, depth, 120_000.0)
    r = idx.solve(-0.12)
    frame = idx.liquidated_frame(r)
    assert frame.height == r.liquidated_count > 0
    assert (frame["side"] == 1).all()
    assert frame["liquidation_price"].min() >= r.final_price
    assert frame["size_base"].sum() == pytest.approx(r.liquidated_base, rel=1e-12)
    ref = solve_static_oracle(book, 120_000.0, -0.12, depth)
    assert ref.liquidated_count == r.liquidated_count and _close(ref.final_price, r.final_price)
    two = PositionBook.concat([book.select(np.arange(10)), book.select(np.arange(10, 20))])
    assert len(two) == 20
    hl = (
        book.select(np.arange(5))
        .to_polars()
        .with_columns(
            venue=pl.lit("hyperliquid"),
            symbol=pl.lit("BTC"),
            leverage=pl.lit(5.0),
            account_id=pl.col("account_id") + 10**9,
        )
    )
    mixed = PositionBook.concat(
        [
            book.select(np.arange(100)),
            PositionBook.from_frame(hl.drop("liquidation_price", "bankruptcy_price")),
        ]
    )
    with pytest.raises(InputError, match="one symbol on one venue"):
        StaticCascade(mixed, depth, 120_000.0)
    assert StaticCascade(mixed, depth, 120_000.0, venue="hl").n_positions == 5
