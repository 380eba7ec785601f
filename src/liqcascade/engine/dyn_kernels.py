"""Numba kernels of the dynamic cascade, each with a plain twin.

``liquidate_batch`` processes, in order, the positions of one venue and one side that crossed their
trigger in one time step, applying that venue's liquidation process (Binance-style bankruptcy-price
close with insurance fund, Hyperliquid market orders with partial liquidation and backstop vault,
dYdX v4 fillable-price IOC with insurance-fund delta). Every order walks the venue's book
(:func:`liqcascade.markets.execute_on_curve`) so the price moves within the step. Positions the
fund/vault will not take are returned as *pending ADL* for :mod:`liqcascade.adl`.

``liquidate_batch_plain`` is the same algorithm run by the Python interpreter (``py_func``); the
primitives it calls have independent plain twins in :mod:`liqcascade.markets`. ``crossed_plain``
is the brute-force twin of the sorted pointer walk ``crossed_count``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from liqcascade.markets import execute_on_curve

__all__ = [
    "PROC_BINANCE",
    "PROC_DYDX",
    "PROC_HYPERLIQUID",
    "PRM",
    "FUND",
    "crossed_count",
    "crossed_plain",
    "isolated_bankruptcy_price",
    "isolated_liquidation_price",
    "liquidate_batch",
    "liquidate_batch_plain",
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


@njit(cache=True)
def isolated_liquidation_price(
    s: float, q: float, entry: float, margin: float, mmr: float, cum: float
) -> float:
    """Solve margin + s*q*(P - entry) = q*P*mmr - cum for P (Binance one-way isolated, fixed tier)."""
    return (s * q * entry - margin - cum) / (q * (s - mmr))


@njit(cache=True)
def isolated_bankruptcy_price(s: float, q: float, entry: float, margin: float) -> float:
    """Price at which the position's equity is 0: entry - s*margin/q."""
    return entry - s * margin / q


@njit(cache=True)
def crossed_count(sorted_liq: np.ndarray, start: int, price: float, side: int) -> int:
    """Pointer walk: from ``start``, how far the sorted trigger array has been crossed at ``price``.

    Longs are sorted by liquidation price descending and trigger when price <= LP; shorts sorted
    ascending and trigger when price >= LP. Returns the new pointer (exclusive end).
    """
    n = sorted_liq.shape[0]
    k = start
    if side > 0:
        while k < n and sorted_liq[k] >= price:
            k += 1
    else:
        while k < n and sorted_liq[k] <= price:
            k += 1
    return k


def crossed_plain(sorted_liq: np.ndarray, start: int, price: float, side: int) -> int:
    """Plain twin of :func:`crossed_count`: boolean mask over the whole array."""
    hit = sorted_liq >= price if side > 0 else sorted_liq <= price
    hit[:start] = True
    bad = np.flatnonzero(~hit)
    return int(bad[0]) if len(bad) else len(sorted_liq)


@njit(cache=True)
def _put(ev, k, kind, pos, qty, ref, exe, liq, tpnl, fee, ifc, vault, bad, ret):
    """Write ledger row ``k`` (kind, position, qty, ref, exec, liq price, then the identity columns)."""
    ev[0][k] = kind
    ev[1][k] = pos
    ev[2][k] = qty
    ev[3][k] = ref
    ev[4][k] = exe
    ev[5][k] = liq
    ev[6][k] = tpnl
    ev[7][k] = fee
    ev[8][k] = ifc
    ev[9][k] = vault
    ev[10][k] = bad
    ev[11][k] = ret


@njit(cache=True)
def liquidate_batch(
    idx,
    step,
    t_s,
    p_mark,
    p_prev,
    proc,
    prm,
    fund,
    side,
    size,
    entry,
    margin,
    mmr,
    cum,
    liq,
    bank,
    active,
    last_partial_s,
    requeue,
    vol,
    move,
    cumtab,
    sigma,
    anchor,
    eaten,
    scale,
    ev_kind,
    ev_pos,
    ev_qty,
    ev_ref,
    ev_exec,
    ev_liq,
    ev_tpnl,
    ev_fee,
    ev_ifc,
    ev_vault,
    ev_bad,
    ev_ret,
    pend_pos,
    pend_x,
):
    """Liquidate positions ``idx`` (one venue, one side) in order; returns (n_events, n_pending, eaten).

    Every event satisfies tpnl + fee + ifc + vault + bad = 0 (ADL is settled by the caller).
    """
    ev = (
        ev_kind,
        ev_pos,
        ev_qty,
        ev_ref,
        ev_exec,
        ev_liq,
        ev_tpnl,
        ev_fee,
        ev_ifc,
        ev_vault,
        ev_bad,
        ev_ret,
    )
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
        liq_i = liq[i]

        if proc == PROC_BINANCE:
            f, quote, new_e = execute_on_curve(
                vol, move, cumtab, sigma, anchor, eaten, scale, q, 0.0
            )
            e_f = M + s * (quote - q * E)
            fee = prm[0] * quote
            cap = e_f if e_f > 0.0 else 0.0
            if fee > cap:
                fee = cap
            ifd = e_f - fee
            if ifd < 0.0 and fund[0] + ifd < fund[1]:
                pend_pos[n_pend] = i
                pend_x[n_pend] = bank[i]
                n_pend += 1
                continue
            eaten = new_e
            fund[0] += ifd + prm[1] * fee
            F = quote / f if f > 0.0 else 0.0
            _put(ev, n_ev, 0, i, q, F, F, liq_i, -e_f, fee, ifd, 0.0, 0.0, 0.0)
            n_ev += 1
            size[i] = 0.0
            margin[i] = 0.0
            active[i] = False
            continue

        if proc == PROC_HYPERLIQUID:
            has_vault = prm[7] > 0.5
            if has_vault and v_mark < prm[5] * mm_mark:
                loss = -v_mark if v_mark < 0.0 else 0.0
                if fund[2] - loss >= 0.0:
                    if prm[6] > 0.5:  # vault unwinds into the book
                        f, quote, new_e = execute_on_curve(
                            vol, move, cumtab, sigma, anchor, eaten, scale, q, 0.0
                        )
                        eaten = new_e
                        e_f = M + s * (quote - q * E)
                        F = quote / f if f > 0.0 else 0.0
                        fund[2] += e_f
                        ref = F
                        gain = e_f
                    else:  # vault holds the position, taken at the mark
                        fund[2] += v_mark
                        fund[4] += s * q
                        fund[5] += s * q * p_mark
                        ref = p_mark
                        gain = v_mark
                    _put(ev, n_ev, 2, i, q, ref, ref, liq_i, -gain, 0.0, 0.0, gain, 0.0, 0.0)
                    n_ev += 1
                    size[i] = 0.0
                    margin[i] = 0.0
                    active[i] = False
                    continue
            if v_mark < 0.0:
                # negative account value the vault does not absorb: ADL at the previous mark
                pend_pos[n_pend] = i
                pend_x[n_pend] = p_prev
                n_pend += 1
                continue
            dq = q
            in_cooldown = t_s - last_partial_s[i] < prm[4]
            if q * p_mark > prm[2] and not in_cooldown:
                dq = prm[3] * q
                last_partial_s[i] = t_s
            f, quote, new_e = execute_on_curve(
                vol, move, cumtab, sigma, anchor, eaten, scale, dq, 0.0
            )
            eaten = new_e
            F = quote / f if f > 0.0 else 0.0
            if dq < q:
                m_new = M + s * (quote - dq * E)
                q_new = q - dq
                size[i] = q_new
                margin[i] = m_new
                liq[i] = isolated_liquidation_price(s, q_new, E, m_new, mmr[i], cum[i])
                bank[i] = isolated_bankruptcy_price(s, q_new, E, m_new)
                requeue[i] = 1
                _put(ev, n_ev, 1, i, dq, F, F, liq_i, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
                n_ev += 1
                continue
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
            n_ev += 1
            size[i] = 0.0
            margin[i] = 0.0
            active[i] = False
            continue

        # ---- dYdX v4 ------------------------------------------------------------------------
        room_if = fund[0] - fund[1]
        room_block = prm[13] - fund[3]
        if room_block < room_if:
            room_if = room_block
        if v_mark < 0.0 and -v_mark > room_if:
            pend_pos[n_pend] = i
            pend_x[n_pend] = bank[i]
            n_pend += 1
            continue
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
        if dq > q:
            dq = q
        if mm_mark > 0.0:
            abr = prm[8] * (1.0 - v_mark / mm_mark)
        else:
            abr = 1.0
        if abr < 0.0:
            abr = 0.0
        if abr > 1.0:
            abr = 1.0
        fp = p_mark - s * abr * prm[9] * mm_mark / q
        limit = fp if fp > 0.0 else 0.0
        if sigma < 0.0 and limit <= 0.0:
            limit = 0.0
        f, quote, new_e = execute_on_curve(
            vol, move, cumtab, sigma, anchor, eaten, scale, dq, limit
        )
        if f <= 0.0:
            requeue[i] = 1
            continue
        eaten = new_e
        F = quote / f
        bp = bank[i]
        delta = s * (quote - f * bp)
        fee = 0.0
        ifc = 0.0
        bad = 0.0
        if delta <= 0.0:
            pay = -delta
            room = fund[0] - fund[1]
            if prm[13] - fund[3] < room:
                room = prm[13] - fund[3]
            if room < 0.0:
                room = 0.0
            if pay > room:
                pay = room
            ifc = -pay
            bad = delta + pay
            fund[0] -= pay
            fund[3] += pay
            m_new = M + s * (quote - f * E) - delta
        else:
            fee = prm[0] * quote
            if fee > delta:
                fee = delta
            fund[0] += prm[1] * fee
            m_new = M + s * (quote - f * E) - fee
        q_new = q - f
        v0 = M + s * q * (F - E)
        ret = 0.0
        if q_new <= 1e-12 * q:
            ret = m_new
            after = m_new
            size[i] = 0.0
            margin[i] = 0.0
            active[i] = False
            kind = 0
        else:
            after = m_new + s * q_new * (F - E)
            size[i] = q_new
            margin[i] = m_new
            liq[i] = isolated_liquidation_price(s, q_new, E, m_new, mmr[i], cum[i])
            bank[i] = isolated_bankruptcy_price(s, q_new, E, m_new)
            requeue[i] = 1
            kind = 1
        _put(ev, n_ev, kind, i, f, F, F, liq_i, after - v0, fee, ifc, 0.0, bad, ret)
        n_ev += 1
    return n_ev, n_pend, eaten


liquidate_batch_plain = liquidate_batch.py_func
