"""Input checks shared by the risk tools: sides, positive and finite numbers, barriers."""

from __future__ import annotations

import math

import numpy as np

from liqcascade.errors import InputError


def parse_side(side: int | str) -> int:
    """Return +1 for a long and -1 for a short; accepts 1/-1, "long"/"short", "buy"/"sell"."""
    if isinstance(side, str):
        s = side.strip().lower()
        if s in ("long", "buy", "+1", "1"):
            return 1
        if s in ("short", "sell", "-1"):
            return -1
        raise InputError(f"side={side!r}: expected 'long' or 'short' (or +1 / -1)")
    if isinstance(side, (int, np.integer)) and int(side) in (1, -1):
        return int(side)
    raise InputError(f"side={side!r}: expected +1 (long) or -1 (short)")


def _positive(name: str, value: float) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name}={value!r}: expected a number") from exc
    if not math.isfinite(v) or v <= 0.0:
        raise InputError(f"{name}={value!r}: expected a finite number > 0")
    return v


def _finite(name: str, value: float) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name}={value!r}: expected a number") from exc
    if not math.isfinite(v):
        raise InputError(f"{name}={value!r}: expected a finite number")
    return v


def _nonneg(name: str, value: float) -> float:
    v = _finite(name, value)
    if v < 0.0:
        raise InputError(f"{name}={value!r}: expected a number >= 0")
    return v


def _check_barrier(price: float, liq_price: float, side: int, what: str = "liq_price") -> None:
    """The liquidation price must lie below the price for a long and above it for a short."""
    if side == 1 and not liq_price < price:
        raise InputError(
            f"{what}={liq_price!r} is not below price={price!r}: a long is liquidated when the "
            "price falls to its liquidation price, so it must lie below the current price "
            "(a long at or below it is already liquidatable)"
        )
    if side == -1 and not liq_price > price:
        raise InputError(
            f"{what}={liq_price!r} is not above price={price!r}: a short is liquidated when the "
            "price rises to its liquidation price, so it must lie above the current price "
            "(a short at or above it is already liquidatable)"
        )
