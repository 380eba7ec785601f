"""Per-venue market state for the dynamic cascade: price, eaten depth, resilience, stress, arbitrage.

The order book of one venue is an impact curve ``x(V)`` (relative move after absorbing ``V`` base
units, from :mod:`liqcascade.impact`) tabulated once into an :class:`ImpactTable`. The market state
of a venue is

    price = anchor * (1 - x_bid(E_bid)) * (1 + x_ask(E_ask))

where ``E_bid`` / ``E_ask`` are the *eaten* curve volumes (base units divided by the depth scale) on
each side. Selling ``v`` base walks down the bid curve from ``E_bid`` to ``E_bid + v / s`` (``s`` =
depth scale, 1 = normal book, < 1 = market makers withdrawn) and fills at the exact volume-weighted
average price of that walk. With no recovery this reproduces the static mode exactly:
``P = P1 * (1 - x(V_total))``.

Resilience: eaten volume decays with a half-life, ``E <- E * 2**(-dt / half_life_s)``: the book refills
around the current price. ``permanent_fraction`` (phi) says how much of the price impact stays when
the depth refills: phi = 1 keeps the price where it is (only liquidity recovers), phi = 0 lets the
transient impact fully revert (Obizhaeva-Wang style). Stress: the depth scale falls with the recent
drawdown, ``s = max(floor, 1 - beta * drawdown_over_window)``.

Arbitrage between venues that list the same asset: each step the log gap between a venue and the
hub venue shrinks by ``1 - exp(-rate_per_s * dt)``; the arbitrageur sells on the dear venue and buys
on the cheap one, the same base volume on both, found by bisection; that volume eats depth on both.

The move at an eaten volume and its inverse are the depth-walk primitives of
:mod:`liqcascade.depth`. Every numba kernel here has a plain twin (``*_plain``) and the tests
check that they agree.
"""

from __future__ import annotations

import math
import types
from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit

from liqcascade.depth import (
    curve_move_for_volume,
    curve_move_for_volume_plain,
    curve_volume_for_move,
    curve_volume_for_move_plain,
    segment_move,
)
from liqcascade.errors import InputError

__all__ = [
    "ImpactTable",
    "VenueMarket",
    "arb_solve",
    "arb_volume",
    "arb_volume_plain",
    "curve_integral",
    "curve_integral_between",
    "curve_integral_between_plain",
    "curve_integral_plain",
    "execute_on_curve",
    "execute_on_curve_plain",
]

_GRID_POINTS = 4096


# --------------------------------------------------------------------------------------------
# curve primitives (numba) and their plain twins
# --------------------------------------------------------------------------------------------


@njit(cache=True)
def curve_integral(
    vol: np.ndarray, move: np.ndarray, cum: np.ndarray, e: float, sigma: float
) -> float:
    """Integral of the relative price ``1 - sigma*x(u)`` over u in [0, e].

    ``sigma`` = +1 for the bid side (sells; the integrand is floored at 0 where x >= 1 because the
    price cannot go below 0), -1 for the ask side (buys). ``cum`` is the table of the integral at
    the grid points for this sigma (see :meth:`ImpactTable.cum_for`).
    """
    n = vol.shape[0]
    if e <= 0.0:
        return 0.0
    if e >= vol[n - 1]:
        if sigma > 0.0:
            return cum[n - 1]  # grid ends at x = 1 on the bid side: nothing left to buy
        slope = (move[n - 1] - move[n - 2]) / (vol[n - 1] - vol[n - 2])
        d = e - vol[n - 1]
        return cum[n - 1] + d * (1.0 + move[n - 1]) + 0.5 * slope * d * d
    k = int(np.searchsorted(vol, e, side="right")) - 1
    x_e = segment_move(vol, move, k, e)
    return cum[k] + (e - vol[k]) * (1.0 - sigma * 0.5 * (move[k] + x_e))


def curve_integral_plain(
    vol: np.ndarray, move: np.ndarray, cum: np.ndarray, e: float, sigma: float
) -> float:
    """Plain twin of :func:`curve_integral`: adaptive quadrature of the interpolated curve."""
    from scipy.integrate import quad

    if e <= 0.0:
        return 0.0

    def integrand(u: float) -> float:
        x = float(curve_move_for_volume_plain(vol, move, u))
        if sigma > 0:
            return max(0.0, 1.0 - x)
        return 1.0 + x

    pts = vol[(vol > 0) & (vol < e)]
    kink = [vol[-1]] if 0.0 < vol[-1] < e else []  # the bid side's floor at x = 1
    total = 0.0
    edges = np.unique(np.concatenate([[0.0], pts[:: max(1, len(pts) // 40)], kink, [e]]))
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        total += quad(integrand, a, b, limit=200, epsabs=0.0, epsrel=1e-10)[0]
    return total


@njit(cache=True)
def curve_integral_between(
    vol: np.ndarray, move: np.ndarray, cum: np.ndarray, a: float, width: float, sigma: float
) -> float:
    """Integral of ``1 - sigma*x(u)`` over u in [a, a + width], summed piece by piece (no
    cancellation for short walks: a walk inside one segment is ``width`` times the mean of its
    ends; longer walks add the cumulative table ``cum`` in the middle)."""
    if width <= 0.0:
        return 0.0
    b = a + width
    n = vol.shape[0]
    last = vol[n - 1]
    total = 0.0
    if a < last:
        b_in = b if b < last else last
        k1 = int(np.searchsorted(vol, a, side="right")) - 1
        k2 = int(np.searchsorted(vol, b_in, side="right")) - 1
        if k1 > n - 2:
            k1 = n - 2
        if k2 > n - 2:
            k2 = n - 2
        if k1 < 0:
            k1 = 0
        xa = segment_move(vol, move, k1, a)
        xb = segment_move(vol, move, k2, b_in)
        if k1 == k2:
            w = width if b <= last else b_in - a
            total += w * (1.0 - sigma * 0.5 * (xa + xb))
        else:
            total += (vol[k1 + 1] - a) * (1.0 - sigma * 0.5 * (xa + move[k1 + 1]))
            total += cum[k2] - cum[k1 + 1]
            total += (b_in - vol[k2]) * (1.0 - sigma * 0.5 * (move[k2] + xb))
    if b > last and sigma < 0.0:
        slope = (move[n - 1] - move[n - 2]) / (vol[n - 1] - vol[n - 2])
        a2 = a if a > last else last
        total += (b - a2) * (1.0 + move[n - 1]) + 0.5 * slope * (
            (b - last) * (b - last) - (a2 - last) * (a2 - last)
        )
    return total


def curve_integral_between_plain(
    vol: np.ndarray, move: np.ndarray, cum: np.ndarray, a: float, width: float, sigma: float
) -> float:
    """Plain twin of :func:`curve_integral_between`: adaptive quadrature over [a, a + width]."""
    from scipy.integrate import quad

    if width <= 0.0:
        return 0.0
    b = a + width
    if b <= a:  # width below the float spacing at a: the integrand is constant there
        x = float(curve_move_for_volume_plain(vol, move, a))
        return width * (max(0.0, 1.0 - x) if sigma > 0 else 1.0 + x)

    def integrand(u: float) -> float:
        x = float(curve_move_for_volume_plain(vol, move, u))
        return max(0.0, 1.0 - x) if sigma > 0 else 1.0 + x

    inner = vol[(vol > a) & (vol < b)]
    kink = [vol[-1]] if a < vol[-1] < b else []  # the bid side's floor at x = 1
    edges = np.unique(np.concatenate([[a], inner[:: max(1, len(inner) // 40)], kink, [b]]))
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        total += quad(integrand, lo, hi, limit=200, epsabs=0.0, epsrel=1e-10)[0]
    return total * (width / (b - a))  # the float interval [a, b] is not exactly ``width`` wide


def _execute_on_curve_py(
    vol: np.ndarray,
    move: np.ndarray,
    cum: np.ndarray,
    sigma: float,
    anchor: float,
    eaten: float,
    scale: float,
    qty_base: float,
    limit_price: float,
) -> tuple[float, float, float]:
    """Walk one side of the book with ``qty_base`` (a sell if sigma=+1, a buy if sigma=-1).

    ``anchor`` is the price at zero eaten volume on this side (the other side's factor included),
    ``eaten`` the curve volume already eaten, ``scale`` the depth scale. ``limit_price`` <= 0 means a
    market order; otherwise the walk stops where the price reaches the limit (an IOC limit).
    Returns (filled_base, quote_amount, new_eaten). On the bid side, volume beyond the exhausted
    book (x >= 1) fills at price 0 (the static mode's ``book_exhausted``).
    """
    if qty_base <= 0.0:
        return 0.0, 0.0, eaten
    if anchor <= 0.0:  # the other side is exhausted: the price is 0, everything trades at 0
        return qty_base, 0.0, eaten
    u = qty_base / scale
    if limit_price > 0.0:
        if sigma > 0.0:
            x_lim = 1.0 - limit_price / anchor
        else:
            x_lim = limit_price / anchor - 1.0
        if x_lim <= 0.0:
            return 0.0, 0.0, eaten
        e_lim = _volume_fn(vol, move, x_lim)
        room = e_lim - eaten
        if room <= 0.0:
            return 0.0, 0.0, eaten
        if room < u:
            u = room
    new_e = eaten + u
    quote = anchor * scale * _integral_between_fn(vol, move, cum, eaten, u, sigma)
    if quote < 0.0:
        quote = 0.0
    return u * scale, quote, new_e


def _volume_for_move_plain(vol: np.ndarray, move: np.ndarray, x: float) -> float:
    return float(curve_volume_for_move_plain(vol, move, x))


_volume_fn = curve_volume_for_move
_integral_between_fn = curve_integral_between
#: The compiled walk (see ``_execute_on_curve_py`` for its arguments).
execute_on_curve = njit(cache=True)(_execute_on_curve_py)
#: Its plain twin: the same code run by the interpreter with the plain primitives (the depth
#: walk's plain inverse and the quadrature integral :func:`curve_integral_between_plain`).
execute_on_curve_plain = types.FunctionType(
    _execute_on_curve_py.__code__,
    {
        **globals(),
        "_volume_fn": _volume_for_move_plain,
        "_integral_between_fn": curve_integral_between_plain,
    },
    "execute_on_curve_plain",
)
execute_on_curve_plain.__doc__ = (
    "Plain twin of :func:`execute_on_curve` (plain inverse, quadrature integral)."
)


# --------------------------------------------------------------------------------------------
# tabulated impact curve
# --------------------------------------------------------------------------------------------


def _eval_move(impact: Any, volumes: np.ndarray) -> np.ndarray:
    try:
        out = np.asarray(impact.move_for_volume(volumes), dtype=np.float64)
        if out.shape == volumes.shape:
            return out
    except (TypeError, ValueError):
        pass
    return np.array([float(impact.move_for_volume(float(v))) for v in volumes], dtype=np.float64)


@dataclass(frozen=True)
class ImpactTable:
    """An impact curve ``x(V)`` tabulated on a dense grid (base units -> relative move).

    The grid runs from 0 to the volume that exhausts the bid side (x = 1), geometric near 0 and
    uniform beyond so that both small and large walks are accurate; between points x is linear
    (exact for ``linear`` and for the piecewise-linear ``depth`` curve at its knots), beyond the last
    point the last slope is extended (ask side only: buys have no exhaustion).
    """

    volume_base: np.ndarray
    move: np.ndarray
    cum_bid: np.ndarray
    cum_ask: np.ndarray

    @classmethod
    def from_arrays(cls, volume_base: np.ndarray, move: np.ndarray) -> ImpactTable:
        """Build from a monotone grid (``volume_base[0] == 0``, ``move[0] == 0``)."""
        v = np.ascontiguousarray(volume_base, dtype=np.float64)
        x = np.ascontiguousarray(move, dtype=np.float64)
        if v.ndim != 1 or v.shape != x.shape or len(v) < 2:
            raise InputError(
                "impact table: volume_base and move must be 1-D arrays of equal length >= 2"
            )
        if v[0] != 0.0 or x[0] != 0.0:
            raise InputError("impact table: the grid must start at volume 0 with move 0")
        if np.any(np.diff(v) <= 0) or np.any(np.diff(x) < 0) or not np.all(np.isfinite(x)):
            raise InputError(
                "impact table: volume_base must be strictly increasing and move non-decreasing and finite"
            )
        dv = np.diff(v)
        mid = 0.5 * (x[1:] + x[:-1])
        cum_bid = np.concatenate([[0.0], np.cumsum(dv * np.maximum(0.0, 1.0 - mid))])
        cum_ask = np.concatenate([[0.0], np.cumsum(dv * (1.0 + mid))])
        return cls(v, x, cum_bid, cum_ask)

    @classmethod
    def from_impact(cls, impact: Any, points: int = _GRID_POINTS) -> ImpactTable:
        """Tabulate any model with ``move_for_volume(volume_base) -> x`` (liqcascade.impact)."""
        if not hasattr(impact, "move_for_volume"):
            raise InputError(
                f"impact: expected an impact model with move_for_volume(), got {type(impact).__name__}"
            )
        v_max = None
        if hasattr(impact, "volume_for_move"):
            try:
                v_max = float(np.asarray(impact.volume_for_move(1.0)).reshape(-1)[0])
            except (TypeError, ValueError, ZeroDivisionError):
                v_max = None
        if v_max is None or not math.isfinite(v_max) or v_max <= 0:
            v_max = 1.0
            for _ in range(200):
                if float(_eval_move(impact, np.array([v_max]))[0]) >= 1.0:
                    break
                v_max *= 2.0
            else:
                raise InputError("impact: the model never reaches a 100% move; cannot tabulate it")
        geo = np.geomspace(v_max * 1e-9, v_max, points // 2)
        lin = np.linspace(0.0, v_max, points // 2 + 1)
        v = np.unique(np.concatenate([[0.0], geo, lin]))
        x = _eval_move(impact, v)
        x[0] = 0.0
        x = np.maximum.accumulate(np.maximum(x, 0.0))
        # make the last point exactly x = 1 so the bid-side integral floors there
        if x[-1] > 1.0:
            k = int(np.searchsorted(x, 1.0))
            v1 = v[k - 1] + (1.0 - x[k - 1]) / (x[k] - x[k - 1]) * (v[k] - v[k - 1])
            v = np.concatenate([v[:k], [v1]])
            x = np.concatenate([x[:k], [1.0]])
        # strictly increasing volume grid after unique()
        return cls.from_arrays(v, x)

    def cum_for(self, sigma: float) -> np.ndarray:
        """Cumulative integral table for the bid (sigma=+1) or ask (sigma=-1) side."""
        return self.cum_bid if sigma > 0 else self.cum_ask

    @property
    def exhaustion_volume_base(self) -> float:
        """Curve volume at which the bid side is exhausted (x = 1)."""
        return float(self.volume_base[-1]) if self.move[-1] >= 1.0 else math.inf


# --------------------------------------------------------------------------------------------
# per-venue market state
# --------------------------------------------------------------------------------------------


class VenueMarket:
    """Mutable market state of one venue (price, eaten depth both sides, depth scale).

    Units: prices in quote per base; ``eaten_*`` in curve base units (base / depth scale).
    """

    def __init__(
        self,
        name: str,
        initial_price: float,
        bid: ImpactTable,
        ask: ImpactTable | None = None,
        *,
        resilience_half_life_s: float = 60.0,
        permanent_fraction: float = 1.0,
        stress_beta: float = 0.0,
        stress_floor: float = 0.2,
        stress_window_s: float = 60.0,
    ) -> None:
        if not (initial_price > 0 and math.isfinite(initial_price)):
            raise InputError(f"market {name}: initial_price must be > 0, got {initial_price}")
        if not resilience_half_life_s > 0:
            raise InputError(
                f"market {name}: resilience_half_life_s must be > 0 (use inf for no recovery)"
            )
        if not 0.0 <= permanent_fraction <= 1.0:
            raise InputError(f"market {name}: permanent_fraction must be in [0, 1]")
        if not 0.0 < stress_floor <= 1.0 or stress_beta < 0:
            raise InputError(f"market {name}: stress_floor must be in (0, 1] and stress_beta >= 0")
        self.name = name
        self.bid = bid
        self.ask = ask if ask is not None else bid
        self.anchor = float(initial_price)
        self.eaten_bid = 0.0
        self.eaten_ask = 0.0
        self.scale = 1.0
        self.half_life_s = float(resilience_half_life_s)
        self.permanent_fraction = float(permanent_fraction)
        self.stress_beta = float(stress_beta)
        self.stress_floor = float(stress_floor)
        self.stress_window_s = float(stress_window_s)
        self.exhausted = False
        self._hist: list[float] = [float(initial_price)]

    # -- price ---------------------------------------------------------------------------------
    def _fb(self, e: float) -> float:
        return max(0.0, 1.0 - curve_move_for_volume(self.bid.volume_base, self.bid.move, e))

    def _fa(self, e: float) -> float:
        return 1.0 + curve_move_for_volume(self.ask.volume_base, self.ask.move, e)

    @property
    def price(self) -> float:
        """Current venue price (quote per base)."""
        return self.anchor * self._fb(self.eaten_bid) * self._fa(self.eaten_ask)

    def side_anchor(self, sigma: float) -> float:
        """Price at zero eaten volume on the bid (sigma=+1) or ask (sigma=-1) side."""
        if sigma > 0:
            return self.anchor * self._fa(self.eaten_ask)
        return self.anchor * self._fb(self.eaten_bid)

    def table(self, sigma: float) -> ImpactTable:
        return self.bid if sigma > 0 else self.ask

    def eaten(self, sigma: float) -> float:
        """Curve volume eaten on the bid (sigma=+1) or ask (sigma=-1) side."""
        return self.eaten_bid if sigma > 0 else self.eaten_ask

    def set_eaten(self, sigma: float, eaten: float) -> None:
        """Store the eaten curve volume of one side after a walk; a bid side eaten to its last
        knot marks the book exhausted."""
        if sigma > 0:
            self.eaten_bid = eaten
            if eaten >= self.bid.exhaustion_volume_base:
                self.exhausted = True
        else:
            self.eaten_ask = eaten

    # -- dynamics ------------------------------------------------------------------------------
    def apply_return(self, rel_return: float) -> None:
        """Exogenous move of the fundamental price: anchor *= 1 + rel_return."""
        if rel_return <= -1.0:
            raise InputError(
                f"market {self.name}: an exogenous return must be > -1, got {rel_return}"
            )
        self.anchor *= 1.0 + rel_return

    def recover(self, dt_s: float) -> None:
        """Depth refills with the half-life; a fraction (1 - phi) of the impact reverts."""
        if not math.isfinite(self.half_life_s) or (self.eaten_bid == 0.0 and self.eaten_ask == 0.0):
            return
        p_old = self.price
        d = 0.5 ** (dt_s / self.half_life_s)
        self.eaten_bid *= d
        self.eaten_ask *= d
        f = self._fb(self.eaten_bid) * self._fa(self.eaten_ask)
        if f <= 0.0 or p_old <= 0.0:
            return
        p_full = self.anchor * f
        p_new = p_old + (1.0 - self.permanent_fraction) * (p_full - p_old)
        self.anchor = p_new / f

    def update_stress(self, step: int, dt_s: float) -> None:
        """Depth scale from the drawdown (or run-up) over the stress window."""
        p = self.price
        self._hist.append(p)
        if self.stress_beta == 0.0:
            # No stress rule: the base scale is 1 every step, so an external per-step depth
            # multiplier (depth_scale_path) applies to it and never compounds across steps.
            self.scale = 1.0
            return
        w = max(1, int(round(self.stress_window_s / dt_s)))
        window = self._hist[-(w + 1) :]
        hi, lo = max(window), min(window)
        move = 0.0 if hi <= 0 else (hi - lo) / hi
        self.scale = max(self.stress_floor, 1.0 - self.stress_beta * move)

    def execute(
        self, sigma: float, qty_base: float, limit_price: float = 0.0
    ) -> tuple[float, float]:
        """Send a sell (sigma=+1) or buy (sigma=-1) into the book. Returns (filled_base, quote)."""
        t = self.table(sigma)
        filled, quote, new_e = execute_on_curve(
            t.volume_base,
            t.move,
            t.cum_for(sigma),
            float(sigma),
            self.side_anchor(sigma),
            self.eaten(sigma),
            self.scale,
            float(qty_base),
            float(limit_price),
        )
        self.set_eaten(sigma, new_e)
        return filled, quote


@njit(cache=True)
def _side_price_after(vol, move, cum, sigma, anchor, eaten, scale, qty):
    _, _, new_e = execute_on_curve(vol, move, cum, sigma, anchor, eaten, scale, qty, 0.0)
    x = curve_move_for_volume(vol, move, new_e)
    if sigma > 0.0:
        f = 1.0 - x
        return anchor * f if f > 0.0 else 0.0
    return anchor * (1.0 + x)


@njit(cache=True)
def arb_solve(
    vol_d,
    move_d,
    cum_d,
    anchor_d,
    eaten_d,
    scale_d,
    vol_c,
    move_c,
    cum_c,
    anchor_c,
    eaten_c,
    scale_c,
    target_log_gap,
):
    """Numba kernel: base volume q such that log(P_dear(q) / P_cheap(q)) = target (bisection);
    the dear venue's bid side absorbs a sell of q, the cheap venue's ask side a buy of q."""
    hi = 1e-12 + (vol_d[1] + vol_c[1]) * scale_d
    for _ in range(200):
        pd = _side_price_after(vol_d, move_d, cum_d, 1.0, anchor_d, eaten_d, scale_d, hi)
        pc = _side_price_after(vol_c, move_c, cum_c, -1.0, anchor_c, eaten_c, scale_c, hi)
        if pd <= 0.0 or np.log(pd / pc) <= target_log_gap:
            break
        hi *= 2.0
    lo = 0.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        pd = _side_price_after(vol_d, move_d, cum_d, 1.0, anchor_d, eaten_d, scale_d, mid)
        pc = _side_price_after(vol_c, move_c, cum_c, -1.0, anchor_c, eaten_c, scale_c, mid)
        if pd > 0.0 and np.log(pd / pc) > target_log_gap:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def _after_trade_price(m: VenueMarket, sigma: float, qty: float) -> float:
    """Price after walking ``qty`` on one side, without changing the market (plain twin: only
    the eaten volume matters, ``anchor * (1 -/+ x(E + qty/scale))``)."""
    t = m.table(sigma)
    x = float(curve_move_for_volume_plain(t.volume_base, t.move, m.eaten(sigma) + qty / m.scale))
    a = m.side_anchor(sigma)
    return a * max(0.0, 1.0 - x) if sigma > 0 else a * (1.0 + x)


def arb_volume_plain(dear: VenueMarket, cheap: VenueMarket, keep_fraction: float) -> float:
    """Plain twin of :func:`arb_volume` (plain primitives, Python bisection)."""
    p_d, p_c = dear.price, cheap.price
    if p_d <= p_c or p_c <= 0:
        return 0.0
    target = keep_fraction * math.log(p_d / p_c)

    def gap(q: float) -> float:
        pd = _after_trade_price(dear, 1.0, q)
        pc = _after_trade_price(cheap, -1.0, q)
        if pd <= 0.0:
            return -math.inf
        return math.log(pd / pc)

    hi = 1e-12 + (dear.bid.volume_base[1] + cheap.ask.volume_base[1]) * dear.scale
    while gap(hi) > target:
        hi *= 2.0
    lo = 0.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if gap(mid) > target:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def arb_volume(dear: VenueMarket, cheap: VenueMarket, keep_fraction: float) -> float:
    """Base volume an arbitrageur sells on ``dear`` and buys on ``cheap`` so that the log price gap
    shrinks to ``keep_fraction`` of itself (both prices move along their own curves)."""
    p_d, p_c = dear.price, cheap.price
    if p_c <= 0 or p_d <= p_c * (1.0 + 1e-12):
        return 0.0
    target = keep_fraction * math.log(p_d / p_c)
    tb, ta = dear.bid, cheap.ask
    return float(
        arb_solve(
            tb.volume_base,
            tb.move,
            tb.cum_bid,
            dear.side_anchor(1.0),
            dear.eaten_bid,
            dear.scale,
            ta.volume_base,
            ta.move,
            ta.cum_ask,
            cheap.side_anchor(-1.0),
            cheap.eaten_ask,
            cheap.scale,
            target,
        )
    )
