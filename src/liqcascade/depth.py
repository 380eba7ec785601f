"""The depth walk of one side of the order book: the price move a market order of ``V`` base units
causes, and the volume a move absorbs. Every engine and every impact model calls these.

A depth curve is two arrays of equal length ``n >= 2``, the knots of a piecewise-linear curve:

* ``knots_volume``: cumulative base units absorbed (non-decreasing, ``knots_volume[0] = 0``);
* ``knots_move``: relative price move at those volumes (a fraction, non-decreasing,
  ``knots_move[0] = 0``).

No segment is flat in both. Between knots the curve is linear; beyond the last knot the last
segment's slope is extended. Conventions at the edges:

* move for a volume ``v``: ``inf{x : D(x) >= v}``, 0 for ``v <= 0``. A segment where depth does
  not grow is a jump in the move; a last segment without depth makes any larger volume an infinite
  move (the side is exhausted); a last segment without move (infinite depth) keeps the last move.
* volume for a move ``x``: ``sup{V : x(V) <= x}`` (the most a side absorbs before the move exceeds
  ``x``), 0 for ``x <= 0``; infinite beyond the last knot when the last segment has no move.

The impact models of :mod:`liqcascade.impact` (linear, square root, depth curve) are a kernel
spec ``(kind, knots_volume, knots_move, coef, scale)`` (``ImpactModel.kernel_spec()``, one
:data:`DepthSpec` value that the model operations take whole):
``KIND_LINEAR``: ``x = 0.01 v / coef`` (``coef`` = base units per 1 % move); ``KIND_SQRT``:
``x = coef sqrt(v / scale)`` (``coef = Y sigma_daily``, ``scale`` = daily volume in base units);
``KIND_CURVE``: the knots above. Formulas and units in docs/engine-static.md.

Each operation is one numba kernel on a scalar and one plain numpy twin on arrays, the same
arithmetic in the same order, so both give the same bits (``tests/test_one_core.py``):

==========================  ==================================  ========================================
operation                   kernel (numba, scalar)              twin (numpy, arrays)
==========================  ==================================  ========================================
curve: move for volume      :func:`curve_move_for_volume`       :func:`curve_move_for_volume_plain`
curve: volume for move      :func:`curve_volume_for_move`       :func:`curve_volume_for_move_plain`
model: move for volume      :func:`move_for_volume`             :func:`move_for_volume_plain`
model: volume for move      :func:`volume_for_move`             :func:`volume_for_move_plain`
==========================  ==================================  ========================================

:func:`segment_move` is the interpolation on one known segment, for callers that already know
where they are on the curve (the fill-price integrals of :mod:`liqcascade.markets`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from numba import njit

if TYPE_CHECKING:
    from liqcascade.impact import ImpactModel

__all__ = [
    "DepthSpec",
    "KIND_CURVE",
    "KIND_LINEAR",
    "KIND_SQRT",
    "curve_move_for_volume",
    "curve_move_for_volume_plain",
    "curve_volume_for_move",
    "curve_volume_for_move_plain",
    "depth_spec",
    "move_for_volume",
    "move_for_volume_plain",
    "segment_move",
    "volume_for_move",
    "volume_for_move_plain",
]

#: Kernel kinds of an impact model's spec (``ImpactModel.kernel_spec()``).
KIND_LINEAR = 0
KIND_CURVE = 1
KIND_SQRT = 2

#: An impact model's kernel spec ``(kind, knots_volume, knots_move, coef, scale)``: one value that
#: numba takes as a tuple argument, so a kernel receives a model as one parameter.
DepthSpec = tuple[int, np.ndarray, np.ndarray, float, float]


def depth_spec(model: ImpactModel) -> DepthSpec:
    """An impact model's :data:`DepthSpec` (``model.kernel_spec()``) in the types the kernels are
    compiled for: an ``int`` kind, C-contiguous float64 knots, float ``coef`` and ``scale``."""
    kind, knots_volume, knots_move, coef, scale = model.kernel_spec()
    return (
        int(kind),
        np.ascontiguousarray(knots_volume, dtype=np.float64),
        np.ascontiguousarray(knots_move, dtype=np.float64),
        float(coef),
        float(scale),
    )


# ---------------------------------------------------------------------------------------------
# numba kernels (scalar)
# ---------------------------------------------------------------------------------------------


@njit(cache=True, inline="always")
def segment_move(knots_volume: np.ndarray, knots_move: np.ndarray, k: int, v: float) -> float:
    """Move at volume ``v`` on the segment from knot ``k`` to knot ``k + 1`` (linear)."""
    return knots_move[k] + (v - knots_volume[k]) * (knots_move[k + 1] - knots_move[k]) / (
        knots_volume[k + 1] - knots_volume[k]
    )


@njit(cache=True)
def curve_move_for_volume(knots_volume: np.ndarray, knots_move: np.ndarray, v: float) -> float:
    """Relative move (fraction) after absorbing ``v`` base units (conventions in the module doc)."""
    if v <= 0.0:
        return 0.0
    last = knots_volume.shape[0] - 1
    k = int(np.searchsorted(knots_volume, v, side="left"))  # first knot with depth >= v (k >= 1)
    if k <= last:
        return segment_move(knots_volume, knots_move, k - 1, v)
    dm = knots_move[last] - knots_move[last - 1]
    if dm <= 0.0:
        return knots_move[last]
    slope = (knots_volume[last] - knots_volume[last - 1]) / dm  # base units per unit of move
    if slope > 0.0:
        return knots_move[last] + (v - knots_volume[last]) / slope
    return math.inf


@njit(cache=True)
def curve_volume_for_move(knots_volume: np.ndarray, knots_move: np.ndarray, x: float) -> float:
    """Base units absorbed before the move exceeds ``x`` (conventions in the module doc)."""
    if x <= 0.0:
        return 0.0
    last = knots_move.shape[0] - 1
    if x >= knots_move[last]:
        if x == knots_move[last]:
            return knots_volume[last]
        dm = knots_move[last] - knots_move[last - 1]
        if dm <= 0.0:
            return math.inf
        slope = (knots_volume[last] - knots_volume[last - 1]) / dm
        return knots_volume[last] + (x - knots_move[last]) * slope
    k = int(np.searchsorted(knots_move, x, side="right")) - 1  # last knot with move <= x
    slope = (knots_volume[k + 1] - knots_volume[k]) / (knots_move[k + 1] - knots_move[k])
    return slope * (x - knots_move[k]) + knots_volume[k]


@njit(cache=True)
def move_for_volume(spec: DepthSpec, v: float) -> float:
    """Relative move for ``v`` base units under an impact model's kernel spec."""
    kind, knots_volume, knots_move, coef, scale = spec
    if v <= 0.0:
        return 0.0
    if kind == KIND_LINEAR:
        return 0.01 * v / coef
    if kind == KIND_SQRT:
        return coef * math.sqrt(v / scale)
    return curve_move_for_volume(knots_volume, knots_move, v)


@njit(cache=True)
def volume_for_move(spec: DepthSpec, x: float) -> float:
    """Base units a relative move ``x`` absorbs under an impact model's kernel spec."""
    kind, knots_volume, knots_move, coef, scale = spec
    if x <= 0.0:
        return 0.0
    if kind == KIND_LINEAR:
        return x * coef / 0.01
    if kind == KIND_SQRT:
        r = x / coef
        return scale * (r * r)
    return curve_volume_for_move(knots_volume, knots_move, x)


# ---------------------------------------------------------------------------------------------
# plain twins (numpy, vectorised)
# ---------------------------------------------------------------------------------------------


def _plain_curve(
    knots_volume: np.ndarray, knots_move: np.ndarray, query: float | np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """A curve's knots and a query (volumes or moves) as float64 arrays, and the last knot's
    index."""
    kv = np.asarray(knots_volume, dtype=np.float64)
    kx = np.asarray(knots_move, dtype=np.float64)
    return kv, kx, np.asarray(query, dtype=np.float64), len(kv) - 1


def curve_move_for_volume_plain(
    knots_volume: np.ndarray, knots_move: np.ndarray, v: float | np.ndarray
) -> np.ndarray:
    """Twin of :func:`curve_move_for_volume` over an array of volumes (base units)."""
    kv, kx, v, last = _plain_curve(knots_volume, knots_move, v)
    k = np.searchsorted(kv, v, side="left")
    inside = k <= last
    k0 = np.clip(k, 1, last) - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        out = kx[k0] + (v - kv[k0]) * (kx[k0 + 1] - kx[k0]) / (kv[k0 + 1] - kv[k0])
        dm = kx[last] - kx[last - 1]
        if dm <= 0.0:
            tail = np.full(v.shape, kx[last])
        else:
            slope = (kv[last] - kv[last - 1]) / dm
            if slope > 0.0:
                tail = kx[last] + (v - kv[last]) / slope
            else:
                tail = np.full(v.shape, np.inf)
    out = np.where(inside, out, tail)
    return np.where(v <= 0.0, 0.0, out)


def curve_volume_for_move_plain(
    knots_volume: np.ndarray, knots_move: np.ndarray, x: float | np.ndarray
) -> np.ndarray:
    """Twin of :func:`curve_volume_for_move` over an array of moves (fractions)."""
    kv, kx, x, last = _plain_curve(knots_volume, knots_move, x)
    k = np.clip(np.searchsorted(kx, x, side="right") - 1, 0, last - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = (kv[k + 1] - kv[k]) / (kx[k + 1] - kx[k])
        out = slope * (x - kx[k]) + kv[k]
        dm = kx[last] - kx[last - 1]
        if dm <= 0.0:
            tail = np.full(x.shape, np.inf)
        else:
            tail = kv[last] + (x - kx[last]) * ((kv[last] - kv[last - 1]) / dm)
    out = np.where(x > kx[last], tail, out)
    out = np.where(x == kx[last], kv[last], out)
    return np.where(x <= 0.0, 0.0, out)


def move_for_volume_plain(spec: DepthSpec, v: float | np.ndarray) -> np.ndarray:
    """Twin of :func:`move_for_volume` over an array of volumes (base units)."""
    kind, knots_volume, knots_move, coef, scale = spec
    v = np.asarray(v, dtype=np.float64)
    if kind == KIND_LINEAR:
        out = 0.01 * v / coef
    elif kind == KIND_SQRT:
        with np.errstate(invalid="ignore"):
            out = coef * np.sqrt(v / scale)
    else:
        return curve_move_for_volume_plain(knots_volume, knots_move, v)
    return np.where(v <= 0.0, 0.0, out)


def volume_for_move_plain(spec: DepthSpec, x: float | np.ndarray) -> np.ndarray:
    """Twin of :func:`volume_for_move` over an array of moves (fractions)."""
    kind, knots_volume, knots_move, coef, scale = spec
    x = np.asarray(x, dtype=np.float64)
    if kind == KIND_LINEAR:
        out = x * coef / 0.01
    elif kind == KIND_SQRT:
        r = x / coef
        out = scale * (r * r)
    else:
        return curve_volume_for_move_plain(knots_volume, knots_move, x)
    return np.where(x <= 0.0, 0.0, out)
