"""Liquidation probability: closed form vs Monte Carlo, jump model, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from liqcascade import risk
from liqcascade.errors import InputError


def _bridge_mc(price, liq, side, vol, mu, days, n_paths, n_steps, seed):
    """Independent check: fine steps of exact log-price increments plus the Brownian-bridge
    crossing probability exp(-2 (x0-b)(x1-b) / (s^2 dt)) between steps (drawn, not summed)."""
    rng = np.random.default_rng(seed)
    t = days / 365.0
    dt = t / n_steps
    a = side * (mu - 0.5 * vol**2)  # drift of y = side * ln S
    b = side * math.log(liq / price)  # barrier below 0 for y
    y = np.zeros(n_paths)
    hit = np.zeros(n_paths, dtype=bool)
    for _ in range(n_steps):
        y1 = y + a * dt + vol * math.sqrt(dt) * rng.standard_normal(n_paths)
        p_cross = np.exp(-2.0 * np.maximum(y - b, 0) * np.maximum(y1 - b, 0) / (vol**2 * dt))
        hit |= (y1 <= b) | (rng.random(n_paths) < p_cross)
        y = y1
    return hit.mean()


CASES = [
    # price, liq, side, vol, mu, days
    (100_000.0, 90_000.0, 1, 0.6, 0.0, 7.0),
    (100_000.0, 112_000.0, -1, 0.8, 0.3, 14.0),
    (150.0, 141.0, 1, 1.2, -0.5, 2.0),
    (3_000.0, 3_300.0, -1, 0.5, 0.0, 30.0),
]


@pytest.mark.parametrize("price,liq,side,vol,mu,days", CASES)
def test_gbm_closed_form_matches_independent_monte_carlo(price, liq, side, vol, mu, days):
    p = risk.prob_liquidation(price, liq, side, vol, days, drift_annual=mu).probability
    n = 50_000
    mc = _bridge_mc(price, liq, side, vol, mu, days, n, 40, seed=7)
    se = math.sqrt(max(p * (1 - p), 1e-12) / n)
    assert abs(mc - p) < 4 * se, (mc, p, se)


@pytest.mark.parametrize("price,liq,side,vol,mu,days", CASES)
def test_jump_model_with_zero_intensity_agrees_with_gbm(price, liq, side, vol, mu, days):
    closed = risk.prob_liquidation(price, liq, side, vol, days, drift_annual=mu).probability
    sim = risk.prob_liquidation(
        price,
        liq,
        side,
        vol,
        days,
        drift_annual=mu,
        model="jump",
        n_paths=80_000,
        n_steps=20,
        seed=11,
    )
    assert sim.seed == 11 and sim.n_paths == 80_000
    se = math.sqrt(closed * (1 - closed) / sim.n_paths)
    assert abs(sim.probability - closed) < 4 * se
    assert sim.ci_low <= sim.probability <= sim.ci_high
    # the Clopper-Pearson interval is about +-1.96 standard errors wide
    assert sim.ci_high - sim.ci_low == pytest.approx(2 * 1.96 * sim.standard_error, rel=0.1)


def test_bridge_extremes_make_step_count_irrelevant_for_gbm():
    # With exact bridge extremes a single step already gives the continuous-monitoring answer.
    closed = risk.prob_liquidation(100.0, 92.0, "long", 0.7, 5.0).probability
    one = risk.prob_liquidation(
        100.0, 92.0, "long", 0.7, 5.0, model="jump", n_paths=100_000, n_steps=1, seed=3
    )
    assert abs(one.probability - closed) < 4 * one.standard_error


def test_jumps_are_applied_with_the_merton_compensator():
    # Tiny diffusion, one fixed jump of -50% in log: the barrier at -20% is hit iff a jump
    # arrives. With mu = lambda*kappa + vol^2/2 the log-price has no drift between jumps.
    lam, jm, vol, days = 10.0, -0.5, 0.01, 36.5
    kappa = math.expm1(jm)
    mu = lam * kappa + 0.5 * vol**2
    res = risk.prob_liquidation(
        100.0,
        100.0 * math.exp(-0.2),
        1,
        vol,
        days,
        drift_annual=mu,
        model="jump",
        jump_intensity_annual=lam,
        jump_mean_log=jm,
        jump_std_log=0.0,
        n_paths=50_000,
        n_steps=50,
        seed=5,
    )
    expected = 1.0 - math.exp(-lam * days / 365.0)
    assert res.log_drift_annual == pytest.approx(0.0, abs=1e-12)
    assert abs(res.probability - expected) < 4 * res.standard_error


def test_probability_rises_with_vol_and_horizon_and_falls_with_distance():
    base = risk.prob_liquidation(100.0, 90.0, 1, 0.5, 7).probability
    assert risk.prob_liquidation(100.0, 90.0, 1, 0.8, 7).probability > base
    assert risk.prob_liquidation(100.0, 90.0, 1, 0.5, 30).probability > base
    assert risk.prob_liquidation(100.0, 80.0, 1, 0.5, 7).probability < base
    # positive drift protects a long and hurts a short
    assert risk.prob_liquidation(100.0, 90.0, 1, 0.5, 7, drift_annual=1.0).probability < base
    s0 = risk.prob_liquidation(100.0, 110.0, -1, 0.5, 7).probability
    assert risk.prob_liquidation(100.0, 110.0, -1, 0.5, 7, drift_annual=1.0).probability > s0


def test_closed_form_is_stable_for_far_barriers_and_huge_drift():
    p = risk.prob_hit_gbm(np.array([-5.0, 5.0, -1e-9]), np.array([50.0, -50.0, 0.0]), 0.1, 1.0)
    assert np.all(np.isfinite(p)) and np.all((p >= 0) & (p <= 1))
    assert p[0] < 1e-12 and p[1] < 1e-12 and p[2] > 0.99


def test_distance_in_volatility_units():
    r = risk.prob_liquidation(100.0, 90.0, "long", 0.5, 4.0)
    assert r.distance_frac == pytest.approx(0.1)
    assert r.distance_sigma == pytest.approx(-math.log(0.9) / (0.5 * math.sqrt(4 / 365)))


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(price=100, liq_price=90, side="long", vol_annual=-0.5, horizon_days=1), "vol_annual"),
        (dict(price=100, liq_price=90, side="long", vol_annual=0.0, horizon_days=1), "vol_annual"),
        (dict(price=100, liq_price=110, side="long", vol_annual=0.5, horizon_days=1), "not below"),
        (dict(price=100, liq_price=90, side="short", vol_annual=0.5, horizon_days=1), "not above"),
        (dict(price=100, liq_price=90, side="up", vol_annual=0.5, horizon_days=1), "side"),
        (dict(price=100, liq_price=90, side=1, vol_annual=0.5, horizon_days=0), "horizon_days"),
        (dict(price=-1, liq_price=90, side=1, vol_annual=0.5, horizon_days=1), "price"),
        (
            dict(price=100, liq_price=float("nan"), side=1, vol_annual=0.5, horizon_days=1),
            "liq_price",
        ),
        (
            dict(price=100, liq_price=90, side=1, vol_annual=0.5, horizon_days=1, model="heston"),
            "model",
        ),
        (
            dict(
                price=100,
                liq_price=90,
                side=1,
                vol_annual=0.5,
                horizon_days=1,
                jump_intensity_annual=3,
            ),
            "model='jump'",
        ),
        (
            dict(
                price=100,
                liq_price=90,
                side=1,
                vol_annual=0.5,
                horizon_days=1,
                model="jump",
                jump_std_log=-0.1,
            ),
            "jump_std_log",
        ),
    ],
)
def test_bad_input_gives_clear_errors(kwargs, match):
    with pytest.raises(InputError, match=match):
        risk.prob_liquidation(**kwargs)


def test_probability_by_horizon_is_prob_liquidation_at_each_horizon() -> None:
    from liqcascade.plotting import figure_json
    from liqcascade.risk import DEFAULT_HORIZONS_DAYS, probability_by_horizon

    curve = probability_by_horizon(100_000.0, 92_000.0, "long", 0.55, drift_annual=0.1)
    assert curve.horizon_days == tuple(float(h) for h in DEFAULT_HORIZONS_DAYS)
    for h, p in zip(curve.horizon_days, curve.probability, strict=True):
        one = risk.prob_liquidation(100_000.0, 92_000.0, "long", 0.55, h, drift_annual=0.1)
        assert p == one.probability
    assert list(curve.probability) == sorted(curve.probability)  # a touch only gets likelier
    frame = curve.to_polars()
    assert frame["probability"].to_list() == list(curve.probability)
    chosen = risk.prob_liquidation(100_000.0, 92_000.0, "long", 0.55, 7, drift_annual=0.1)
    fig = figure_json(curve.plot(chosen=chosen))
    assert fig["data"][0]["y"] == list(curve.probability)
    assert fig["data"][1]["x"] == [7.0] and fig["data"][1]["y"] == [chosen.probability]
    assert fig["layout"]["xaxis"]["type"] == "log"
