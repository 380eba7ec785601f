"""Impact models: formulas, inverses, the Binance bookDepth reader and the CLI spec parser."""

from __future__ import annotations

from importlib.resources import files

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liqcascade.errors import DataError, InputError
from liqcascade.impact import (
    DepthCurveImpact,
    LinearImpact,
    SqrtImpact,
    parse_impact,
)
from liqcascade.testing import impact_models

BOOKDEPTH = (
    files("liqcascade")
    / "sample_data"
    / "binance"
    / "um"
    / "bookDepth"
    / "BTCUSDT-bookDepth-2025-10-10.csv"
)


def test_linear_formula():
    m = LinearImpact(500.0)
    assert m.move_for_volume(500.0) == pytest.approx(0.01)
    assert m.move_for_volume(0.0) == 0.0
    np.testing.assert_allclose(m.move_for_volume(np.array([250.0, 5e4])), [0.005, 1.0])
    assert m.scaled(0.5).move_for_volume(500.0) == pytest.approx(0.02)


def test_sqrt_formula_units():
    # Y=0.5, sigma 4%/day, ADV 200,000 BTC: 2,000 BTC (1% of ADV) moves 0.5*0.04*0.1 = 0.2%
    m = SqrtImpact(0.5, 0.04, 200_000.0)
    assert m.move_for_volume(2_000.0) == pytest.approx(0.002, rel=1e-12)
    assert m.move_for_volume(8_000.0) == pytest.approx(0.004, rel=1e-12)  # 4x volume, 2x move
    assert m.scaled(4.0).move_for_volume(8_000.0) == pytest.approx(0.002, rel=1e-12)


@settings(max_examples=60, deadline=None)
@given(impact_models(), st.floats(0.0, 0.9), st.sampled_from(["bid", "ask"]))
def test_inverse_round_trip(model, x, side):
    m = model.for_side(side)
    v = m.volume_for_move(x)
    assert v >= 0
    back = m.move_for_volume(v)
    # x(D(x)) = x except on flat stretches of a depth curve, where x(V) is the first move
    # that reaches V; D(x(V)) = V always holds
    assert back <= x * (1 + 1e-9) + 1e-12
    assert m.volume_for_move(back) == pytest.approx(v, rel=1e-9, abs=1e-9)
    if not isinstance(model, DepthCurveImpact) and v > 0:
        assert back == pytest.approx(x, rel=1e-9, abs=1e-12)
    # monotone: more volume never moves the price less
    assert m.move_for_volume(v * 1.5 + 1.0) >= back


def test_depth_curve_shape():
    m = DepthCurveImpact(
        levels=np.array([0.0, 0.01, 0.02, 0.03, 0.04, 0.05]),
        bid_depth_base=np.array([0.0, 100.0, 100.0, 400.0, 500.0, 700.0]),
        ask_depth_base=np.array([0.0, 10.0, 20.0, 30.0, 40.0, 40.0]),
    )
    assert m.move_for_volume(50.0) == pytest.approx(0.005)  # linear from 0 at 0%
    assert m.move_for_volume(100.0) == pytest.approx(0.01)  # flat 1..2%: first price reaching it
    assert m.move_for_volume(100.0 + 1e-9) == pytest.approx(0.02, abs=1e-12)
    assert m.move_for_volume(250.0) == pytest.approx(0.025)
    assert m.move_for_volume(900.0) == pytest.approx(0.06)  # slope 200 per 1% beyond 5%
    assert m.volume_for_move(0.06) == pytest.approx(900.0)
    ask = m.for_side("ask")
    assert ask.move_for_volume(40.0) == pytest.approx(0.04)
    assert ask.move_for_volume(40.0001) == np.inf  # flat last segment: nothing beyond
    assert m.scaled(0.5).move_for_volume(50.0) == pytest.approx(0.01)


def test_bookdepth_snapshot_by_time():
    first = DepthCurveImpact.from_bookdepth(BOOKDEPTH)
    assert first.timestamp.startswith("2025-10-10 00:00:07")
    # the file's first row: -5% bids hold 8243.012 BTC
    assert first.bid_depth_base[5] == 8243.012
    noon = DepthCurveImpact.from_bookdepth(BOOKDEPTH, at="12:00")
    assert noon.timestamp <= "2025-10-10 12:00:00" and noon.timestamp >= "2025-10-10 11:59"
    same = DepthCurveImpact.from_bookdepth(BOOKDEPTH, at="2025-10-10 12:00:00")
    assert same.timestamp == noon.timestamp
    np.testing.assert_array_equal(same.ask_depth_base, noon.ask_depth_base)
    assert not np.array_equal(first.bid_depth_base, noon.bid_depth_base)
    # both sides are cumulative and the side matters
    for d in (noon.bid_depth_base, noon.ask_depth_base):
        assert d[0] == 0 and np.all(np.diff(d) >= 0)
    assert noon.move_for_volume(1000.0) != noon.for_side("ask").move_for_volume(1000.0)


def test_bookdepth_snapshot_against_raw_rows():
    import polars as pl

    raw = pl.read_csv(BOOKDEPTH)
    ts = raw["timestamp"][5000]
    snap = raw.filter(pl.col("timestamp") == ts)
    m = DepthCurveImpact.from_bookdepth(BOOKDEPTH, at=ts)
    for pct, depth in snap.select("percentage", "depth").rows():
        d = m.bid_depth_base if pct < 0 else m.ask_depth_base
        assert d[abs(int(pct))] == depth


def test_bookdepth_errors(tmp_path):
    with pytest.raises(InputError, match="not found"):
        DepthCurveImpact.from_bookdepth(tmp_path / "nope.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("time,pct\n1,2\n")
    with pytest.raises(DataError, match="missing column"):
        DepthCurveImpact.from_bookdepth(bad)
    bad.write_text("timestamp,percentage,depth\n2025-10-10 00:00:00,-1,abc\n")
    with pytest.raises(DataError, match=r"row 1"):
        DepthCurveImpact.from_bookdepth(bad)
    with pytest.raises(InputError, match="no snapshot"):
        DepthCurveImpact.from_bookdepth(BOOKDEPTH, at="2025-10-09 12:00")
    with pytest.raises(InputError, match="not understood"):
        DepthCurveImpact.from_bookdepth(BOOKDEPTH, at="noon")
    lines = ["timestamp,percentage,depth"] + [
        f"2025-10-10 00:00:00,{p},{d}"
        for p, d in zip(
            [-1, -2, -3, -4, -5, 1, 2, 3, 4, 5], [5, 4, 6, 7, 8, 1, 2, 3, 4, 5], strict=True
        )
    ]
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match="not cumulative"):
        DepthCurveImpact.from_bookdepth(bad)


def test_parse_impact():
    assert parse_impact("linear:500") == LinearImpact(500.0)
    assert parse_impact("sqrt:0.7,0.03,1e5") == SqrtImpact(0.7, 0.03, 1e5)
    m = parse_impact(f"depth:{BOOKDEPTH}@06:30")
    assert isinstance(m, DepthCurveImpact) and m.timestamp.startswith("2025-10-10 06:")
    for bad, msg in [
        ("linear", "expected"),
        ("linear:abc", "DEPTH_1PCT"),
        ("linear:-5", "> 0"),
        ("sqrt:1,2", "three numbers"),
        ("sqrt:1,0,5", "sigma_daily"),
        ("cubic:3", "unknown model"),
    ]:
        with pytest.raises(InputError, match=msg):
            parse_impact(bad)


def test_negative_volume_rejected():
    with pytest.raises(InputError, match="volume_base"):
        LinearImpact(1.0).move_for_volume(-1.0)


def test_shared_bookdepth_matches_shipped_copy(shared_dir):
    path = shared_dir / "data" / "binance" / "um" / "bookDepth" / "BTCUSDT-bookDepth-2025-10-10.csv"
    if not path.exists():
        pytest.skip("shared bookDepth file absent")
    a = DepthCurveImpact.from_bookdepth(path, at="21:15")
    b = DepthCurveImpact.from_bookdepth(BOOKDEPTH, at="21:15")
    assert a.timestamp == b.timestamp
    np.testing.assert_array_equal(a.bid_depth_base, b.bid_depth_base)
    np.testing.assert_array_equal(a.ask_depth_base, b.ask_depth_base)


def test_market_impact_is_the_calibrated_lambda(tmp_path) -> None:
    """``market`` turns the calibrated impact per base unit into a linear 1 % depth."""
    from liqcascade.errors import ConfigError
    from liqcascade.impact import LinearImpact, parse_impact
    from liqcascade.market import load_params

    lam = load_params().market.impact_lambda_ref_per_base
    m = parse_impact("market")
    assert isinstance(m, LinearImpact)
    assert m.depth_1pct_base == pytest.approx(0.01 / lam, rel=1e-12)
    # a volume moves the price by lam per unit, as the market model's immediate impact
    assert m.move_for_volume(100.0) == pytest.approx(100.0 * lam, rel=1e-12)
    with pytest.raises(ConfigError):
        parse_impact(f"market:{tmp_path / 'missing.toml'}")
