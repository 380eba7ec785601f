"""Auto-deleveraging step of the dynamic cascade: bankrupt positions closed against winners.

The allocation itself (who is hit, at what price) is :func:`liqcascade.adl.allocate`; this module
applies it to the run's positions and writes the ledger rows of losers (kind 3) and winners
(kind 4). Quantity no winner takes goes to the book at the venue's price (last resort).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from liqcascade.adl import allocate
from liqcascade.funds import empty_chunk

if TYPE_CHECKING:
    from liqcascade.engine.dyn_state import PositionState, VenueState

__all__ = ["settle_adl"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(slots=True, frozen=True)
class _Losers:
    """The bankrupt positions of one side and what they leave behind (arrays per loser)."""

    pos: IntArray
    side: int
    qty_base: FloatArray
    margin_quote: FloatArray
    entry_price: FloatArray
    close_price: FloatArray  # each loser's own close price (its bankruptcy or previous mark)
    ref_price: float  # the venue price now
    needed_quote: FloatArray  # deficit at the reference price


@dataclass(slots=True, frozen=True)
class _Match:
    """Winners hit by ADL, and the unmatched rest sent to the book."""

    winner: IntArray
    qty_base: FloatArray
    price: FloatArray
    phi: float  # matched share of the losers' quantity
    close_shift: float  # matched VWAP minus the losers' VWAP (clamp shortfall)
    book_price: float  # VWAP of the unmatched rest in the book (ref price if none)


def settle_adl(
    pos: PositionState,
    vs: VenueState,
    pend: IntArray,
    xprice: FloatArray,
    s_l: int,
    t: int,
    rng: np.random.Generator,
    counterparties: IntArray,
) -> tuple[float, dict[str, np.ndarray]]:
    """Settle the bankrupt positions ``pend`` of side ``s_l`` against winners (see adl.py).

    ``counterparties`` are the venue's positions of the other side. Returns the ADL notional
    (quote, winners' quantity at their close price) and the ledger chunk.
    """
    R = vs.market.price
    q_k = pos.size_base[pend].copy()
    M_k = pos.margin_quote[pend].copy()
    E_k = pos.entry_price[pend]
    v_ref = M_k + s_l * q_k * (R - E_k)
    lo = _Losers(pend, s_l, q_k, M_k, E_k, xprice, R, np.maximum(0.0, -v_ref))
    match = _match(pos, vs, lo, rng, counterparties)
    ch = empty_chunk(len(pend) + len(match.winner))
    ch["step"][:] = t
    ch["venue_code"][:] = vs.code
    _loser_rows(ch, pos, lo, match)
    haircut = _winner_rows(ch, pos, lo, match)
    # losers are gone
    pos.size_base[pend] = 0.0
    pos.margin_quote[pend] = 0.0
    pos.active[pend] = False
    adl_notional = float(np.dot(match.qty_base, match.price))
    st = vs.adl_stats
    st[0] += adl_notional
    st[1] += float(haircut.sum())
    st[2] += float(lo.needed_quote.sum())
    st[3] += len(pend)
    return adl_notional, ch


def _match(
    pos: PositionState,
    vs: VenueState,
    lo: _Losers,
    rng: np.random.Generator,
    counterparties: IntArray,
) -> _Match:
    """Allocate the losers' quantity to winners; the unmatched rest is sold into the book."""
    R = lo.ref_price
    Q = float(lo.qty_base.sum())
    xbar = float(np.dot(lo.qty_base, lo.close_price) / Q)
    cand = counterparties[pos.active[counterparties]]
    if vs.policy.kind != "random_start":  # only winners can be hit (random_start needs all)
        cand = cand[-lo.side * (R - pos.entry_price[cand]) > 0]
    alloc = allocate(
        vs.policy,
        loser_side=lo.side,
        qty_base=Q,
        close_price=xbar,
        ref_price=R,
        deficit_quote=float(lo.needed_quote.sum()),
        side=pos.side[cand].astype(np.float64),
        size_base=pos.size_base[cand],
        entry_price=pos.entry_price[cand],
        wallet_quote=pos.margin_quote[cand],
        mm_quote=np.maximum(0.0, pos.size_base[cand] * R * pos.mmr[cand] - pos.cum_quote[cand]),
        bankruptcy_price=pos.bankruptcy_price[cand],
        rng=rng,
    )
    qw = alloc.qty_base
    xw = alloc.price
    Qm = float(qw.sum())
    phi = min(1.0, Qm / Q) if Q > 0 else 0.0
    xw_bar = float(np.dot(qw, xw) / Qm) if Qm > 0 else 0.0
    Qu = Q - Qm
    F_u = R
    if Qu > 1e-12 * Q:
        f, quote = vs.market.execute(1.0 if lo.side > 0 else -1.0, Qu)
        F_u = quote / f if f > 0 else 0.0
    else:
        phi = 1.0 if Qm > 0 else 0.0
    return _Match(cand[alloc.winner], qw, xw, phi, xw_bar - xbar, F_u)


def _loser_rows(ch: dict[str, np.ndarray], pos: PositionState, lo: _Losers, mt: _Match) -> None:
    """Ledger rows of the losers: matched share at their close price, the rest at the book's."""
    nl = len(lo.pos)
    s_l, q_k, M_k, E_k, R = lo.side, lo.qty_base, lo.margin_quote, lo.entry_price, lo.ref_price
    phi, F_u = mt.phi, mt.book_price
    p_k = lo.close_price + mt.close_shift
    e_k = M_k + s_l * (q_k * phi * (p_k - E_k) + q_k * (1 - phi) * (F_u - E_k))
    v_k = M_k + s_l * (q_k * phi * (R - E_k) + q_k * (1 - phi) * (F_u - E_k))
    ret = np.maximum(0.0, e_k)
    ch["kind"][:nl] = 3
    ch["position"][:nl] = lo.pos
    ch["side"][:nl] = s_l
    ch["qty_base"][:nl] = q_k
    ch["ref_price"][:nl] = phi * R + (1 - phi) * F_u
    ch["exec_price"][:nl] = phi * p_k + (1 - phi) * F_u
    ch["liq_price"][:nl] = pos.liquidation_price[lo.pos]
    ch["trader_pnl"][:nl] = ret - v_k
    ch["adl_transfer"][:nl] = v_k - e_k
    ch["bad_debt"][:nl] = np.minimum(0.0, e_k)
    ch["returned_quote"][:nl] = ret
    ch["adl_needed"][:nl] = lo.needed_quote


def _winner_rows(
    ch: dict[str, np.ndarray], pos: PositionState, lo: _Losers, mt: _Match
) -> FloatArray:
    """Close ``qty`` of each winner at its ADL price (margin released pro rata); returns the
    haircuts against the reference price."""
    nl = len(lo.pos)
    w, qw, xw, R = mt.winner, mt.qty_base, mt.price, lo.ref_price
    s_w = -lo.side
    released = pos.margin_quote[w] * (qw / pos.size_base[w])
    realized = s_w * qw * (xw - pos.entry_price[w])
    haircut = s_w * qw * (R - xw)
    ch["kind"][nl:] = 4
    ch["position"][nl:] = w
    ch["side"][nl:] = s_w
    ch["qty_base"][nl:] = qw
    ch["ref_price"][nl:] = R
    ch["exec_price"][nl:] = xw
    ch["liq_price"][nl:] = np.nan
    ch["returned_quote"][nl:] = released + realized
    ch["adl_haircut"][nl:] = haircut
    pos.size_base[w] -= qw
    pos.margin_quote[w] -= released
    closed = pos.size_base[w] <= 1e-12 * (pos.size_base[w] + qw)
    pos.size_base[w[closed]] = 0.0
    pos.margin_quote[w[closed]] = 0.0
    pos.active[w[closed]] = False
    return haircut
