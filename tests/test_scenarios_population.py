"""Synthetic populations: seeded, within venue limits, entries weighted by volume."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from liqcascade import margin
from liqcascade.errors import DataError
from liqcascade.scenarios import schema as S
from liqcascade.scenarios.population import VenueSpec, draw, generate_population
from liqcascade.venues import load_venue

P0 = 116_830.3


def venues() -> list[VenueSpec]:
    return [
        VenueSpec("binance_usdm", "BTCUSDT", load_venue("binance_usdm", "BTCUSDT"), P0, 0.6, 125.0),
        VenueSpec("generic", "BTCUSDT", load_venue("generic", "BTCUSDT"), P0 * 1.001, 0.4, 1001.0),
    ]


def cfg(n: int = 20_000, **kw) -> S.SyntheticBook:
    return S.SyntheticBook(
        n_positions=n,
        price_history=["sample:binance/um/klines/BTCUSDT-1m-2025-10-10.csv"],
        history_end="2025-10-10T20:50:00",
        **kw,
    )


def test_same_seed_same_book_other_seed_differs() -> None:
    a, ra = generate_population(cfg(), venues(), 11)
    b, _ = generate_population(cfg(), venues(), 11)
    c, _ = generate_population(cfg(), venues(), 12)
    assert np.array_equal(a.size_base, b.size_base) and np.array_equal(
        a.liquidation_price, b.liquidation_price, equal_nan=True
    )
    assert not np.array_equal(a.size_base[:100], c.size_base[:100])
    assert ra.kept + ra.dropped_already_liquidated == ra.requested == 20_000
    assert ra.seed == 11


def test_leverage_within_venue_caps_and_tiers() -> None:
    book, rep = generate_population(cfg(50_000), venues(), 3)
    assert rep.capped_leverage > 0
    for vc, spec in enumerate(venues()):
        m = book.venue_code == vc
        notional = book.size_base[m] * book.entry_price[m]
        tier_cap = np.asarray(spec.rules.tiers.max_leverage)[spec.rules.tiers.index(notional)]
        assert np.all(book.leverage[m] <= np.minimum(tier_cap, spec.max_leverage) + 1e-9)
        assert np.all(book.leverage[m] >= 1.0)
    gen = book.venue_code == 1
    assert book.leverage[gen].max() > 500  # the heavy tail reaches the 1001x tier
    assert book.leverage[~gen].max() <= 125


def test_liquidation_prices_from_venue_rules_and_none_already_liquidated() -> None:
    book, _ = generate_population(cfg(), venues(), 5)
    spec = venues()[0]
    iso = (book.venue_code == 0) & (book.margin_mode == 0)
    want = margin.liquidation_price(
        spec.rules,
        book.side[iso],
        book.size_base[iso],
        book.entry_price[iso],
        book.margin_quote[iso],
    )
    assert np.allclose(book.liquidation_price[iso], want, equal_nan=True)
    cross = np.flatnonzero(book.margin_mode == 1)
    wallets = np.array([book.account_collateral_quote[int(a)] for a in book.account_id[cross]])
    im = book.size_base[cross] * book.entry_price[cross] / book.leverage[cross]
    assert np.all(wallets > im)  # cross wallets carry excess collateral
    p0 = np.array([v.initial_price for v in venues()])[book.venue_code]
    live = ~np.isnan(book.liquidation_price)
    assert np.all(
        np.where(
            book.side[live] == 1,
            book.liquidation_price[live] < p0[live],
            book.liquidation_price[live] > p0[live],
        )
    )


def test_segment_counts_and_sides() -> None:
    segs = {
        "retail": S.SegmentConfig(
            share=0.7,
            leverage=S.FixedDist(value=2.0),
            size=S.FixedDist(value=1000.0),
            long_fraction=1.0,
        ),
        "market_maker": S.SegmentConfig(
            share=0.3,
            leverage=S.FixedDist(value=2.0),
            size=S.FixedDist(value=1000.0),
            long_fraction=0.0,
        ),
    }
    book, rep = generate_population(cfg(1000, segments=segs), venues(), 1)
    assert rep.dropped_already_liquidated == 0
    assert int((book.segment == 0).sum()) == 700 and int((book.segment == 2).sum()) == 300
    assert np.all(book.side[book.segment == 0] == 1) and np.all(book.side[book.segment == 2] == -1)
    assert np.allclose(book.size_base * book.entry_price, 1000.0)


def test_entries_follow_volume(tmp_path: Path) -> None:
    # two candles: 90 % of the quote volume traded in [200, 201], 10 % in [100, 101]
    f = tmp_path / "k.csv"
    f.write_text(
        "open_time,open,high,low,close,volume,close_time,quote_volume\n"
        "0,100,101,100,100.5,1,59999,1000\n60000,200,201,200,200.5,1,119999,9000\n"
        "120000,200.5,201,200,200.5,0,179999,0\n"
    )
    segs = {
        "retail": S.SegmentConfig(
            share=1.0,
            leverage=S.FixedDist(value=1.0),
            size=S.FixedDist(value=100.0),
            long_fraction=1.0,
        )
    }
    c = S.SyntheticBook(n_positions=20_000, price_history=[str(f)], segments=segs)
    v = [VenueSpec("generic", "X", load_venue("generic", "X"), 200.5, 1.0, 1001.0)]
    book, rep = generate_population(c, v, 9)
    hi = book.entry_price >= 200
    assert rep.kept == 20_000
    assert hi.mean() == pytest.approx(0.9, abs=0.01)
    assert book.entry_price.min() >= 100 and book.entry_price.max() <= 201


def test_price_only_history_is_rejected() -> None:
    c = S.SyntheticBook(
        n_positions=10, price_history=["sample:binance/um/priceKlines/BTCUSDT-5m-2025-10-10.zip"]
    )
    with pytest.raises(DataError, match="quote_volume is 0"):
        generate_population(c, venues(), 1)


def test_distributions_respect_bounds_and_shape() -> None:
    g = np.random.default_rng(0)
    x = draw(S.ParetoDist(alpha=1.5, x_min=2.0, x_max=1001.0), 200_000, g)
    assert x.min() >= 2.0 and x.max() <= 1001.0
    # truncated Pareto CDF at 10: (1 - (2/10)^a) / (1 - (2/1001)^a)
    want = (1 - (2 / 10) ** 1.5) / (1 - (2 / 1001) ** 1.5)
    assert (x <= 10).mean() == pytest.approx(want, abs=0.005)
    y = draw(S.LognormalDist(median=3000.0, sigma=1.2, x_max=1e6), 200_000, g)
    assert np.median(y) == pytest.approx(3000.0, rel=0.03) and y.max() <= 1e6
    assert np.std(np.log(y)) == pytest.approx(1.2, rel=0.03)
    assert math.isclose(draw(S.FixedDist(value=4.0), 3, g)[2], 4.0)
