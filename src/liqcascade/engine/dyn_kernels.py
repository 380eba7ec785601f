"""Numba kernels of the dynamic cascade, each with a plain twin.

``liquidate_batch`` processes, in order, the positions of one venue and one side that crossed their
trigger in one time step, applying that venue's liquidation process (Binance-style bankruptcy-price
close with insurance fund, Hyperliquid market orders with partial liquidation and backstop vault,
dYdX v4 fillable-price IOC with insurance-fund delta). Every order walks the venue's book
(:func:`liqcascade.markets.execute_on_curve`) so the price moves within the step. Positions the
fund/vault will not take are returned as *pending ADL* for :mod:`liqcascade.adl`.

A position that stays open after a partial liquidation gets its new trigger from the venue's own
rule (:func:`liqcascade.margin.liquidation_price_one` on its tier table, :func:`reprice`), the
one-position twin of :func:`liqcascade.margin.liquidation_price`.

``liquidate_batch_plain`` is the same algorithm run by the Python interpreter: every kernel here
as plain Python, calling the plain twins of the book walk (:mod:`liqcascade.markets`) and of
margin's rule. Which triggers a step crossed is counted by
:func:`liqcascade.engine.kernels.crossed_count`, as in the other engines.
"""

from __future__ import annotations

import types
from typing import Any

import numpy as np
from numba import njit

from liqcascade.margin import bankruptcy_price_one, liquidation_price_one
from liqcascade.markets import execute_on_curve, execute_on_curve_plain

__all__ = [
    "PROC_BINANCE",
    "PROC_DYDX",
    "PROC_HYPERLIQUID",
    "PRM",
    "FUND",
    "liquidate_batch",
    "liquidate_batch_plain",
    "pay_funding",
    "reprice",
]

PROC_BINANCE = 0
PROC_HYPERLIQUID = 1
PROC_DYDX = 2

#: indices into the venue parameter vector
PRM = {
    "fee_rate": 0,  # clearance fee (Binance) / max liquidation fee (dYdX), fraction of notional
    "fee_to_fund": 1,  # 1 if the fee is credited to the insurance fund balance
    "partial_threshold_quote": 2,  # HL: positions above this notional are liquidated 20% at a time
    "partial_fraction": 3,  # HL: 0.2
    "cooldown_s": 4,  # HL: 30 s
    "backstop_ratio": 5,  # HL: vault takes over below 2/3 of maintenance margin
    "vault_unwind": 6,  # 1: vault sends taken-over positions into the book, 0: holds them
    "has_vault": 7,
    "bankruptcy_adjustment": 8,  # dYdX BA (1.0 mainnet)
    "spread_to_mmr": 9,  # dYdX SMMR (1.5 mainnet)
    "max_portion": 10,  # dYdX max_position_portion_liquidated (0.1)
    "min_notional_quote": 11,  # dYdX min_position_notional_liquidated (1000 USDC)
    "max_notional_block_quote": 12,  # dYdX subaccount max_notional_liquidated per block (100k)
    "max_insurance_lost_block_quote": 13,  # dYdX max_quantums_insurance_lost per block (1M)
}
N_PRM = 14

#: indices into the fund state vector (mutated in place)
FUND = {
    "if_balance": 0,
    "if_floor": 1,
    "vault_capacity": 2,  # capital the vault can still lose
    "if_lost_block": 3,  # dYdX: insurance lost in the current block
    "vault_held_qty": 4,
    "vault_held_cost": 5,
}
N_FUND = 6


# ---------------------------------------------------------------------------------------------
# liquidation of one venue and side in one step
#
# The kernels take the run's arrays grouped in tuples (numba indexes them at compile time):
#   pos   = (side, size, entry, margin, mmr, cum, liq, bank, active, last_partial_s, requeue,
#            tier_table)
#   tiers = (start, floor, mmr, cum, fee, formula)   see liqcascade.engine.dyn_tiers.TierSet
#   book  = (volume, move, cum, sigma, anchor, scale) one side of the venue's book
#   ev    = (kind, position, qty, ref, exec, liq, trader_pnl, fee, insurance_fund_change,
#            vault_pnl, bad_debt, returned_quote)     ledger columns
#   pend  = (position, close price)                   positions left for ADL
# ---------------------------------------------------------------------------------------------


@njit(cache=True)
def _put(ev, k, kind, pos, qty, ref, exe, liq, tpnl, fee, ifc, vault, bad, ret):
    """Write ledger row ``k``: kind and position (the integer columns), then the float columns in
    ``ev`` order (qty, ref, exec, liq price, then the identity columns)."""
    ev[0][k] = kind
    ev[1][k] = pos
    floats = ev[2:]
    row = (qty, ref, exe, liq, tpnl, fee, ifc, vault, bad, ret)
    for j in range(len(row)):
        floats[j][k] = row[j]


@njit(cache=True)
def _pend(pend, n_pend, i, close_price):
    """Leave position ``i`` for ADL at ``close_price``; returns the new pending count."""
    pend[0][n_pend] = i
    pend[1][n_pend] = close_price
    return n_pend + 1


@njit(cache=True)
def _close(pos, i):
    pos[1][i] = 0.0
    pos[3][i] = 0.0
    pos[8][i] = False


@njit(cache=True)
def _walk(book, eaten, qty, limit):
    """Execute ``qty`` on the book side from ``eaten``: (filled, quote, new eaten)."""
    return execute_on_curve(book[0], book[1], book[2], book[3], book[4], eaten, book[5], qty, limit)


@njit(cache=True)
def reprice(pos, tiers, i, s, q_new, entry, m_new):
    """Position ``i`` keeps ``q_new`` with margin ``m_new``: its liquidation price (and tier) by the
    venue's rule (:func:`liqcascade.margin.liquidation_price_one`) and its bankruptcy price."""
    pos[1][i] = q_new
    pos[3][i] = m_new
    j = pos[11][i]
    a = tiers[0][j]
    b = tiers[0][j + 1]
    p, k = liquidation_price_one(
        s,
        q_new,
        entry,
        m_new,
        tiers[1][a:b],
        tiers[2][a:b],
        tiers[3][a:b],
        tiers[4][j],
        tiers[5][j],
    )
    pos[6][i] = p if p > 0.0 else np.nan
    pos[4][i] = tiers[2][a + k]
    pos[5][i] = tiers[3][a + k]
    pos[7][i] = bankruptcy_price_one(s, q_new, entry, m_new)
    pos[10][i] = 1


@njit(cache=True)
def pay_funding(ix, pay, pos, tiers):
    """Charge funding ``pay[j]`` (quote) to position ``ix[j]``'s margin; its trigger moves by as much
    as the venue's rule moves the liquidation price (so a cross position keeps its offset to the
    isolated price), its bankruptcy price by ``s*pay/q``."""
    for j in range(ix.shape[0]):
        i = ix[j]
        s = float(pos[0][i])
        q = pos[1][i]
        e = pos[2][i]
        m0 = pos[3][i]
        m1 = m0 - pay[j]
        t = pos[11][i]
        a = tiers[0][t]
        b = tiers[0][t + 1]
        fl, mr, cu, fee, form = (
            tiers[1][a:b],
            tiers[2][a:b],
            tiers[3][a:b],
            tiers[4][t],
            tiers[5][t],
        )
        p0, _ = liquidation_price_one(s, q, e, m0, fl, mr, cu, fee, form)
        p1, _ = liquidation_price_one(s, q, e, m1, fl, mr, cu, fee, form)
        pos[3][i] = m1
        pos[6][i] += p1 - p0
        pos[7][i] += s * pay[j] / q


@njit(cache=True)
def _binance_one(i, s, q, M, E, liq_i, prm, fund, pos, book, eaten, ev, n_ev, pend, n_pend):
    """Close at the bankruptcy price: the fund takes the difference to the fill, or ADL."""
    f, quote, new_e = _walk(book, eaten, q, 0.0)
    e_f = M + s * (quote - q * E)
    fee = prm[0] * quote
    cap = e_f if e_f > 0.0 else 0.0
    if fee > cap:
        fee = cap
    ifd = e_f - fee
    if ifd < 0.0 and fund[0] + ifd < fund[1]:
        return n_ev, _pend(pend, n_pend, i, pos[7][i]), eaten
    fund[0] += ifd + prm[1] * fee
    F = quote / f if f > 0.0 else 0.0
    _put(ev, n_ev, 0, i, q, F, F, liq_i, -e_f, fee, ifd, 0.0, 0.0, 0.0)
    _close(pos, i)
    return n_ev + 1, n_pend, new_e


@njit(cache=True)
def _vault_takeover(i, s, q, M, E, liq_i, v_mark, p_mark, prm, fund, pos, book, eaten, ev, n_ev):
    """Hyperliquid backstop: the vault takes the position (holds it at the mark, or unwinds it)."""
    if prm[6] > 0.5:  # vault unwinds into the book
        f, quote, eaten = _walk(book, eaten, q, 0.0)
        gain = M + s * (quote - q * E)
        ref = quote / f if f > 0.0 else 0.0
        fund[2] += gain
    else:  # vault holds the position, taken at the mark
        fund[2] += v_mark
        fund[4] += s * q
        fund[5] += s * q * p_mark
        ref = p_mark
        gain = v_mark
    _put(ev, n_ev, 2, i, q, ref, ref, liq_i, -gain, 0.0, 0.0, gain, 0.0, 0.0)
    _close(pos, i)
    return eaten


@njit(cache=True)
def _hyperliquid_one(
    i, s, q, M, E, liq_i, v_mark, mm_mark, t_s, p_mark, p_prev, prm, fund, pos, tiers, book, eaten,
    ev, n_ev, pend, n_pend,
):  # fmt: skip
    """Market order (20% of a large position, then a cooldown); vault below 2/3 of MM; ADL."""
    has_vault = prm[7] > 0.5
    if has_vault and v_mark < prm[5] * mm_mark:
        loss = -v_mark if v_mark < 0.0 else 0.0
        if fund[2] - loss >= 0.0:
            eaten = _vault_takeover(
                i, s, q, M, E, liq_i, v_mark, p_mark, prm, fund, pos, book, eaten, ev, n_ev
            )
            return n_ev + 1, n_pend, eaten
    if v_mark < 0.0:
        # negative account value the vault does not absorb: ADL at the previous mark
        return n_ev, _pend(pend, n_pend, i, p_prev), eaten
    dq = q
    in_cooldown = t_s - pos[9][i] < prm[4]
    if q * p_mark > prm[2] and not in_cooldown:
        dq = prm[3] * q
        pos[9][i] = t_s
    f, quote, eaten = _walk(book, eaten, dq, 0.0)
    F = quote / f if f > 0.0 else 0.0
    if dq < q:
        reprice(pos, tiers, i, s, q - dq, E, M + s * (quote - dq * E))
        _put(ev, n_ev, 1, i, dq, F, F, liq_i, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
        return n_ev + 1, n_pend, eaten
    e_f = M + s * (quote - q * E)
    vault = 0.0
    bad = 0.0
    ret = 0.0
    if e_f >= 0.0:
        ret = e_f
    elif has_vault and fund[2] + e_f >= 0.0:
        vault = e_f
        fund[2] += e_f
    else:
        bad = e_f
    _put(ev, n_ev, 0, i, q, F, F, liq_i, ret - e_f, 0.0, 0.0, vault, bad, ret)
    _close(pos, i)
    return n_ev + 1, n_pend, eaten


@njit(cache=True)
def _dydx_order_size(q, p_mark, prm):
    """Size of the liquidation order: max_portion of the position, within the notional bounds."""
    dq = prm[10] * q
    if p_mark > 0.0:
        min_q = prm[11] / p_mark
        if dq < min_q:
            dq = min_q
        max_q = prm[12] / p_mark
        if dq > max_q:
            dq = max_q
        if q - dq < min_q:
            dq = q
    else:  # exhausted book: price 0, nothing left to bound the order by
        dq = q
    return q if dq > q else dq


@njit(cache=True)
def _dydx_fillable_price(s, q, v_mark, mm_mark, p_mark, prm):
    """dYdX v4 fillable price ``P - s*ABR*SMMR*MM/q`` (limit of the IOC order, 0 = none)."""
    abr = prm[8] * (1.0 - v_mark / mm_mark) if mm_mark > 0.0 else 1.0
    if abr < 0.0:
        abr = 0.0
    if abr > 1.0:
        abr = 1.0
    fp = p_mark - s * abr * prm[9] * mm_mark / q
    return fp if fp > 0.0 else 0.0


@njit(cache=True)
def _dydx_settle(s, f, quote, M, E, bp, prm, fund):
    """Insurance-fund delta of a fill ``f`` at ``quote`` against the bankruptcy price ``bp``.

    Returns (fee, insurance change, bad debt, margin left)."""
    delta = s * (quote - f * bp)
    if delta <= 0.0:
        pay = -delta
        room = fund[0] - fund[1]
        if prm[13] - fund[3] < room:
            room = prm[13] - fund[3]
        if room < 0.0:
            room = 0.0
        if pay > room:
            pay = room
        fund[0] -= pay
        fund[3] += pay
        return 0.0, -pay, delta + pay, M + s * (quote - f * E) - delta
    fee = prm[0] * quote
    if fee > delta:
        fee = delta
    fund[0] += prm[1] * fee
    return fee, 0.0, 0.0, M + s * (quote - f * E) - fee


@njit(cache=True)
def _dydx_one(
    i, s, q, M, E, liq_i, v_mark, mm_mark, p_mark, prm, fund, pos, tiers, book, eaten, ev, n_ev,
    pend, n_pend,
):  # fmt: skip
    """Fillable-price IOC for part of the position; insurance-fund delta; ADL past the fund."""
    room_if = fund[0] - fund[1]
    room_block = prm[13] - fund[3]
    if room_block < room_if:
        room_if = room_block
    if v_mark < 0.0 and -v_mark > room_if:
        return n_ev, _pend(pend, n_pend, i, pos[7][i]), eaten
    dq = _dydx_order_size(q, p_mark, prm)
    limit = _dydx_fillable_price(s, q, v_mark, mm_mark, p_mark, prm)
    f, quote, new_e = _walk(book, eaten, dq, limit)
    if f <= 0.0:
        pos[10][i] = 1
        return n_ev, n_pend, eaten
    F = quote / f
    fee, ifc, bad, m_new = _dydx_settle(s, f, quote, M, E, pos[7][i], prm, fund)
    q_new = q - f
    v0 = M + s * q * (F - E)
    if q_new <= 1e-12 * q:
        _close(pos, i)
        _put(ev, n_ev, 0, i, f, F, F, liq_i, m_new - v0, fee, ifc, 0.0, bad, m_new)
    else:
        after = m_new + s * q_new * (F - E)
        reprice(pos, tiers, i, s, q_new, E, m_new)
        _put(ev, n_ev, 1, i, f, F, F, liq_i, after - v0, fee, ifc, 0.0, bad, 0.0)
    return n_ev + 1, n_pend, new_e


@njit(cache=True)
def liquidate_batch(idx, t_s, p_mark, p_prev, proc, prm, fund, pos, tiers, book, eaten, ev, pend):
    """Liquidate positions ``idx`` (one venue, one side) in order; returns (n_events, n_pending,
    eaten). Argument tuples as described above; ``prm``/``fund`` as PRM/FUND.

    Every event satisfies tpnl + fee + ifc + vault + bad = 0 (ADL is settled by the caller).
    """
    side, size, entry, margin, mmr, cum, liq, active = (
        pos[0], pos[1], pos[2], pos[3], pos[4], pos[5], pos[6], pos[8]
    )  # fmt: skip
    n_ev = 0
    n_pend = 0
    for j in range(idx.shape[0]):
        i = idx[j]
        if not active[i] or size[i] <= 0.0:
            continue
        s = float(side[i])
        q = size[i]
        M = margin[i]
        E = entry[i]
        v_mark = M + s * q * (p_mark - E)
        mm_mark = q * p_mark * mmr[i] - cum[i]
        if mm_mark < 0.0:
            mm_mark = 0.0
        if proc == PROC_BINANCE:
            n_ev, n_pend, eaten = _binance_one(
                i, s, q, M, E, liq[i], prm, fund, pos, book, eaten, ev, n_ev, pend, n_pend
            )
        elif proc == PROC_HYPERLIQUID:
            n_ev, n_pend, eaten = _hyperliquid_one(
                i, s, q, M, E, liq[i], v_mark, mm_mark, t_s, p_mark, p_prev, prm, fund, pos,
                tiers, book, eaten, ev, n_ev, pend, n_pend,
            )  # fmt: skip
        else:
            n_ev, n_pend, eaten = _dydx_one(
                i, s, q, M, E, liq[i], v_mark, mm_mark, p_mark, prm, fund, pos, tiers, book,
                eaten, ev, n_ev, pend, n_pend,
            )  # fmt: skip
    return n_ev, n_pend, eaten


_KERNELS = (
    "_put", "_pend", "_close", "_walk", "reprice", "pay_funding", "_binance_one", "_vault_takeover",
    "_hyperliquid_one", "_dydx_order_size", "_dydx_fillable_price", "_dydx_settle", "_dydx_one",
    "liquidate_batch",
)  # fmt: skip


def _interpreted() -> dict[str, Any]:
    """This module's kernels as plain Python functions that call each other, the plain twins of
    the book walk (:func:`liqcascade.markets.execute_on_curve_plain`) and of margin's rule."""
    g = dict(globals())
    for name in _KERNELS:
        g[name] = types.FunctionType(globals()[name].py_func.__code__, g, name)
    g["execute_on_curve"] = execute_on_curve_plain
    g["liquidation_price_one"] = liquidation_price_one.py_func
    g["bankruptcy_price_one"] = bankruptcy_price_one.py_func
    return g


#: :func:`liquidate_batch` run by the interpreter, every kernel it calls interpreted too
liquidate_batch_plain = _interpreted()["liquidate_batch"]
