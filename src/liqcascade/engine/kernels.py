"""Numba kernels of the static cascade, each beside its plain twin.

The static index of one side of a book is a pair of arrays:

* ``keys``: ``d * liquidation_price`` of the positions that a move in direction ``d`` liquidates
  (``d = -1``: longs on a downward move; ``d = +1``: shorts on an upward move), sorted ascending;
  a position is liquidated at price ``P`` exactly when ``key <= d * P``
  (long: ``liquidation_price >= P``; short: ``liquidation_price <= P``).
* ``cum_size_base``: ``cum_size_base[k]`` = total size of the first ``k`` keys
  (``cum_size_base[0] = 0``), so the forced volume at ``P`` is ``cum_size_base[count(P)]``.

The impact model arrives as ``(kind, knots_volume, knots_move, coef, scale)`` from
``ImpactModel.kernel_spec()``; :func:`move_for_volume_py` evaluates the same arithmetic as the
models' numpy code, so kernel and oracle see bit-identical moves.

Twins: :func:`move_for_volume_nb` is :func:`move_for_volume_py` compiled; :func:`solve_many_nb`
(galloping search from the last count) has the plain twin :func:`solve_many_py` (a fresh
``numpy.searchsorted`` each round). ``tests/test_static_kernels.py`` checks they agree.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

KIND_LINEAR = 0
KIND_CURVE = 1
KIND_SQRT = 2


def move_for_volume_py(
    kind: int, knots_volume: np.ndarray, knots_move: np.ndarray, coef: float, scale: float, v: float
) -> float:
    """Relative move for ``v`` base units (plain twin; same formulas as liqcascade.impact)."""
    if v <= 0.0:
        return 0.0
    if kind == KIND_LINEAR:
        return 0.01 * v / coef
    if kind == KIND_SQRT:
        return coef * math.sqrt(v / scale)
    last = len(knots_volume) - 1
    for k in range(1, last + 1):
        if knots_volume[k] >= v:
            return knots_move[k - 1] + (v - knots_volume[k - 1]) * (
                knots_move[k] - knots_move[k - 1]
            ) / (knots_volume[k] - knots_volume[k - 1])
    slope = (knots_volume[last] - knots_volume[last - 1]) / (
        knots_move[last] - knots_move[last - 1]
    )
    if slope > 0.0:
        return knots_move[last] + (v - knots_volume[last]) / slope
    return math.inf


move_for_volume_nb = njit(cache=True)(move_for_volume_py)


@njit(cache=True)
def _count_from(keys: np.ndarray, q: float, k: int) -> int:
    """Number of keys <= q, given that the first k keys are <= q (galloping search)."""
    m = keys.shape[0]
    if k >= m or keys[k] > q:
        return k
    lo = k + 1
    step = 1
    hi = lo + step
    while hi <= m and keys[hi - 1] <= q:
        lo = hi
        step *= 2
        hi = lo + step
    b = m if hi > m else hi - 1
    a = lo
    while a < b:
        mid = (a + b) // 2
        if keys[mid] <= q:
            a = mid + 1
        else:
            b = mid
    return a


@njit(cache=True)
def solve_many_nb(
    keys: np.ndarray,
    cum_size_base: np.ndarray,
    kind: int,
    knots_volume: np.ndarray,
    knots_move: np.ndarray,
    coef: float,
    scale: float,
    shocked_prices: np.ndarray,
    direction: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Static cascade for many shocked prices ``P1`` on one side (numba).

    Returns ``(final_price, liquidated_count, rounds, exhausted)`` per ``P1``. ``direction`` is
    -1 (downward shock, longs) or +1 (upward shock, shorts).
    """
    n = shocked_prices.shape[0]
    final = np.empty(n)
    count = np.empty(n, dtype=np.int64)
    rounds = np.empty(n, dtype=np.int64)
    exhausted = np.zeros(n, dtype=np.bool_)
    d = float(direction)
    for i in range(n):
        p1 = shocked_prices[i]
        k = _count_from(keys, d * p1, 0)
        r = 0
        while True:
            r += 1
            x = move_for_volume_nb(kind, knots_volume, knots_move, coef, scale, cum_size_base[k])
            if x >= 1.0:
                p = 0.0 if direction < 0 else math.inf
                k = _count_from(keys, d * p, k)
                exhausted[i] = True
                break
            p = p1 * (1.0 - x) if direction < 0 else p1 * (1.0 + x)
            kn = _count_from(keys, d * p, k)
            if kn == k:
                break
            k = kn
        final[i] = p
        count[i] = k
        rounds[i] = r
    return final, count, rounds, exhausted


def solve_many_py(
    keys: np.ndarray,
    cum_size_base: np.ndarray,
    kind: int,
    knots_volume: np.ndarray,
    knots_move: np.ndarray,
    coef: float,
    scale: float,
    shocked_prices: np.ndarray,
    direction: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Plain twin of :func:`solve_many_nb` (binary search with numpy each round)."""
    n = len(shocked_prices)
    final = np.empty(n)
    count = np.empty(n, dtype=np.int64)
    rounds = np.empty(n, dtype=np.int64)
    exhausted = np.zeros(n, dtype=bool)
    d = float(direction)
    for i in range(n):
        p1 = float(shocked_prices[i])
        k = int(np.searchsorted(keys, d * p1, side="right"))
        r = 0
        while True:
            r += 1
            x = move_for_volume_py(
                kind, knots_volume, knots_move, coef, scale, float(cum_size_base[k])
            )
            if x >= 1.0:
                p = 0.0 if direction < 0 else math.inf
                k = int(np.searchsorted(keys, d * p, side="right"))
                exhausted[i] = True
                break
            p = p1 * (1.0 - x) if direction < 0 else p1 * (1.0 + x)
            kn = int(np.searchsorted(keys, d * p, side="right"))
            if kn == k:
                break
            k = kn
        final[i] = p
        count[i] = k
        rounds[i] = r
    return final, count, rounds, exhausted
