"""Maintenance/initial margin, liquidation and bankruptcy prices, vectorised over numpy arrays.

Every function takes scalars or equal-length arrays (``side`` is +1 long / -1 short, or the
strings ``"long"``/``"short"``) and returns a numpy array (0-d for scalar inputs; use
``float(...)``). Formulas and sources: docs/venues.md and ../shared/reference/venues.md.

>>> from liqcascade.venues import load_venue
>>> from liqcascade import margin
>>> r = load_venue("binance_usdm", "BTCUSDT")
>>> round(float(margin.liquidation_price(r, 1, 0.85, 60_000.0, 2_550.0)), 6)
57228.915663
>>> float(margin.maintenance_margin(r, 100_000.0))
450.0

Liquidation-price families (``rules.formula``)
---------------------------------------------
``binance``, ``hyperliquid``, ``dydx`` and the generic venue solve
``M + s*Q*(P - EP) = Q*P*mmr_k - cum_k`` with k the tier of the notional *at P*
(Binance FAQ b3c689c1f50a44cabb3a84e663b81d93; Hyperliquid "Computing liquidation price"):

    P_k = (M + cum_k - s*Q*EP) / (Q*(mmr_k - s))

``okx`` (and Gate) add the taker fee to the maintenance rate: ``mmr_k + taker``.
Because MM(N) is convex and continuous, every tier's line lies below it, so the exact answer
is ``max_k P_k`` for a long and ``min_k P_k`` for a short; the kernels find it by starting at
the entry tier and re-solving in the tier found at the candidate price until it is stable.
``bybit`` (classic USDT isolated) values MM at entry:
``LP = EP - s*(M - (Q*EP*mmr - mmd))/Q`` with M = IM + extra margin.

A liquidation price <= 0 (a long that cannot be liquidated) is returned as NaN.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from liqcascade.errors import InputError, RuleError
from liqcascade.venues.base import TierTable, VenueRules, require_positive

__all__ = [
    "as_side",
    "bankruptcy_price",
    "cross_liquidation_price",
    "initial_margin",
    "liquidation_price",
    "liquidation_price_at_rate",
    "liquidation_price_and_tier",
    "maintenance_margin",
    "margin_ratio",
]


def as_side(side: Any) -> np.ndarray:
    """Side as int8 array (+1 long, -1 short); accepts ints, bools-as-ints and 'long'/'short'."""
    if isinstance(side, str):
        s = side.strip().lower()
        if s in ("long", "buy", "+1", "1"):
            return np.asarray(1, dtype=np.int8)
        if s in ("short", "sell", "-1"):
            return np.asarray(-1, dtype=np.int8)
        raise InputError(f"side={side!r}: expected 'long' or 'short' (+1/-1)")
    arr = np.asarray(side)
    if arr.dtype.kind in "US":
        return np.where(np.char.lower(arr.astype(str)) == "short", -1, 1).astype(np.int8)
    if not np.all((arr == 1) | (arr == -1)):
        raise InputError("side must be +1 (long) or -1 (short) everywhere")
    return arr.astype(np.int8)


def maintenance_margin(rules: VenueRules, notional_quote: Any) -> np.ndarray:
    """Maintenance margin ``MM = N*mmr_k - cum_k`` (quote), k the tier containing N.

    ``notional_quote`` = size_base * mark (oracle on dYdX); it must be >= 0.
    """
    n = np.asarray(notional_quote, dtype=np.float64)
    t = rules.tiers
    out, bad = _mm_kernel(np.ascontiguousarray(n).reshape(-1), t.floor_quote, t.mmr, t.cum_quote)
    if bad >= 0:
        raise InputError(
            f"notional_quote must be >= 0 and finite, got {n.reshape(-1)[bad]!r} (index {bad})"
        )
    return out.reshape(n.shape)


def maintenance_margin_numpy(rules: VenueRules, notional_quote: Any) -> np.ndarray:
    """Plain numpy twin of :func:`maintenance_margin` (searchsorted on tier floors)."""
    n = np.asarray(notional_quote, dtype=np.float64)
    if np.any(~(n >= 0)) or np.any(~np.isfinite(n)):
        raise InputError("notional_quote must be >= 0 and finite")
    return rules.tiers.maintenance_margin(n)


def initial_margin(rules: VenueRules, notional_quote: Any, leverage: Any) -> np.ndarray:
    """Initial margin ``IM = N/leverage`` (quote), after checking the leverage is allowed.

    Raises RuleError when leverage exceeds the tier's max leverage at that notional (Binance
    ``initialLeverage``; Hyperliquid tier max), or the notional exceeds the table's last cap.
    """
    n = require_positive("notional_quote", notional_quote)
    lev = require_positive("leverage", leverage)
    _check_leverage(rules, n, lev)
    return n / lev


def _check_leverage(rules: VenueRules, n: np.ndarray, lev: np.ndarray) -> None:
    t = rules.tiers
    k = t.index(n)
    cap = t.max_leverage[k]
    over_cap = n >= t.cap_quote[-1]
    if np.any(over_cap):
        i = int(np.argmax(np.broadcast_to(over_cap, n.shape).reshape(-1))) if n.ndim else 0
        nv = float(n.reshape(-1)[i]) if n.ndim else float(n)
        raise RuleError(
            f"{rules.venue}:{rules.symbol}: notional_quote={nv:,.2f} is at or above the last tier "
            f"cap {t.cap_quote[-1]:,.0f}"
        )
    bad = (lev > cap * (1 + 1e-12)) | (lev > rules.max_leverage_limit) | (lev < 1.0)
    if np.any(bad):
        b = np.broadcast_to(bad, np.broadcast(n, lev).shape).reshape(-1)
        i = int(np.argmax(b))
        lv = float(np.broadcast_to(lev, b.shape)[i])
        nv = float(np.broadcast_to(n, b.shape)[i])
        kk = int(np.broadcast_to(k, b.shape)[i])
        limit = min(float(t.max_leverage[kk]), rules.max_leverage_limit)
        raise RuleError(
            f"{rules.venue}:{rules.symbol}: leverage={lv:g} not allowed at notional_quote="
            f"{nv:,.2f} (tier {kk + 1}: 1 <= leverage <= {limit:g})"
        )


# ---------------------------------------------------------------------------------------------
# Liquidation price kernels: numba kernel and its plain numpy twin (tests check they agree).
# ---------------------------------------------------------------------------------------------


@njit(cache=True)
def _tier_of(floors: np.ndarray, x: float) -> int:  # pragma: no cover - numba
    """Last tier with floor <= x (0 below the first floor); linear scan for short tables."""
    nt = floors.shape[0]
    if nt <= 16:
        k = 0
        while k + 1 < nt and floors[k + 1] <= x:
            k += 1
        return k
    lo = 0
    hi = nt - 1
    if x < floors[0]:
        return 0
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if floors[mid] <= x:
            lo = mid
        else:
            hi = mid - 1
    return lo


@njit(cache=True)
def _liq_kernel(side, size, entry, margin, floors, mmr, cum, fee):  # pragma: no cover - numba
    """Per position: start in the entry tier, solve, move to the tier at the candidate price.

    Validation is fused in: returns (price, tier, first_bad_index or -1, bad_field_code).
    """
    n = size.shape[0]
    out = np.empty(n)
    tier = np.empty(n, dtype=np.int32)
    nt = floors.shape[0]
    for i in range(n):
        s = side[i]
        q = size[i]
        ep = entry[i]
        m = margin[i]
        if not (q > 0.0 and q < np.inf):
            return out, tier, i, 1
        if not (ep > 0.0 and ep < np.inf):
            return out, tier, i, 2
        if not (s == 1 or s == -1):
            return out, tier, i, 3
        if not (m > -np.inf and m < np.inf):
            return out, tier, i, 4
        k = _tier_of(floors, q * ep)
        p = np.nan
        for _ in range(nt + 1):
            p = (m + cum[k] - s * q * ep) / (q * (mmr[k] + fee - s))
            k2 = _tier_of(floors, q * p)
            if k2 == k:
                break
            k = k2
        out[i] = p if p > 0 else np.nan
        tier[i] = k
    return out, tier, -1, 0


@njit(cache=True)
def _mm_kernel(notional, floors, mmr, cum):  # pragma: no cover - numba
    n = notional.shape[0]
    out = np.empty(n)
    for i in range(n):
        x = notional[i]
        if not (x >= 0.0 and x < np.inf):
            return out, i
        k = _tier_of(floors, x)
        out[i] = x * mmr[k] - cum[k]
    return out, -1


_BAD_FIELD = {1: "size_base", 2: "entry_price", 3: "side", 4: "margin_quote"}


def _liq_numpy(side, size, entry, margin, tiers: TierTable, fee: float):
    """Plain numpy twin of ``_liq_kernel``: same iteration, vectorised with searchsorted."""
    k = tiers.index(size * entry)
    p = np.empty_like(size)
    active = np.ones(size.shape, dtype=bool)
    for _ in range(len(tiers) + 1):
        idx = np.nonzero(active)[0]
        if idx.size == 0:
            break
        ki = k[idx]
        pi = (margin[idx] + tiers.cum_quote[ki] - side[idx] * size[idx] * entry[idx]) / (
            size[idx] * (tiers.mmr[ki] + fee - side[idx])
        )
        p[idx] = pi
        k2 = tiers.index(size[idx] * pi)
        changed = k2 != ki
        k[idx] = k2
        active[idx] = changed
    return np.where(p > 0, p, np.nan), k


def _flat(x: Any, dtype: Any, shape: tuple[int, ...]) -> np.ndarray:
    a = np.asarray(x)
    if a.dtype != dtype:
        a = a.astype(dtype)
    if a.shape != shape:
        a = np.broadcast_to(a, shape)
    return np.ascontiguousarray(a).reshape(-1)


def _prep(rules: VenueRules, side: Any, size_base: Any, entry_price: Any, margin_quote: Any):
    """Broadcast to one shape; flat contiguous arrays (no copy when already float64/int8)."""
    s = as_side(side)
    shape = np.broadcast_shapes(
        np.shape(s), np.shape(size_base), np.shape(entry_price), np.shape(margin_quote)
    )
    return (
        shape,
        _flat(s, np.int8, shape),
        _flat(size_base, np.float64, shape),
        _flat(entry_price, np.float64, shape),
        _flat(margin_quote, np.float64, shape),
    )


def _raise_bad(idx: int, code: int, arrays: tuple[np.ndarray, ...]) -> None:
    name = _BAD_FIELD[code]
    val = arrays[code - 1][idx] if code != 3 else arrays[2][idx]
    limit = "finite" if code == 4 else "> 0 and finite" if code != 3 else "+1 or -1"
    raise InputError(f"{name} must be {limit}, got {val!r} (index {idx})")


def liquidation_price_and_tier(
    rules: VenueRules,
    side: Any,
    size_base: Any,
    entry_price: Any,
    margin_quote: Any,
    *,
    use_numba: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Isolated liquidation price (quote per base) and the 0-based tier at that price.

    ``margin_quote`` is the isolated margin (Binance isolated wallet balance, Hyperliquid
    isolated margin, Bybit IM + extra margin, OKX/Gate fixed margin). See the module docstring
    for each venue's formula.
    """
    shape, s, q, ep, m = _prep(rules, side, size_base, entry_price, margin_quote)
    t = rules.tiers
    if use_numba and rules.formula != "bybit":
        p, k, bad, code = _liq_kernel(
            s, q, ep, m, t.floor_quote, t.mmr, t.cum_quote, rules.mm_fee_rate
        )
        if bad >= 0:
            _raise_bad(int(bad), int(code), (q, ep, s, m))
        return p.reshape(shape), k.reshape(shape)
    require_positive("size_base", q)
    require_positive("entry_price", ep)
    if np.any(~np.isfinite(m)):
        raise InputError("margin_quote must be finite")
    if rules.formula == "bybit":
        k = t.index(q * ep)
        mm = q * ep * t.mmr[k] - t.cum_quote[k]
        p = ep - s * (m - mm) / q
        p = np.where(p > 0, p, np.nan)
    else:
        p, k = _liq_numpy(s.astype(np.float64), q, ep, m, t, rules.mm_fee_rate)
    return p.reshape(shape), k.reshape(shape)


def liquidation_price(
    rules: VenueRules, side: Any, size_base: Any, entry_price: Any, margin_quote: Any
) -> np.ndarray:
    """Isolated liquidation price (quote per base), tier chosen at the liquidation price.

    Vectorised; NaN where no positive liquidation price exists. Units: ``size_base`` in base
    units, prices in quote per base, ``margin_quote`` in quote currency.
    """
    return liquidation_price_and_tier(rules, side, size_base, entry_price, margin_quote)[0]


def liquidation_price_at_rate(
    side: Any,
    size_base: Any,
    entry_price: Any,
    margin_quote: Any,
    mmr: Any,
    cum_quote: Any = 0.0,
    fee_rate: Any = 0.0,
    *,
    nonpositive_as_nan: bool = True,
) -> np.ndarray:
    """Liquidation price with a *given* maintenance rate and amount (no tier lookup).

    Binance one-way form (freqtrade ``dry_run_liquidation_price``):
    ``LP = (WB + cum - s*Q*EP) / (Q*(mmr + fee) - s*Q)``; with ``fee_rate`` the OKX/Gate
    taker term. For cross margin pass ``margin_quote = WB - TMM1 + UPNL1``. With
    ``nonpositive_as_nan=False`` a non-positive solution is returned as computed.
    """
    s = as_side(side).astype(np.float64)
    q = require_positive("size_base", size_base)
    ep = require_positive("entry_price", entry_price)
    m = np.asarray(margin_quote, dtype=np.float64)
    r = np.asarray(mmr, dtype=np.float64) + np.asarray(fee_rate, dtype=np.float64)
    p = (m + np.asarray(cum_quote, dtype=np.float64) - s * q * ep) / (q * (r - s))
    return np.where(p > 0, p, np.nan) if nonpositive_as_nan else p


def cross_liquidation_price(
    rules: VenueRules,
    side: Any,
    size_base: Any,
    entry_price: Any,
    wallet_quote: Any,
    other_mm_quote: Any = 0.0,
    other_upnl_quote: Any = 0.0,
) -> np.ndarray:
    """Cross-margin liquidation price of one position, other positions held at their marks.

    Binance §1.3: ``LP = (WB - TMM1 + UPNL1 + cum - s*Q*EP)/(Q*mmr - s*Q)``; Hyperliquid cross
    is the same equation with ``WB`` = account value less the other positions' UPnL.
    ``other_mm_quote`` = TMM1 (maintenance margin of all other cross positions),
    ``other_upnl_quote`` = UPNL1 (their unrealised PnL).
    """
    eff = (
        np.asarray(wallet_quote, dtype=np.float64)
        - np.asarray(other_mm_quote, dtype=np.float64)
        + np.asarray(other_upnl_quote, dtype=np.float64)
    )
    return liquidation_price(rules, side, size_base, entry_price, eff)


def bankruptcy_price(
    rules: VenueRules, side: Any, size_base: Any, entry_price: Any, margin_quote: Any
) -> np.ndarray:
    """Price at which the position's equity is zero: ``EP - s*M/Q`` (quote per base).

    Linear perps on every venue here (Bybit: ``EP*(1 -/+ 1/lev)`` when M = IM). dYdX's
    integer bankruptcy price of a partial close is in ``venues.dydx_v4``. A long whose margin
    exceeds its notional has no positive bankruptcy price (NaN).
    """
    shape, s, q, ep, m = _prep(rules, side, size_base, entry_price, margin_quote)
    require_positive("size_base", q)
    require_positive("entry_price", ep)
    p = ep - s * m / q
    return np.where(p > 0, p, np.nan).reshape(shape)


def margin_ratio(
    rules: VenueRules,
    side: Any,
    size_base: Any,
    entry_price: Any,
    margin_quote: Any,
    mark_price: Any,
) -> np.ndarray:
    """Binance-style margin ratio ``MM / (margin + UPnL)`` at ``mark_price`` (>= 1: liquidatable).

    Infinite where the margin balance is <= 0.
    """
    s = as_side(side).astype(np.float64)
    q = require_positive("size_base", size_base)
    ep = require_positive("entry_price", entry_price)
    mk = require_positive("mark_price", mark_price)
    bal = np.asarray(margin_quote, dtype=np.float64) + s * q * (mk - ep)
    mm = maintenance_margin(rules, q * mk) + rules.mm_fee_rate * q * mk
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(bal > 0, mm / np.where(bal > 0, bal, 1.0), np.inf)
