"""Maintenance/initial margin, liquidation and bankruptcy prices, vectorised over numpy arrays.

Every function takes scalars or equal-length arrays (``side`` is +1 long / -1 short, or the
strings ``"long"``/``"short"``) and returns a numpy array (0-d for scalar inputs; use
``float(...)``). Formulas and sources: docs/venues.md.

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
is ``max_k P_k`` for a long and ``min_k P_k`` for a short. The numba kernel takes that max/min
directly (branch-free, in cache-sized chunks); its plain numpy twin starts in the entry tier and
re-solves in the tier found at the candidate price until stable. Tests check they agree.
``bybit`` (classic USDT isolated) values MM at entry:
``LP = EP - s*(M - (Q*EP*mmr - mmd))/Q`` with M = IM + extra margin.

A liquidation price <= 0 (a long that cannot be liquidated) is returned as NaN.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit, prange

from liqcascade.errors import InputError, RuleError
from liqcascade.venues.base import TierTable, VenueRules, require_positive

# The kernels below are parallel (numba prange). numba's 'workqueue' threading layer is
# fork-safe (the stress runner forks worker processes) but not thread-safe, so calls are
# serialised with this lock (the web server calls from several threads). See liqcascade/__init__.
_PARALLEL_LOCK = threading.Lock()

__all__ = [
    "PositionsAtRate",
    "as_side",
    "bankruptcy_price",
    "bankruptcy_price_one",
    "cross_liquidation_price",
    "formula_code",
    "initial_margin",
    "liquidation_price",
    "liquidation_price_at_rate",
    "liquidation_price_and_tier",
    "liquidation_price_one",
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
    flat = np.ascontiguousarray(n).reshape(-1)
    with _PARALLEL_LOCK:
        out, nbad = _mm_kernel(flat, t.floor_quote, t.mmr, t.cum_quote)
    if nbad:
        bad = int(np.argmin((flat >= 0) & np.isfinite(flat)))
        raise InputError(f"notional_quote must be >= 0 and finite, got {flat[bad]!r} (index {bad})")
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


@njit(cache=True, error_model="numpy", parallel=True)
def _liq_kernel(side, size, entry, margin, floors, mmr, cum, fee):  # pragma: no cover - numba
    """Liquidation price and tier, branch-free, in cache-sized chunks (SIMD-friendly).

    MM(N) = max_k (N*mmr_k - cum_k) (convex, continuous), so the price where equity meets MM is
    ``max_k P_k`` for a long and ``min_k P_k`` for a short, with
    ``P_k = (M + cum_k - s*Q*EP) / (Q*(mmr_k + fee - s))``; the tier is the one containing Q*P.
    Chunks are independent and run on all cores (numba prange).
    Returns (price, tier, number of invalid rows); callers locate and report invalid rows.
    """
    n = size.shape[0]
    nt = floors.shape[0]
    out = np.empty(n)
    tier = np.empty(n, dtype=np.int32)
    inv_long = 1.0 / (mmr + fee - 1.0)
    inv_short = 1.0 / (mmr + fee + 1.0)
    chunk = 256
    nchunks = (n + chunk - 1) // chunk
    bad = np.zeros(nchunks, dtype=np.int64)
    for c in prange(nchunks):
        start = c * chunk
        m = min(chunk, n - start)
        base = np.empty(chunk)
        sgn = np.empty(chunk)
        best = np.empty(chunk)
        nb = 0
        for j in range(m):
            i = start + j
            s = np.float64(side[i])
            q = size[i]
            ep = entry[i]
            mg = margin[i]
            ok = (q > 0.0) & (q < np.inf) & (ep > 0.0) & (ep < np.inf)
            ok = ok & ((s == 1.0) | (s == -1.0)) & (np.abs(mg) < np.inf)
            nb += 0 if ok else 1
            base[j] = mg - s * q * ep
            sgn[j] = s
            best[j] = -np.inf
        bad[c] = nb
        for k in range(nt):
            ck = cum[k]
            il = inv_long[k]
            ish = inv_short[k]
            for j in range(m):
                inv = il if sgn[j] > 0 else ish
                best[j] = max(best[j], sgn[j] * (base[j] + ck) * inv)
        for j in range(m):
            i = start + j
            q = size[i]
            p = sgn[j] * best[j] / q
            x = q * p
            kk = 0
            for k in range(1, nt):
                kk += 1 if floors[k] <= x else 0
            out[i] = p if p > 0 else np.nan
            tier[i] = kk
    return out, tier, bad.sum()


@njit(cache=True, error_model="numpy", parallel=True)
def _mm_kernel(notional, floors, mmr, cum):  # pragma: no cover - numba
    """MM = N*mmr_k - cum_k, k = number of floors above the first that are <= N (branch-free).

    Returns (mm, number of invalid rows).
    """
    n = notional.shape[0]
    nt = floors.shape[0]
    out = np.empty(n)
    nbad = 0
    for i in prange(n):
        x = notional[i]
        nbad += 0 if (x >= 0.0) & (x < np.inf) else 1
        k = 0
        for j in range(1, nt):
            k += 1 if floors[j] <= x else 0
        out[i] = x * mmr[k] - cum[k]
    return out, nbad


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


def _raise_first_bad(s: np.ndarray, q: np.ndarray, ep: np.ndarray, m: np.ndarray) -> None:
    """Raise InputError for the first invalid row (slow path, only after the kernel flagged one)."""
    for name, arr, ok, limit in (
        ("size_base", q, (q > 0) & np.isfinite(q), "> 0 and finite"),
        ("entry_price", ep, (ep > 0) & np.isfinite(ep), "> 0 and finite"),
        ("side", s, (s == 1) | (s == -1), "+1 or -1"),
        ("margin_quote", m, np.isfinite(m), "finite"),
    ):
        if not np.all(ok):
            idx = int(np.argmin(ok))
            raise InputError(f"{name} must be {limit}, got {arr[idx]!r} (index {idx})")
    raise InputError("invalid input")


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
        with _PARALLEL_LOCK:
            p, k, nbad = _liq_kernel(
                s, q, ep, m, t.floor_quote, t.mmr, t.cum_quote, rules.mm_fee_rate
            )
        if nbad:
            _raise_first_bad(s, q, ep, m)
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


@dataclass(frozen=True, kw_only=True)
class PositionsAtRate:
    """Positions with a *given* maintenance rate and amount (no tier lookup): the inputs of
    :func:`liquidation_price_at_rate`. Scalars or equal-length arrays, as everywhere in this
    module."""

    #: +1 long / -1 short (or ``"long"``/``"short"``)
    side: Any
    #: position size (base units, > 0)
    size_base: Any
    #: entry price (quote per base, > 0)
    entry_price: Any
    #: isolated margin (quote); for cross margin ``WB - TMM1 + UPNL1``
    margin_quote: Any
    #: maintenance margin rate (fraction)
    mmr: Any
    #: maintenance amount subtracted from ``notional * mmr`` (quote)
    cum_quote: Any = 0.0

    def bankruptcy_price(self) -> np.ndarray:
        """Price at which equity is zero, ``EP - s*M/Q`` (unmasked: it may be <= 0)."""
        s = as_side(self.side).astype(np.float64)
        q = np.asarray(self.size_base, dtype=np.float64)
        return (
            np.asarray(self.entry_price, dtype=np.float64)
            - s * np.asarray(self.margin_quote, dtype=np.float64) / q
        )


def liquidation_price_at_rate(
    positions: PositionsAtRate, fee_rate: Any = 0.0, *, nonpositive_as_nan: bool = True
) -> np.ndarray:
    """Liquidation price of ``positions`` at their given maintenance rate and amount.

    Binance one-way form (freqtrade ``dry_run_liquidation_price``):
    ``LP = (WB + cum - s*Q*EP) / (Q*(mmr + fee) - s*Q)``; with ``fee_rate`` the OKX/Gate
    taker term. For cross margin pass ``margin_quote = WB - TMM1 + UPNL1``. With
    ``nonpositive_as_nan=False`` a non-positive solution is returned as computed.

    >>> p = PositionsAtRate(side=1, size_base=1.0, entry_price=100.0, margin_quote=10.0, mmr=0.01)
    >>> round(float(liquidation_price_at_rate(p)), 6)  # (10 - 100) / (0.01 - 1)
    90.909091
    """
    s = as_side(positions.side).astype(np.float64)
    q = require_positive("size_base", positions.size_base)
    ep = require_positive("entry_price", positions.entry_price)
    m = np.asarray(positions.margin_quote, dtype=np.float64)
    r = np.asarray(positions.mmr, dtype=np.float64) + np.asarray(fee_rate, dtype=np.float64)
    p = (m + np.asarray(positions.cum_quote, dtype=np.float64) - s * q * ep) / (q * (r - s))
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


# ---------------------------------------------------------------------------------------------
# One position at a time, for other numba kernels (the cascade engines re-price a position after
# a partial liquidation or a funding payment). The same rule as ``_liq_kernel`` and the Bybit
# branch of :func:`liquidation_price_and_tier`, with the same operation order (tests check it
# against :func:`liquidation_price_and_tier` for every venue).
# ---------------------------------------------------------------------------------------------

#: ``formula_code`` values of :func:`liquidation_price_one`
FORMULA_TIERED = 0  # binance, hyperliquid, dydx, okx (with its fee term), generic
FORMULA_BYBIT = 1  # maintenance margin valued at entry


def formula_code(rules: VenueRules) -> int:
    """The :func:`liquidation_price_one` family code of ``rules.formula``."""
    return FORMULA_BYBIT if rules.formula == "bybit" else FORMULA_TIERED


@njit(cache=True, error_model="numpy")
def liquidation_price_one(s, q, ep, m, floors, mmr, cum, fee, formula_code):  # pragma: no cover
    """Isolated liquidation price of one position and its 0-based tier, NaN-free.

    ``s`` is +1/-1 (float), ``q`` size (base), ``ep`` entry price, ``m`` isolated margin (quote);
    ``floors``/``mmr``/``cum`` the venue's tier table, ``fee`` ``rules.mm_fee_rate``.
    Returns the raw solution (it may be <= 0: a long that cannot be liquidated); callers mask it.
    """
    nt = floors.shape[0]
    if formula_code == FORMULA_BYBIT:
        x = q * ep
        k = 0
        for j in range(1, nt):
            k += 1 if floors[j] <= x else 0
        mm = q * ep * mmr[k] - cum[k]
        return ep - s * (m - mm) / q, k
    base = m - s * q * ep
    best = -np.inf
    for j in range(nt):
        inv = 1.0 / (mmr[j] + fee - 1.0) if s > 0 else 1.0 / (mmr[j] + fee + 1.0)
        best = max(best, s * (base + cum[j]) * inv)
    p = s * best / q
    x = q * p
    k = 0
    for j in range(1, nt):
        k += 1 if floors[j] <= x else 0
    return p, k


@njit(cache=True, error_model="numpy")
def bankruptcy_price_one(s, q, ep, m):  # pragma: no cover - numba
    """Price at which one position's equity is zero, ``ep - s*m/q`` (as :func:`bankruptcy_price`,
    unmasked)."""
    return ep - s * m / q
