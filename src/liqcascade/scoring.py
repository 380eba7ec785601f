"""Baselines and scores for forecasts of the lowest price over the next minutes.

Everything here is plain numpy on 1-minute bar arrays (see :class:`liqcascade.data.klines.Tape`):

* the target: :func:`future_min_low`, the lowest low of the next ``horizon`` bars;
* a volatility estimate: :func:`ewma_variance`, the RiskMetrics EWMA of 1m log returns;
* two baseline quantile forecasts of that target: :func:`reflection_min_quantile` (driftless
  Brownian motion, reflection principle) and :func:`no_change_quantile` (the price stays put);
* scores of a quantile forecast: :func:`pinball_loss` (also relative to a reference price,
  :func:`pinball_loss_rel`) and :func:`breach_rate`.

NaN marks "not defined" (not enough bars before or after); the scores skip pairs holding a NaN.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

from liqcascade.errors import InputError

__all__ = [
    "breach_rate",
    "ewma_variance",
    "future_min_low",
    "no_change_quantile",
    "pinball_loss",
    "pinball_loss_rel",
    "reflection_min_quantile",
]


def _as_1d(name: str, a: np.ndarray) -> np.ndarray:
    x = np.asarray(a, dtype=np.float64)
    if x.ndim != 1:
        raise InputError(f"{name}: expected a 1-d array, got shape {x.shape}")
    return x


def _prob(prob: float) -> float:
    p = float(prob)
    if not 0.0 < p < 1.0:
        raise InputError(f"prob={prob!r}; expected a probability strictly between 0 and 1")
    return p


def _same_length(**arrays: np.ndarray) -> None:
    lengths = {k: len(v) for k, v in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise InputError(f"arrays of different lengths {lengths}; expected equal lengths")


def future_min_low(low: np.ndarray, horizon: int = 30) -> np.ndarray:
    """The lowest low of the ``horizon`` bars after each bar.

    ``out[i] = min(low[i+1 : i+1+horizon])``; NaN when fewer than ``horizon`` bars follow bar
    ``i`` (the last ``horizon`` entries). Bar ``i`` itself is not included: the forecast is made
    at bar ``i``'s close.
    """
    x = _as_1d("low", low)
    if isinstance(horizon, bool) or int(horizon) != horizon or horizon < 1:
        raise InputError(f"horizon={horizon!r}; expected an integer >= 1")
    h = int(horizon)
    n = len(x)
    out = np.full(n, np.nan)
    if n - 1 >= h:
        windows = np.lib.stride_tricks.sliding_window_view(x[1:], h)
        out[: len(windows)] = windows.min(axis=1)
    return out


def ewma_variance(close: np.ndarray, lam: float = 0.94, warmup: int = 60) -> np.ndarray:
    """RiskMetrics EWMA variance of 1-minute log returns, known at each bar's close.

    With ``r_t = log(c_t / c_{t-1})`` (t >= 1) and ``w = warmup``:

    * ``out[0] = NaN`` (no return yet);
    * for ``1 <= t <= w``: ``out[t] = mean(r_1^2 .. r_t^2)`` (the initial value, over all
      returns available so far), so ``out[w]`` is the mean of ``r^2`` over the first ``w``
      returns;
    * for ``t > w``: ``out[t] = lam * out[t-1] + (1 - lam) * r_t^2``.

    ``out[t]`` uses returns up to and including bar ``t`` only (no look-ahead). Units: variance
    of a 1-bar log return. NaN closes make the returns around them NaN, and the recursion NaN
    from there on.
    """
    c = _as_1d("close", close)
    if not 0.0 < lam < 1.0:
        raise InputError(f"lam={lam!r}; expected 0 < lam < 1")
    if isinstance(warmup, bool) or int(warmup) != warmup or warmup < 1:
        raise InputError(f"warmup={warmup!r}; expected an integer >= 1")
    if np.any(c <= 0):
        raise InputError("close: every price must be > 0 for log returns")
    n = len(c)
    out = np.full(n, np.nan)
    if n < 2:
        return out
    r2 = np.diff(np.log(c)) ** 2  # r2[t-1] = r_t^2
    w = min(int(warmup), n - 1)
    out[1 : w + 1] = np.cumsum(r2[:w]) / np.arange(1, w + 1)
    v = float(out[w])
    a, b = float(lam), 1.0 - float(lam)
    tail = r2[w:].tolist()
    res = np.empty(len(tail))
    for k, x in enumerate(tail):
        v = a * v + b * x
        res[k] = v
    out[w + 1 :] = res
    return out


def reflection_min_quantile(
    close: np.ndarray, var_per_bar: np.ndarray, horizon: int, prob: float
) -> np.ndarray:
    """``prob``-quantile of the lowest price over the next ``horizon`` bars, driftless Brownian.

    The log price is a Brownian motion without drift with variance ``var_per_bar`` per bar, so
    ``sigma = sqrt(var_per_bar)``. By the reflection principle its running minimum ``M`` over
    ``horizon`` bars satisfies, for ``m >= 0``,
    ``P(M <= log(close) - m) = 2 * Phi(-m / (sigma * sqrt(horizon)))``. Solving for the level
    hit with probability ``prob``:

    ``q = close * exp(sigma * sqrt(horizon) * Phi^{-1}(prob / 2))``

    (below ``close`` for every ``prob`` in (0, 1)). NaN where ``var_per_bar`` is NaN.
    """
    c = _as_1d("close", close)
    v = _as_1d("var_per_bar", var_per_bar)
    _same_length(close=c, var_per_bar=v)
    p = _prob(prob)
    if isinstance(horizon, bool) or horizon <= 0:
        raise InputError(f"horizon={horizon!r}; expected a number of bars > 0")
    if np.any(v < 0):
        raise InputError("var_per_bar: variances must be >= 0")
    z = NormalDist().inv_cdf(p / 2.0)
    return c * np.exp(np.sqrt(v) * math.sqrt(float(horizon)) * z)


def no_change_quantile(close: np.ndarray) -> np.ndarray:
    """The "price stays where it was" baseline: every quantile of the future low is ``close``."""
    return _as_1d("close", close).copy()


def _pairs(y: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ya, qa = _as_1d("y", y), _as_1d("q", q)
    _same_length(y=ya, q=qa)
    ok = ~(np.isnan(ya) | np.isnan(qa))
    return ya[ok], qa[ok]


def _pinball(u: np.ndarray, p: float) -> float:
    if u.size == 0:
        return float("nan")
    return float(np.mean(np.maximum(p * u, (p - 1.0) * u)))


def pinball_loss(y: np.ndarray, q: np.ndarray, prob: float) -> float:
    """Mean pinball (quantile) loss of quantile forecasts ``q`` of outcomes ``y``.

    ``L = mean(max(prob * (y - q), (prob - 1) * (y - q)))`` over the pairs where neither ``y``
    nor ``q`` is NaN (NaN when there is none). It is minimised in expectation by the true
    ``prob``-quantile; an outcome below the forecast costs ``(1 - prob) * (q - y)``, one above
    costs ``prob * (y - q)``. Units: those of ``y`` (USDT for prices).
    """
    ya, qa = _pairs(y, q)
    return _pinball(ya - qa, _prob(prob))


def pinball_loss_rel(y: np.ndarray, q: np.ndarray, prob: float, ref: np.ndarray) -> float:
    """:func:`pinball_loss` of the errors relative to a reference price: ``u = (y - q) / ref``.

    ``L = mean(max(prob * u, (prob - 1) * u))`` over the triples without NaN, so bars at
    different price levels weigh alike (a fraction of price; multiply by 1e4 for bp).
    """
    ya, qa, ra = _as_1d("y", y), _as_1d("q", q), _as_1d("ref", ref)
    _same_length(y=ya, q=qa, ref=ra)
    if np.any(ra[~np.isnan(ra)] <= 0):
        raise InputError("ref: reference prices must be > 0")
    ok = ~(np.isnan(ya) | np.isnan(qa) | np.isnan(ra))
    return _pinball((ya[ok] - qa[ok]) / ra[ok], _prob(prob))


def breach_rate(y: np.ndarray, q: np.ndarray) -> float:
    """Share of the pairs without NaN where the outcome fell below the forecast: ``mean(y < q)``.

    For a calibrated ``prob``-quantile forecast this is close to ``prob``. NaN when no pair is
    left.
    """
    ya, qa = _pairs(y, q)
    if ya.size == 0:
        return float("nan")
    return float(np.mean(ya < qa))
