"""Hypothesis strategies for liqcascade's own types (importable by users' test suites).

>>> from hypothesis import given
>>> from liqcascade.testing import position_books, impact_models
>>> @given(position_books(), impact_models())
... def test_something(book, impact): ...

Requires ``hypothesis``: ``pip install 'liqcascade[testing]'``.

The default books are built for exact comparisons: liquidation prices on a coarse grid around
``reference_price`` (so ties and exact boundary hits are common) and sizes that are multiples of
1/64 base unit (so every partial sum is exact in float64, whatever the summation order).
"""

from __future__ import annotations

import numpy as np

from liqcascade._optional import require
from liqcascade.book import PositionBook
from liqcascade.impact import BOOKDEPTH_LEVELS, DepthCurveImpact, LinearImpact, SqrtImpact

require("liqcascade.testing", "hypothesis", extra="testing")

from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

__all__ = ["depth_curve_impacts", "impact_models", "position_books", "shocks"]


@st.composite
def position_books(
    draw: st.DrawFn,
    *,
    min_size: int = 0,
    max_size: int = 60,
    reference_price: float = 100.0,
    price_grid_step: float = 0.5,
    exact_sizes: bool = True,
    venue: str = "generic",
    symbol: str = "BTCUSDT",
) -> PositionBook:
    """A one-symbol PositionBook with liquidation prices given (no venue rules involved).

    Longs get liquidation prices in ``[0.3, 1.0] * reference_price``, shorts in
    ``[1.0, 1.7] * reference_price`` (or a narrower band near the price, drawn), on a grid of
    ``price_grid_step``; about 1 in 20 has NaN (none).
    Sizes are multiples of 1/64 in (0, 100] when ``exact_sizes``, else floats in (1e-4, 1e3).
    """
    n = draw(st.integers(min_value=min_size, max_value=max_size))

    def ints(lo: int, hi: int) -> np.ndarray:
        return draw(hnp.arrays(np.int64, n, elements=st.integers(lo, hi)))

    side = np.where(ints(0, 1) == 1, 1, -1).astype(np.int8)
    if exact_sizes:
        size = ints(1, 6_400).astype(np.float64) / 64.0
    else:
        size = draw(
            hnp.arrays(
                np.float64, n, elements=st.floats(1e-4, 1e3, allow_nan=False, allow_infinity=False)
            )
        )
    steps = int(round(0.7 * reference_price / price_grid_step))
    # clustered books (all within a few % of the price) make long multi-round cascades likely
    spread = draw(st.sampled_from([max(steps // 14, 1), max(steps // 4, 1), steps]))
    offs = ints(0, spread).astype(np.float64)
    liq = np.where(
        side == 1,
        reference_price - offs * price_grid_step,
        reference_price + offs * price_grid_step,
    )
    liq[ints(0, 19) == 0] = np.nan
    entry = np.full(n, reference_price)
    bkr = np.where(side == 1, liq * 0.99, liq * 1.01)
    return PositionBook(
        account_id=np.arange(n, dtype=np.int64),
        venue_code=np.zeros(n, dtype=np.int16),
        symbol_code=np.zeros(n, dtype=np.int16),
        venues=(venue,),
        symbols=(symbol,),
        side=side,
        size_base=size,
        entry_price=entry,
        margin_mode=np.zeros(n, dtype=np.int8),
        margin_quote=np.abs(entry - bkr) * size,
        leverage=entry / np.maximum(np.abs(entry - bkr), 1e-9),
        liquidation_price=liq,
        bankruptcy_price=bkr,
        segment=ints(0, 2).astype(np.int8),
        account_collateral_quote={},
        source="hypothesis",
    )


@st.composite
def depth_curve_impacts(draw: st.DrawFn, max_depth_base: float = 1_000.0) -> DepthCurveImpact:
    """A two-sided bookDepth-style curve (cumulative, non-decreasing; flat segments allowed)."""

    def side() -> np.ndarray:
        incs = draw(
            st.lists(st.floats(0.0, max_depth_base / 5, allow_nan=False), min_size=5, max_size=5)
        )
        incs[0] = max(incs[0], 1.0)
        return np.concatenate([[0.0], np.cumsum(incs)])

    return DepthCurveImpact(
        levels=BOOKDEPTH_LEVELS.copy(),
        bid_depth_base=side(),
        ask_depth_base=side(),
        source="hypothesis",
        timestamp="-",
    )


def impact_models() -> st.SearchStrategy:
    """Linear, square-root or depth-curve impact with parameters that make cascades likely."""
    log_uniform = st.floats(0.0, 4.0).map(lambda e: float(10.0**e))
    linear = st.builds(LinearImpact, log_uniform)
    sqrt = st.builds(
        SqrtImpact,
        y=st.floats(0.3, 1.5),
        sigma_daily=st.floats(0.005, 0.2),
        adv_base=log_uniform.map(lambda a: 10.0 * a),
    )
    return st.one_of(linear, sqrt, depth_curve_impacts())


def shocks(max_abs: float = 0.6) -> st.SearchStrategy[float]:
    """Shocks as fractions: a mix of grid values (exact boundary hits) and arbitrary floats."""
    grid = st.integers(-int(max_abs * 100), int(max_abs * 100)).map(lambda k: k / 100.0)
    free = st.floats(-max_abs, max_abs, allow_nan=False)
    small = st.floats(-0.05, 0.05, allow_nan=False)
    return st.one_of(grid, free, small)
