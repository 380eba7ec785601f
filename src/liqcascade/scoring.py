"""Baselines and scores for tail forecasts of the lowest low (formulas in docs/market-model.md).

- ``future_min_low``: what happened, the lowest low of the next ``horizon`` bars.
- ``ewma_variance`` + ``reflection_min_quantile``: the vol-only RiskMetrics baseline.
- ``no_change_quantile``: "the price stays where it was".
- ``pinball_loss`` and ``breach_rate``: quantile scores.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import ndtri

__all__ = [
    "breach_rate",
    "ewma_variance",
    "future_min_low",
    "no_change_quantile",
    "pinball_loss",
    "reflection_min_quantile",
]


def future_min_low(low: np.ndarray, horizon: int = 30) -> np.ndarray:
    """``out[i] = min(low[i+1 : i+1+horizon])``; NaN when fewer than ``horizon`` bars follow."""
    low = np.asarray(low, dtype=float)
    n = low.size
    out = np.full(n, np.nan)
    if n > horizon:
        w = np.lib.stride_tricks.sliding_window_view(low[1:], horizon).min(axis=1)
        out[: w.size] = w
    return out


def ewma_variance(close: np.ndarray, lam: float = 0.94, warmup: int = 60) -> np.ndarray:
    """RiskMetrics EWMA variance of 1m log returns known at each bar's close.

    ``r_t = log(c_t / c_{t-1})``, ``v_t = lam v_{t-1} + (1 - lam) r_t**2`` started from the mean
    of ``r**2`` over the first ``warmup`` returns. ``out[0]`` is NaN.
    """
    c = np.asarray(close, dtype=float)
    out = np.full(c.size, np.nan)
    if c.size < 2:
        return out
    r = np.diff(np.log(c))
    v = float(np.mean(r[:warmup] ** 2))
    for t in range(r.size):
        v = lam * v + (1.0 - lam) * r[t] * r[t]
        out[t + 1] = v
    return out


def reflection_min_quantile(
    close: np.ndarray, var_per_bar: np.ndarray, horizon: int, prob: float
) -> np.ndarray:
    """Quantile of the running minimum of a driftless Brownian log price over ``horizon`` bars.

    Reflection principle: ``P(min <= c exp(-m)) = 2 Phi(-m / (sigma sqrt(horizon)))``, so the
    ``prob`` quantile is ``c exp(sigma sqrt(horizon) Phi^-1(prob / 2))``.
    """
    sig = np.sqrt(np.asarray(var_per_bar, dtype=float))
    return np.asarray(close, float) * np.exp(sig * math.sqrt(horizon) * float(ndtri(prob / 2.0)))


def no_change_quantile(close: np.ndarray) -> np.ndarray:
    """The no-change baseline: every quantile of the future low is the current close."""
    return np.asarray(close, dtype=float).copy()


def pinball_loss(y: np.ndarray, q: np.ndarray, prob: float) -> float:
    """Mean pinball loss ``max(prob (y - q), (prob - 1)(y - q))`` over pairs without NaN."""
    y = np.asarray(y, float)
    q = np.asarray(q, float)
    ok = np.isfinite(y) & np.isfinite(q)
    d = y[ok] - q[ok]
    return float(np.mean(np.maximum(prob * d, (prob - 1.0) * d))) if d.size else float("nan")


def breach_rate(y: np.ndarray, q: np.ndarray) -> float:
    """Share of pairs (without NaN) where the outcome fell below the quantile (``y < q``)."""
    y = np.asarray(y, float)
    q = np.asarray(q, float)
    ok = np.isfinite(y) & np.isfinite(q)
    return float(np.mean(y[ok] < q[ok])) if ok.any() else float("nan")
