"""Shock models: samplers follow their definitions; fits recover known parameters."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from liqcascade.errors import ConfigError, DataError
from liqcascade.scenarios import schema as S
from liqcascade.scenarios.shocks import (
    YEAR_S,
    _garch_recursion,
    build_shock,
    fit_garch,
    fit_merton,
    log_returns,
    read_klines,
)


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def test_jump_fixed_and_range_are_seeded() -> None:
    m = build_shock(S.JumpShock(size=-0.07))
    p = m.sample(rng())
    assert p.n_steps == 1 and p.price_ratio[0] == 1.0 and p.price_ratio[1] == pytest.approx(0.93)
    m = build_shock(S.JumpShock(size_range=[-0.2, -0.05]))
    draws = [m.sample(rng(i)).price_ratio[1] - 1 for i in range(200)]
    assert min(draws) >= -0.2 and max(draws) <= -0.05
    assert m.sample(rng(3)).price_ratio[1] == m.sample(rng(3)).price_ratio[1]
    assert len(set(draws)) == 200


def test_news_impulse_reached_then_retraced_without_noise() -> None:
    cfg = S.NewsShock(
        impulse=-0.1,
        impulse_s=120,
        decay_s=600,
        retrace=0.5,
        sigma_annual=0.0,
        horizon_s=7200,
        step_s=60,
    )
    p = build_shock(cfg).sample(rng())
    t = p.time_s
    assert p.price_ratio[0] == 1.0
    assert p.price_ratio[t == 120][0] == pytest.approx(0.9)
    assert p.price_ratio.min() == pytest.approx(0.9)
    # after many decay times half of the log move is retraced
    assert math.log(p.price_ratio[-1]) == pytest.approx(0.5 * math.log(0.9), rel=1e-4)


def test_bridge_hits_target_low_exactly_at_time() -> None:
    cfg = S.BridgeShock(target_low=-0.13, at_s=1800, sigma_annual=1.0, horizon_s=3600, step_s=60)
    m = build_shock(cfg)
    for seed in range(5):
        p = m.sample(rng(seed))
        assert p.price_ratio[0] == 1.0
        assert p.price_ratio[p.time_s == 1800][0] == pytest.approx(0.87, rel=1e-12)
    # the bridge's noise scales with sigma: zero sigma gives the straight log line
    flat = build_shock(
        S.BridgeShock(target_low=-0.13, at_s=1800, sigma_annual=0.0, horizon_s=3600, step_s=60)
    )
    lp = np.log(flat.sample(rng()).price_ratio)
    assert np.allclose(lp[:31], np.linspace(0, math.log(0.87), 31))


def test_bridge_sigma_fitted_from_klines_matches_sample_std() -> None:
    fit = S.FitConfig(klines=["sample:binance/um/klines/BTCUSDT-1m-2025-10-11.csv"])
    m = build_shock(S.BridgeShock(target_low=-0.1, at_s=600, fit=fit, horizon_s=1200, step_s=60))
    kl = read_klines(fit.klines)
    r = np.diff(np.log(kl["close"].to_numpy()))
    assert m.params["sigma_annual"] == pytest.approx(
        np.std(r, ddof=1) * math.sqrt(YEAR_S / 60), rel=1e-9
    )


def test_merton_threshold_fit_recovers_parameters() -> None:
    g = rng(42)
    dt = 60.0
    n = 200_000
    sigma, lam, jm, js = 0.5, 20.0, -0.01, 0.004
    diff = sigma * math.sqrt(dt / YEAR_S) * g.standard_normal(n)
    nj = g.poisson(lam * dt / 86400, n)
    r = diff + nj * jm + np.sqrt(nj) * js * g.standard_normal(n)
    p = fit_merton(r, dt, threshold_sd=4.0)
    assert p["sigma_annual"] == pytest.approx(sigma, rel=0.03)
    assert p["jump_intensity_per_day"] == pytest.approx(lam, rel=0.15)
    assert p["jump_mean"] == pytest.approx(jm, rel=0.1)


@pytest.mark.slow  # importing arch compiles its numba recursions (seconds)
def test_garch_fit_recovers_parameters() -> None:
    g = rng(7)
    nu = 6.0
    z = g.standard_t(nu, 6000) * math.sqrt((nu - 2) / nu)
    omega, alpha, beta = 2e-8, 0.08, 0.9
    r = _garch_recursion(z, 0.0, omega, alpha, beta, math.sqrt(omega / (1 - alpha - beta)))
    p = fit_garch(r, 60.0)
    assert p["alpha"] == pytest.approx(alpha, abs=0.04)
    assert p["beta"] == pytest.approx(beta, abs=0.05)
    assert p["nu"] == pytest.approx(nu, rel=0.4)


@pytest.mark.slow
def test_garch_and_merton_from_shipped_klines() -> None:
    m = build_shock(S.GarchShock(step_s=60, horizon_s=3600))
    assert 0 < m.params["alpha"] < 1 and 0 < m.params["beta"] < 1
    assert m.params["alpha"] + m.params["beta"] < 1.0 + 1e-6
    p = m.sample(rng(1))
    assert p.n_steps == 60 and np.all(p.price_ratio > 0)
    jd = build_shock(
        S.JumpDiffusionShock(fit=S.FitConfig(), stress_jump=-0.1, stress_at_s=600, horizon_s=3600)
    )
    assert jd.params["n_jumps"] > 0 and jd.params["sigma_annual"] > 0
    a, b = jd.sample(rng(5)).price_ratio, jd.sample(rng(5)).price_ratio
    assert np.array_equal(a, b)
    # explicit parameters override fitted ones
    jd2 = build_shock(S.JumpDiffusionShock(fit=S.FitConfig(), sigma_annual=0.123, horizon_s=600))
    assert jd2.params["sigma_annual"] == 0.123


def test_stress_jump_lands_at_its_time() -> None:
    cfg = S.JumpDiffusionShock(
        mu_annual=0.0, sigma_annual=0.0, jump_intensity_per_day=0.0, jump_mean=0.0, jump_std=0.0,
        stress_jump=-0.2, stress_at_s=600, horizon_s=1200, step_s=60,
    )  # fmt: skip
    p = build_shock(cfg).sample(rng())
    assert np.all(p.price_ratio[p.time_s < 600] == 1.0)
    assert np.allclose(p.price_ratio[p.time_s >= 600], 0.8)


def test_collateral_depeg_curve() -> None:
    cfg = S.CollateralShock(
        assets=[
            S.CollateralAsset(asset="USDe", depeg=0.33, start_s=600, duration_s=300, recovery_s=600)
        ],
        horizon_s=3600,
        step_s=60,
    )
    p = build_shock(cfg).sample(rng())
    c = p.collateral_ratio[0]
    assert np.all(p.price_ratio == 1.0)
    assert np.all(c[p.time_s <= 600] == 1.0)
    assert c[p.time_s == 900][0] == pytest.approx(0.67)
    assert c.min() == pytest.approx(0.67)
    assert np.all(c[p.time_s >= 1500] == pytest.approx(1.0))


def test_log_returns_resample_and_reject_bad_step() -> None:
    kl = read_klines(["sample:binance/um/klines/BTCUSDT-1m-2025-10-10.csv"])
    r5, dt = log_returns(kl, 300)
    assert dt == 300 and len(r5) == 1440 // 5 - 1
    close = kl["close"].to_numpy()
    assert r5[0] == pytest.approx(math.log(close[5] / close[0]))
    with pytest.raises(ConfigError, match="not a multiple of the kline interval"):
        log_returns(kl, 90)


def test_read_klines_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="kline file not found"):
        read_klines(["nope.csv"], tmp_path)
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "open_time,open,high,low,close,volume,close_time,quote_volume\n1,2,3,1,x,1,2,3\n"
    )
    with pytest.raises(DataError, match="bad.csv"):
        read_klines([str(bad)])
    kl = read_klines(
        ["sample:binance/um/klines/BTCUSDT-1m-2025-10-10.csv"],
        start="2025-10-10T20:50:00",
        end="2025-10-10T21:30:00",
    )
    assert kl.height == 40 and kl["low"].min() == pytest.approx(101516.5)
