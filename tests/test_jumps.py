"""The one Merton jump estimator: its examples, its recovery of known parameters, and the risk
fit and the stress shock giving the same numbers (intensity per year = per day x 365)."""

from __future__ import annotations

import doctest
import math

import numpy as np
import polars as pl
import pytest

from liqcascade import jumps, risk
from liqcascade.errors import DataError, InputError
from liqcascade.jumps import SECONDS_PER_YEAR, fit_threshold_jumps
from liqcascade.scenarios.shocks import fit_merton, log_returns


def test_examples_run():
    res = doctest.testmod(jumps, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert res.attempted > 0 and res.failed == 0


def _closes(seed: int, n: int = 30_000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    dt = 60.0 / SECONDS_PER_YEAR
    r = 0.6 * math.sqrt(dt) * rng.standard_normal(n)
    hit = rng.random(n) < 0.001
    r[hit] += rng.normal(-0.015, 0.004, int(hit.sum()))
    return r, hit


def test_recovers_known_parameters():
    r, hit = _closes(11)
    f = fit_threshold_jumps(r, 60.0)
    assert f.vol_annual == pytest.approx(0.6, rel=0.03)
    assert f.n_jumps == pytest.approx(int(hit.sum()), rel=0.1)
    assert f.jump_mean_log == pytest.approx(-0.015, abs=0.002)
    assert f.jump_intensity_per_year == pytest.approx(
        hit.sum() / (r.size * 60 / SECONDS_PER_YEAR), rel=0.1
    )
    assert f.jump_intensity_per_day == pytest.approx(f.jump_intensity_per_year / 365.0, rel=1e-12)
    plain = fit_threshold_jumps(r, 60.0, jumps=False)
    assert plain.n_jumps == 0 and plain.vol_annual == pytest.approx(f.realised_vol_annual)


def test_risk_fit_and_stress_shock_agree():
    r, _ = _closes(12)
    close = 100.0 * np.exp(np.cumsum(np.concatenate([[0.0], r])))
    kl = pl.DataFrame({"open_time": np.arange(close.size, dtype=np.int64) * 60_000, "close": close})
    fitted = risk.fit_from_klines(kl)
    rr, dt_s = log_returns(kl, 60.0)
    shock = fit_merton(rr, dt_s, threshold_sd=4.0)
    m = fitted.model
    assert shock["n_jumps"] == fitted.n_jumps > 0
    assert shock["sigma_annual"] == pytest.approx(m.vol_annual, rel=1e-12)
    assert shock["jump_intensity_per_day"] * 365.0 == pytest.approx(
        m.jump_intensity_annual, rel=1e-12
    )
    assert shock["jump_mean"] == pytest.approx(m.jump_mean_log, rel=1e-12)
    assert shock["jump_std"] == pytest.approx(m.jump_std_log, rel=1e-12)


def test_bad_input():
    with pytest.raises(DataError, match="at least 30"):
        fit_threshold_jumps(np.zeros(5), 60.0)
    with pytest.raises(InputError, match="bar_seconds"):
        fit_threshold_jumps(np.zeros(100), 0.0)
    with pytest.raises(DataError, match="finite"):
        fit_threshold_jumps(np.full(100, np.nan), 60.0)
    # a flat series has no scale: no jumps, zero volatility
    flat = fit_threshold_jumps(np.zeros(100), 60.0)
    assert flat.n_jumps == 0 and flat.vol_annual == 0.0
