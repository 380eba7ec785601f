"""Numba kernels of the cascade engines, each beside its plain twin.

Trigger crossing (every engine): the triggers of one venue and side are kept as ``keys``, sorted
ascending, with ``key = d * liquidation_price`` for the positions a move in direction ``d``
liquidates (``d = -1``: longs on a downward move; ``d = +1``: shorts on an upward move). A
position is crossed at price ``P`` exactly when ``key <= d * P`` (long: ``liquidation_price >=
P``; short: ``liquidation_price <= P``), so the crossed positions are always a prefix of the keys
and :func:`crossed_count` (galloping search from the last count) says how long it is; its plain
twin :func:`crossed_count_plain` is a fresh ``numpy.searchsorted``. The static engine, the stress
path kernel (:mod:`liqcascade.scenarios.cascade`) and the dynamic engine's trigger queues
(:mod:`liqcascade.engine.dyn_state`) all count with it.

The static index of one side of a book adds ``cum_size_base``: ``cum_size_base[k]`` = total size
of the first ``k`` keys (``cum_size_base[0] = 0``), so the forced volume at ``P`` is
``cum_size_base[count(P)]``. The impact model arrives as one ``spec`` value, ``(kind, knots_volume,
knots_move, coef, scale)`` from :func:`liqcascade.depth.depth_spec`, and is evaluated by
:func:`liqcascade.depth.move_for_volume`
(the plain twin by :func:`liqcascade.depth.move_for_volume_plain`, the models' own arithmetic).

Twins: :func:`solve_many_nb` (compiled) has the plain twin :func:`solve_many_py` (the same code
interpreted, calling the plain twins of the count and of the depth walk).
``tests/test_static_kernels.py`` and ``tests/test_one_core.py`` check they agree.
"""

from __future__ import annotations

import math
import types

import numpy as np
from numba import njit

from liqcascade.depth import DepthSpec, move_for_volume, move_for_volume_plain

__all__ = ["crossed_count", "crossed_count_plain", "solve_many_nb", "solve_many_py"]


@njit(cache=True)
def crossed_count(keys: np.ndarray, lo: int, hi: int, k: int, q: float) -> int:
    """Number of ``keys[lo:hi]`` (ascending) that are ``<= q``, given the first ``k`` are.

    Galloping search from ``k``: O(log of the number newly crossed). A ``q`` below the keys
    already crossed leaves the count at ``k`` (a count never goes back).
    """
    m = hi - lo
    if k >= m or not keys[lo + k] <= q:
        return k
    a = k + 1
    step = 1
    b = a + step
    while b <= m and keys[lo + b - 1] <= q:
        a = b
        step *= 2
        b = a + step
    b = m if b > m else b - 1
    while a < b:
        mid = (a + b) // 2
        if keys[lo + mid] <= q:
            a = mid + 1
        else:
            b = mid
    return a


def crossed_count_plain(keys: np.ndarray, lo: int, hi: int, k: int, q: float) -> int:
    """Plain twin of :func:`crossed_count` (``numpy.searchsorted`` over the whole block)."""
    return max(int(k), int(np.searchsorted(keys[lo:hi], q, side="right")))


def _move_plain(spec: DepthSpec, v: float) -> float:
    return float(move_for_volume_plain(spec, v))


def _solve_many(
    keys: np.ndarray,
    cum_size_base: np.ndarray,
    spec: DepthSpec,
    shocked_prices: np.ndarray,
    direction: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Static cascade for many shocked prices ``P1`` on one side, under the impact model's
    kernel spec ``spec`` (:func:`liqcascade.depth.depth_spec`).

    Returns ``(final_price, liquidated_count, rounds, exhausted)`` per ``P1``. ``direction`` is
    -1 (downward shock, longs) or +1 (upward shock, shorts).
    """
    n = shocked_prices.shape[0]
    m = keys.shape[0]
    final = np.empty(n)
    count = np.empty(n, dtype=np.int64)
    rounds = np.empty(n, dtype=np.int64)
    exhausted = np.zeros(n, dtype=np.bool_)
    d = float(direction)
    for i in range(n):
        p1 = shocked_prices[i]
        k = _count_fn(keys, 0, m, 0, d * p1)
        r = 0
        while True:
            r += 1
            x = _move_fn(spec, cum_size_base[k])
            if x >= 1.0:
                p = 0.0 if direction < 0 else math.inf
                k = _count_fn(keys, 0, m, k, d * p)
                exhausted[i] = True
                break
            p = p1 * (1.0 - x) if direction < 0 else p1 * (1.0 + x)
            kn = _count_fn(keys, 0, m, k, d * p)
            if kn == k:
                break
            k = kn
        final[i] = p
        count[i] = k
        rounds[i] = r
    return final, count, rounds, exhausted


_count_fn = crossed_count
_move_fn = move_for_volume
#: The compiled static cascade (see ``_solve_many``).
solve_many_nb = njit(cache=True)(_solve_many)
#: Its plain twin: the same code run by the interpreter, with the plain twins of the trigger count
#: (:func:`crossed_count_plain`) and of the depth walk (``liqcascade.depth.move_for_volume_plain``).
solve_many_py = types.FunctionType(
    _solve_many.__code__,
    {**globals(), "_count_fn": crossed_count_plain, "_move_fn": _move_plain},
    "solve_many_py",
)
solve_many_py.__doc__ = _solve_many.__doc__
