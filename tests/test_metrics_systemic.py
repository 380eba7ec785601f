"""Systemic indicators: leverage ratio, depth ratio, liquidation density, HHI, critical shock."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from liqcascade import metrics
from liqcascade.book import PositionBook
from liqcascade.engine.static import StaticCascade
from liqcascade.errors import InputError
from liqcascade.impact import LinearImpact


def _book(rows):
    return PositionBook.from_frame(pl.DataFrame(rows))


def test_indicators_by_hand():
    book = _book(
        {
            "venue": ["binance_usdm", "binance_usdm", "hyperliquid", "hyperliquid"],
            "symbol": ["BTCUSDT", "BTCUSDT", "BTC", "BTC"],
            "side": ["long", "short", "long", "short"],
            "size_base": [1.0, 1.0, 2.0, 0.5],
            "entry_price": [100_000.0] * 4,
            "margin_quote": [10_000.0, 5_000.0, 40_000.0, 25_000.0],
        }
    )
    m = metrics.systemic_indicators(book, 100_000.0, LinearImpact(depth_1pct_base=10.0))
    assert m.long_notional_quote == pytest.approx(300_000.0)
    assert m.short_notional_quote == pytest.approx(150_000.0)
    assert m.open_interest_quote == pytest.approx(225_000.0)
    assert m.collateral_quote == pytest.approx(80_000.0)
    assert m.leverage_ratio == pytest.approx(225_000.0 / 80_000.0)
    assert m.gross_leverage == pytest.approx(450_000.0 / 80_000.0)
    assert m.depth_1pct_bid_quote == pytest.approx(10.0 * 100_000.0)
    assert m.oi_over_depth_1pct_bid == pytest.approx(0.225)
    # binance 200k, hyperliquid 250k of 450k gross notional
    assert m.venue_hhi == pytest.approx((200 / 450) ** 2 + (250 / 450) ** 2)
    # within 5%: the 10x binance long (liq ~90.5k) is out, the 20x short (liq ~104.5k) is in
    liq = book.liquidation_price
    inside = [
        (s, lp)
        for s, lp in zip(book.side, liq, strict=True)
        if (s == 1 and 95_000 <= lp < 100_000) or (s == -1 and 100_000 < lp <= 105_000)
    ]
    want = sum(lp * q for (s, lp), q in zip(inside, [1.0] * len(inside), strict=True))
    assert (
        m.liq_notional_within_5pct_short_quote + m.liq_notional_within_5pct_long_quote
        == pytest.approx(want, rel=1e-12)
    )
    assert m.liq_density_5pct == pytest.approx(want / 225_000.0)


def test_critical_shock_exact_on_a_designed_book():
    # 30 base of longs liquidated at 95; 5 base per 1% of depth: at P1 = 95 the forced 30 base
    # move the price 6% -> 89.3, multiplier (100 - 89.3)/5 = 2.14 > 2. Above 95 nothing happens.
    side = np.array([1, 1, -1], dtype=np.int8)
    size = np.array([20.0, 10.0, 1.0])
    liq = np.array([95.0, 95.0, 200.0])
    c = StaticCascade((side, size, liq), LinearImpact(depth_1pct_base=5.0), initial_price=100.0)
    assert metrics.critical_shock(c, 100.0, -1) == pytest.approx(-0.05, abs=2e-6)
    # the short at 200 needs +100%; its 1 base moves the price 0.2%: never doubles
    assert metrics.critical_shock(c, 100.0, 1) is None
    # a deeper book absorbs the 30 base: multiplier < 2 at every shock of the ladder
    deep = StaticCascade(
        (side, size, liq), LinearImpact(depth_1pct_base=500.0), initial_price=100.0
    )
    assert metrics.critical_shock(deep, 100.0, -1) is None


def test_critical_shock_is_a_crossing_on_a_random_book():
    rng = np.random.default_rng(3)
    n = 3_000
    side = rng.choice(np.array([1, -1], dtype=np.int8), n)
    size = rng.lognormal(0, 1, n)
    dist = rng.uniform(0.005, 0.3, n)
    liq = 100.0 * (1 - side * dist)
    c = StaticCascade((side, size, liq), LinearImpact(depth_1pct_base=30.0), initial_price=100.0)
    for d in (-1, 1):
        s = metrics.critical_shock(c, 100.0, d, tol=1e-7)
        assert s is not None and np.sign(s) == d
        above = c.solve(s).cascade_multiplier
        below = c.solve(s - d * 2e-7).cascade_multiplier
        assert above > 2.0 >= below


def test_hhi_and_errors():
    assert metrics.venue_hhi({"a": 1.0}) == 1.0
    assert metrics.venue_hhi({"a": 1.0, "b": 1.0, "c": 1.0, "d": 1.0}) == pytest.approx(0.25)
    with pytest.raises(InputError):
        metrics.venue_hhi({"a": -1.0})
    book = _book(
        {
            "venue": ["binance_usdm"],
            "symbol": ["BTCUSDT"],
            "side": ["long"],
            "size_base": [1.0],
            "entry_price": [100.0],
            "margin_quote": [10.0],
        }
    )
    with pytest.raises(InputError, match="price"):
        metrics.systemic_indicators(book, -5.0)
    m = metrics.systemic_indicators(book, 100.0)
    assert m.critical_shock_down is None and "no impact model" in m.notes[0]


def test_book_front_end_passes_its_options_on():
    """systemic_indicators takes the options of indicators_from_arrays and gives the same result."""
    book = _book(
        {
            "venue": ["binance_usdm"] * 3,
            "symbol": ["BTCUSDT"] * 3,
            "side": ["long", "long", "short"],
            "size_base": [1.0, 2.0, 1.0],
            "entry_price": [100_000.0] * 3,
            "margin_quote": [5_000.0, 20_000.0, 5_000.0],
        }
    )
    imp = LinearImpact(depth_1pct_base=1.0)
    opts = {"multiplier_threshold": 1.5, "ladder": (0.01, 0.05, 0.2), "band_frac": 0.2}
    m = metrics.systemic_indicators(book, 100_000.0, imp, **opts)
    ref = metrics.indicators_from_arrays(
        side=book.side,
        size_base=book.size_base,
        liquidation_price=book.liquidation_price,
        venue=np.asarray(book.venues, dtype=object)[book.venue_code],
        collateral_quote=30_000.0,
        price=100_000.0,
        impact=imp,
        **opts,
    )
    assert m.multiplier_threshold == 1.5
    assert m.as_dict() == ref.as_dict()
    default = metrics.systemic_indicators(book, 100_000.0, imp)
    # the 20% band also counts the 10x long (liquidated near 90.5k), the default 5% band does not
    assert m.liq_notional_within_5pct_long_quote > default.liq_notional_within_5pct_long_quote
    with pytest.raises(TypeError):
        metrics.systemic_indicators(book, 100_000.0, imp, band=0.1)
