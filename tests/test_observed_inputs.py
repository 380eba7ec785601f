"""Observed open interest and bookDepth as model inputs: causal alignment, the depth ratio on the
real 10 Oct file, the kernel twins with an impact profile, and the store path through prepare."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from liqcascade.data import ingest_paths
from liqcascade.data.klines import read_klines
from liqcascade.errors import DataError, InputError
from liqcascade.market import (
    _param_vector,
    default_params,
    depth_profile,
    draw_ensemble,
    simulate_paths,
)
from liqcascade.observed import (
    DEPTH_RATIO_CLIP,
    OI_OBSERVED_LOG_SD,
    ObservedInputs,
    depth_ratio_at_bars,
    inputs_from_frames,
    oi_at_bars,
)
from liqcascade.validate import ModelTape, prepare

DATA = Path(str(resources.files("liqcascade") / "sample_data/binance/um"))
CRASH = DATA / "klines/BTCUSDT-1m-2025-10-10.csv"
DEPTH = DATA / "bookDepth/BTCUSDT-bookDepth-2025-10-10.csv"
NEWS = 20 * 60 + 50  # bar index of 2025-10-10T20:50Z in the day file
MIN = 60_000


def test_oi_takes_last_value_at_or_before_the_close() -> None:
    t = np.array([0, 5 * MIN, 10 * MIN])
    v = np.array([100.0, 110.0, 120.0])
    bars = np.array([-1, 0, 4 * MIN, 5 * MIN, 9 * MIN, 11 * MIN])
    out = oi_at_bars(t, v, bars)
    assert np.isnan(out[0])
    np.testing.assert_array_equal(out[1:], [100.0, 100.0, 110.0, 110.0, 120.0])


def test_depth_ratio_is_causal_and_clipped() -> None:
    t = np.arange(0, 400) * 30_000  # a snapshot every 30 s for 200 minutes
    d = np.full(t.size, 100.0)
    d[-20:] = 10.0  # the book thins ten times in the last ten minutes
    bars = np.array([t[100], t[-21], t[-1]])
    r = depth_ratio_at_bars(t, d, bars)
    assert r[0] == pytest.approx(1.0) and r[1] == pytest.approx(1.0)
    assert r[2] == DEPTH_RATIO_CLIP[1]  # 10x thinner is clipped to the stated bound
    # a later snapshot never changes an earlier bar
    d2 = d.copy()
    d2[-5:] = 1e6
    np.testing.assert_array_equal(depth_ratio_at_bars(t, d2, bars[:2]), r[:2])


def test_depth_ratio_needs_fresh_snapshots() -> None:
    t = np.arange(0, 100) * 30_000
    d = np.full(t.size, 50.0)
    late = np.array([t[-1] + 10 * MIN])
    assert np.isnan(depth_ratio_at_bars(t, d, late)[0])


def test_frames_missing_columns_name_them() -> None:
    with pytest.raises(DataError, match="book_depth.*depth_base"):
        inputs_from_frames(np.array([0]), None, pl.DataFrame({"time_ms": [0], "percentage": [1.0]}))


def _depth_frame() -> pl.DataFrame:
    df = pl.read_csv(DEPTH, try_parse_dates=True)
    return df.select(
        pl.col("timestamp").dt.replace_time_zone("UTC").dt.epoch("ms").alias("time_ms"),
        pl.col("percentage").cast(pl.Float64),
        pl.col("depth").alias("depth_base"),
    )


def test_real_depth_path_thins_in_the_crash() -> None:
    tape = read_klines(CRASH)
    inp = inputs_from_frames(tape.open_ms, None, _depth_frame(), source="file")
    r = inp.depth_ratio
    assert r is not None
    # the +1 % ask band was thinner than its six-hour median during the crash
    # (observed depth sank to about a fifth at 21:20)
    assert np.nanmax(r[NEWS : NEWS + 60]) > 2.0
    assert np.nanmedian(r[6 * 60 : 18 * 60]) == pytest.approx(1.0, abs=0.2)
    assert inp.describe(NEWS)["depth_source"].startswith("file")


def test_kernel_twins_agree_with_an_impact_profile() -> None:
    mt = prepare(read_klines(CRASH).slice(0, NEWS + 10), default_params())
    pf = mt.pf
    draws = draw_ensemble(pf, 100, 60, 4)
    pv = _param_vector(pf.market, pf.book.forced_cap_frac)
    st = (float(mt.state.h[NEWS]), float(mt.state.transient[NEWS]), float(mt.state.flow_base[NEWS]))
    cum = mt.book(NEWS)
    prof = depth_profile(2.5, pf.market.vol_decay, 60)
    fast = simulate_paths(st, pv, cum, draws, lam_profile=prof)
    slow = simulate_paths(st, pv, cum, draws, plain=True, lam_profile=prof)
    flat = simulate_paths(st, pv, cum, draws)
    for k in fast:
        np.testing.assert_allclose(fast[k], slow[k], rtol=1e-9, atol=1e-12, err_msg=k)
    # a thinner book moves the price more for the same flow
    assert np.abs(fast["endogenous"]).mean() > np.abs(flat["endogenous"]).mean()
    with pytest.raises(InputError, match="lam_profile"):
        simulate_paths(st, pv, cum, draws, lam_profile=np.ones(3))


def test_depth_profile_relaxes_to_one() -> None:
    p = depth_profile(3.0, 0.9, 200)
    assert p[0] == pytest.approx(1 + 2 * 0.9)
    assert np.all(np.diff(p) < 0) and p[-1] == pytest.approx(1.0, abs=1e-8)


def test_observed_oi_sets_the_book_and_narrows_the_draws() -> None:
    tape = read_klines(CRASH).slice(0, NEWS + 10)
    pf = default_params()
    oi = np.full(len(tape), 50_000.0)
    mt_prior = ModelTape(tape, 0, pf, prepare(tape, pf).gp)
    mt_obs = ModelTape(
        tape, 0, pf, mt_prior.gp, ObservedInputs(oi_base=oi, sources={"open_interest": "t"})
    )
    assert mt_obs.oi_base(NEWS) == 50_000.0 and mt_prior.oi_base(NEWS) == pf.book.oi_median_base
    # the grid scales with the open interest it is given
    ratio = mt_obs.book(NEWS)[0, -1] / mt_prior.book(NEWS)[0, -1]
    assert ratio == pytest.approx(50_000.0 / pf.book.oi_median_base, rel=0.01)
    d = draw_ensemble(pf, 2000, 5, 1)
    d2 = mt_obs.draws_at(NEWS, d)
    assert np.std(np.log(d2.oi_mult)) == pytest.approx(OI_OBSERVED_LOG_SD, rel=0.1)
    assert mt_prior.draws_at(NEWS, d) is d


def test_prepare_reads_oi_and_depth_from_the_store(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    assert ingest_paths([str(CRASH), str(DEPTH)], db=str(db)).ok
    tape = read_klines(CRASH).slice(NEWS - 60, NEWS + 10)
    mt = prepare(tape, default_params(), db=db)
    assert mt.inputs.depth_ratio is not None
    assert mt.inputs.depth_at(mt.k0 + 60) != 1.0
    assert mt.inputs.oi_at(mt.k0 + 60) is None  # no metrics ingested: the prior stays
    assert mt.lam_profile(mt.k0 + 60, 30) is not None


def test_ingested_metrics_become_the_open_interest(tmp_path: Path) -> None:
    """A Binance metrics file in the store replaces the OI prior from its first row on."""
    m = tmp_path / "um/metrics/BTCUSDT-metrics-2025-10-10.csv"
    m.parent.mkdir(parents=True)
    m.write_text(
        "create_time,symbol,sum_open_interest,sum_open_interest_value,"
        "count_toptrader_long_short_ratio,sum_toptrader_long_short_ratio,"
        "count_long_short_ratio,sum_taker_long_short_vol_ratio\n"
        "2025-10-10 20:00:00,BTCUSDT,94312.511,11459250112.4,1.9876,1.6543,2.1234,0.9876\n"
        "2025-10-10 20:30:00,BTCUSDT,90211.902,10311250344.98,2.0511,1.7012,2.2001,0.99\n"
    )
    db = tmp_path / "s.duckdb"
    assert ingest_paths([str(CRASH), str(m)], db=str(db)).ok
    tape = read_klines(CRASH).slice(NEWS - 60, NEWS + 10)
    mt = prepare(tape, default_params(), db=db)
    # bar 19:50 closes before the first row; 20:00 closes after it; 20:50 after the second
    assert mt.inputs.oi_at(mt.k0) is None
    assert mt.oi_base(mt.k0) == default_params().book.oi_median_base
    assert mt.inputs.oi_at(mt.k0 + 10) == pytest.approx(94312.511)
    assert mt.inputs.oi_at(mt.k0 + 60) == pytest.approx(90211.902)
    assert mt.inputs.describe(mt.k0 + 60)["open_interest_source"].startswith("store")
