"""Baselines and scores (liqcascade.scoring): hand cases, a real day and Monte Carlo checks."""

from __future__ import annotations

import math
from importlib.resources import files
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pytest

from liqcascade import scoring as S
from liqcascade.data.klines import read_klines
from liqcascade.errors import InputError

DAY = Path(str(files("liqcascade") / "sample_data")) / "binance/um/klines/BTCUSDT-1m-2025-10-10.csv"
WINDOW = (
    Path(str(files("liqcascade") / "sample_data"))
    / "binance/um/klines/BTCUSDT-1m-2025-10-27T0000-0600.csv"
)


def test_future_min_low_hand_case() -> None:
    low = np.array([5.0, 4.0, 6.0, 3.0, 7.0, 8.0])
    out = S.future_min_low(low, 2)
    # out[i] = min(low[i+1], low[i+2]); the last two have fewer than 2 bars after them
    assert np.array_equal(out[:4], [4.0, 3.0, 3.0, 7.0])
    assert np.isnan(out[4:]).all()
    assert np.isnan(S.future_min_low(low, 6)).all()
    assert np.array_equal(S.future_min_low(low, 5)[:1], [3.0])
    with pytest.raises(InputError):
        S.future_min_low(low, 0)


def test_future_min_low_on_the_crash_day() -> None:
    t = read_klines(DAY)
    fut = S.future_min_low(t.low, 30)
    k = int(np.argmin(t.low))  # 21:20
    # every bar from 20:50 to 21:19 sees the 101516.5 low within its next 30 minutes
    assert np.all(fut[k - 30 : k] == 101516.5)
    assert fut[k] > 101516.5 and fut[k - 31] > 101516.5
    assert np.isnan(fut[-30:]).all() and not np.isnan(fut[-31])


def test_ewma_variance_recursion_and_warmup() -> None:
    rng = np.random.default_rng(3)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 1e-3, 200)))
    r = np.diff(np.log(close))
    v = S.ewma_variance(close, lam=0.9, warmup=10)
    assert np.isnan(v[0])
    # warm-up: running mean of r^2, so out[10] is the mean over the first 10 returns
    assert v[1] == pytest.approx(r[0] ** 2)
    assert v[5] == pytest.approx(np.mean(r[:5] ** 2))
    assert v[10] == pytest.approx(np.mean(r[:10] ** 2))
    # then the RiskMetrics recursion
    assert v[11] == pytest.approx(0.9 * v[10] + 0.1 * r[10] ** 2)
    assert v[150] == pytest.approx(0.9 * v[149] + 0.1 * r[149] ** 2)
    # no look-ahead: changing the future leaves the past alone
    moved = close.copy()
    moved[120:] *= 1.05
    v2 = S.ewma_variance(moved, lam=0.9, warmup=10)
    assert np.array_equal(v2[:120], v[:120], equal_nan=True) and v2[120] > v[120]
    # fewer returns than warmup: the mean of what is there
    short = S.ewma_variance(close[:4], warmup=60)
    assert short[3] == pytest.approx(np.mean(r[:3] ** 2))
    assert np.isnan(S.ewma_variance(close[:1])).all()
    with pytest.raises(InputError):
        S.ewma_variance(close, lam=1.0)


def test_ewma_variance_tracks_a_known_volatility() -> None:
    rng = np.random.default_rng(11)
    sigma = 2e-3
    close = 1e5 * np.exp(np.cumsum(rng.normal(0.0, sigma, 20_000)))
    v = S.ewma_variance(close)
    assert np.nanmean(v[1000:]) == pytest.approx(sigma**2, rel=0.03)


def test_reflection_quantile_formula() -> None:
    close = np.array([100.0, 200.0])
    var = np.array([1e-6, 4e-6])
    q = S.reflection_min_quantile(close, var, 25, 0.05)
    z = NormalDist().inv_cdf(0.025)
    assert q[0] == pytest.approx(100.0 * math.exp(1e-3 * 5 * z))
    assert q[1] == pytest.approx(200.0 * math.exp(2e-3 * 5 * z))
    assert np.all(q < close)
    assert np.all(S.reflection_min_quantile(close, var, 25, 0.01) < q)
    assert np.isnan(S.reflection_min_quantile(close, np.array([np.nan, 1e-6]), 5, 0.05)[0])
    with pytest.raises(InputError):
        S.reflection_min_quantile(close, var, 25, 1.5)


@pytest.mark.parametrize("prob", [0.05, 0.01, 0.3])
def test_reflection_quantile_against_brownian_bridges(prob: float) -> None:
    """Exact Monte Carlo of the continuous minimum: a path sampled at the bar closes crosses
    level b between two points x0, x1 (both above b) with the Brownian-bridge probability
    exp(-2 (x0 - b)(x1 - b) / (s^2 dt)); so P(min <= b) = mean(1 - prod(1 - p_k))."""
    rng = np.random.default_rng(20251010)
    horizon, var = 30, 1.2e-6
    s = math.sqrt(var)
    b = math.log(S.reflection_min_quantile(np.array([1.0]), np.array([var]), horizon, prob)[0])
    n = 40_000
    x = np.concatenate(
        [np.zeros((n, 1)), np.cumsum(rng.normal(0.0, s, (n, horizon)), axis=1)], axis=1
    )
    below = (x[:, :-1] <= b) | (x[:, 1:] <= b)
    p_cross = np.exp(-2.0 * np.clip(x[:, :-1] - b, 0, None) * np.clip(x[:, 1:] - b, 0, None) / var)
    p_hit = np.where(below.any(axis=1), 1.0, 1.0 - np.prod(1.0 - p_cross, axis=1))
    est = float(p_hit.mean())
    se = float(p_hit.std() / math.sqrt(n))
    assert abs(est - prob) < 4 * se + 1e-4
    # sampled only at the closes, the minimum is less extreme: the breach rate is below prob
    assert float(np.mean(x.min(axis=1) <= b)) < prob


def test_reflection_quantile_against_fine_paths() -> None:
    """Plain Monte Carlo on a fine grid (200 steps per bar): the empirical 5 % quantile of the
    minimum is close to the formula (the grid makes it slightly less extreme)."""
    rng = np.random.default_rng(7)
    horizon, var, steps = 10, 1e-6, 200
    n = 4000
    dx = rng.normal(0.0, math.sqrt(var / steps), (n, horizon * steps))
    m = np.minimum(np.cumsum(dx, axis=1).min(axis=1), 0.0)
    q = S.reflection_min_quantile(np.array([1.0]), np.array([var]), horizon, 0.05)[0]
    emp = float(np.exp(np.quantile(m, 0.05)))
    assert emp == pytest.approx(q, abs=2.5e-4)
    assert emp >= q - 5e-5  # discrete monitoring never makes the minimum lower on average


def test_no_change_quantile_is_a_copy_of_close() -> None:
    c = np.array([1.0, 2.0, 3.0])
    q = S.no_change_quantile(c)
    assert np.array_equal(q, c) and q is not c
    q[0] = 9.0
    assert c[0] == 1.0


def test_pinball_loss_hand_cases() -> None:
    # y above q costs prob * (y - q); below costs (1 - prob) * (q - y)
    assert S.pinball_loss(np.array([10.0]), np.array([8.0]), 0.05) == pytest.approx(0.1)
    assert S.pinball_loss(np.array([8.0]), np.array([10.0]), 0.05) == pytest.approx(1.9)
    y = np.array([10.0, 8.0, np.nan, 5.0])
    q = np.array([8.0, 10.0, 1.0, np.nan])
    assert S.pinball_loss(y, q, 0.05) == pytest.approx((0.1 + 1.9) / 2)
    assert S.pinball_loss(np.array([3.0]), np.array([3.0]), 0.2) == 0.0
    assert math.isnan(S.pinball_loss(np.array([np.nan]), np.array([1.0]), 0.05))
    # relative: the same errors at twice the price cost half
    ref = np.array([100.0, 200.0])
    rel = S.pinball_loss_rel(np.array([10.0, 8.0]), np.array([8.0, 10.0]), 0.05, ref)
    assert rel == pytest.approx((0.1 / 100 + 1.9 / 200) / 2)
    with pytest.raises(InputError):
        S.pinball_loss(np.array([1.0, 2.0]), np.array([1.0]), 0.05)
    with pytest.raises(InputError):
        S.pinball_loss(np.array([1.0]), np.array([1.0]), 0.0)


def test_pinball_loss_is_smallest_at_the_true_quantile() -> None:
    rng = np.random.default_rng(5)
    y = rng.normal(0.0, 1.0, 50_000)
    z05 = NormalDist().inv_cdf(0.05)
    losses = {d: S.pinball_loss(y, np.full(y.size, z05 + d), 0.05) for d in (-0.3, 0.0, 0.3)}
    assert losses[0.0] < losses[-0.3] and losses[0.0] < losses[0.3]


def test_breach_rate_hand_cases() -> None:
    y = np.array([1.0, 2.0, 3.0, np.nan, 5.0])
    q = np.array([2.0, 2.0, 2.0, 0.0, np.nan])
    # pairs without NaN: (1,2) breach, (2,2) not (strict), (3,2) not
    assert S.breach_rate(y, q) == pytest.approx(1 / 3)
    assert math.isnan(S.breach_rate(np.array([np.nan]), np.array([np.nan])))


def test_baselines_on_a_quiet_window() -> None:
    """On a quiet night the EWMA reflection 5 % quantile is breached rarely, far less often than
    the no-change baseline (which every future low at or below the close breaches), and it has
    the lower pinball loss."""
    t = read_klines(WINDOW)
    h = 30
    y = S.future_min_low(t.low, h)
    v = S.ewma_variance(t.close)
    q = S.reflection_min_quantile(t.close, v, h, 0.05)
    q0 = S.no_change_quantile(t.close)
    sl = slice(60, None)
    ewma_breach = S.breach_rate(y[sl], q[sl])
    nochange_breach = S.breach_rate(y[sl], q0[sl])
    assert ewma_breach < 0.15 < 0.9 < nochange_breach
    assert S.pinball_loss_rel(y[sl], q[sl], 0.05, t.close[sl]) < S.pinball_loss_rel(
        y[sl], q0[sl], 0.05, t.close[sl]
    )
