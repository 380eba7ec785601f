"""Per-path multi-venue cascade on an indexed book: the stress engine's inner loop.

The book is indexed ONCE (per worker): per venue and side, liquidation prices sorted in the
order a move reaches them, with cumulative sizes (retail and others apart, so retail
deleveraging can scale them), bankruptcy prices and entry data. A path then costs
O(steps x rounds x log n) for the cascade plus O(liquidated) for the loss accounting.

Per step t of an exogenous path ``S(t)`` (price relative to the initial price ``P0_v``):

1. behaviours read the realised volatility up to t-1: retail cut their open size by a factor
   (the closed size is sold/bought at market), market makers scale depth by ``s_t``;
2. fixed point: the exogenous price ``E_v = P0_v S(t)``; net forced flow of venue v
   ``N_v = sells - buys`` (base units, cumulative since t=0: impact is permanent, as in the static
   engine); arbitrage routes ``R_v = (1-a) N_v + a w_v sum(N)``; the price is
   ``P_v = E_v (1 - x_bid(R_v / s_t))`` for ``R_v >= 0`` (resting dip bids below ``E_v`` absorb
   flow first when the price reaches them), ``P_v = E_v (1 + x_ask(-R_v / s_t))`` otherwise;
   every long with liquidation price >= P_v and short with liquidation price <= P_v is
   liquidated and its size joins the flow; repeat until nothing new is liquidated;
3. accounting at the step's final price ``P_v`` (the fill price of its liquidations), with the
   loss-ledger primitives of :mod:`liqcascade.ledger`: a position's equity at the fill is
   ``q (P - bankruptcy)`` (long) or ``q (bankruptcy - P)`` (short); a negative equity is a
   *deficit*; otherwise the venue's clearance fee ``min(fee_rate q P, equity)`` goes to the
   insurance fund. The deficit runs down the waterfall: the fund first, then ADL
   (``adl_loss`` = what ADL counterparties cover, ``adl_notional`` = the bankrupt notional at
   bankruptcy prices in that proportion, closed against opposite winners at the bankruptcy
   price). This engine assumes enough opposite winners, so its bad debt (loss nobody covered)
   is 0 by construction; ``deficit_quote`` = fund used + ADL loss.

Liquidated notional is size x liquidation price (as :mod:`liqcascade.engine.static`). A side
whose depth cannot absorb the flow (``x >= 1``) is clamped at ``x = 0.99`` and flagged
``book_exhausted``. With one venue, no behaviours and a jump, step 2 is exactly the static
engine's fixed point (tested against :class:`liqcascade.engine.static.StaticCascade`).

Collateral shocks: positions of cross accounts holding a depegging asset move their
liquidation and bankruptcy prices with the collateral value. For a wallet loss ``L`` on a
position of size q (an account's loss is split across its positions by notional) the long
liquidation price rises by ``L / (q (1 - mmr))`` and the bankruptcy price by ``L / q`` (short:
falls by ``L / (q (1 + mmr))`` and ``L / q``), from ``W - L + s q (P - EP) = q P mmr - cum``.
These positions are kept out of the sorted index and checked one by one each step.

:func:`run_path_plain` is the plain twin of :func:`run_path_nb`: the same code (:func:`run_path_py`
and its step functions), not compiled, calling the plain twins of the depth walk,
:func:`liqcascade.depth.move_for_volume_plain`, and of the trigger count,
:func:`liqcascade.engine.kernels.crossed_count_plain`.
"""

from __future__ import annotations

import math
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit

from liqcascade.depth import DepthSpec, depth_spec, move_for_volume, move_for_volume_plain
from liqcascade.engine.kernels import crossed_count, crossed_count_plain
from liqcascade.ledger import clearance_fee_quote, position_equity_quote, waterfall
from liqcascade.scenarios import behaviours as B

__all__ = [
    "METRICS",
    "StressIndex",
    "build_index",
    "run_path_nb",
    "run_path_py",
    "X_MAX",
]

#: Largest relative move a side can take (an exhausted side is clamped here and flagged).
X_MAX = 0.99
#: Fixed-point iterations per step before giving up (each liquidates at least one position).
MAX_ROUNDS = 1_000_000

#: Per-venue output metrics of one path (columns of the kernel's ``out`` matrix).
METRICS = (
    "liq_long_notional_quote",
    "liq_short_notional_quote",
    "liq_count",
    "final_price",
    "min_price",
    "max_price",
    "insurance_fees_quote",
    "insurance_used_quote",
    "deficit_quote",
    "adl_notional_quote",
    "adl_loss_quote",
    "fund_exhausted",
    "book_exhausted",
    "retail_cut_base",
    "fund_end_quote",
    "bad_debt_quote",
)
M_LONG, M_SHORT, M_COUNT, M_FINAL, M_MIN, M_MAX = 0, 1, 2, 3, 4, 5
M_FEES, M_USED, M_DEFICIT, M_ADLN, M_ADLL, M_FEXH, M_BEXH, M_CUT, M_FEND = (
    6,
    7,
    8,
    9,
    10,
    11,
    12,
    13,
    14,
)
M_UNCOV = 15
N_METRICS = len(METRICS)


@dataclass(frozen=True, eq=False)
class StressIndex:
    """A book indexed for the path kernel (arrays only: cheap to pickle, shipped once).

    Blocks ``b = 2 v + side`` (side 0 longs, 1 shorts) of the flat arrays span
    ``off[b]:off[b+1]``; the cumulative arrays span ``offc[b]:offc[b+1]`` (one longer).
    """

    n_venues: int
    off: np.ndarray
    offc: np.ndarray
    key: np.ndarray
    size: np.ndarray
    liq: np.ndarray
    bkr: np.ndarray
    retail: np.ndarray
    cum_retail: np.ndarray
    cum_other: np.ndarray
    # collateral subset
    c_venue: np.ndarray
    c_side: np.ndarray
    c_size: np.ndarray
    c_retail: np.ndarray
    c_liq0: np.ndarray
    c_bkr0: np.ndarray
    c_kliq: np.ndarray
    c_kbkr: np.ndarray
    c_asset: np.ndarray
    # venues
    p0: np.ndarray
    fee_rate: np.ndarray
    fund0: np.ndarray
    weight: np.ndarray
    share: np.ndarray
    imp_kind: np.ndarray
    imp_coef: np.ndarray
    imp_scale: np.ndarray
    imp_off: np.ndarray
    imp_kv: np.ndarray
    imp_kx: np.ndarray
    dip_price: np.ndarray
    dip_base: np.ndarray

    @property
    def n_positions(self) -> int:
        """Positions in the sorted index plus the collateral subset."""
        return len(self.size) + len(self.c_size)


def build_index(
    side: np.ndarray,
    size_base: np.ndarray,
    liquidation_price: np.ndarray,
    bankruptcy_price: np.ndarray,
    segment: np.ndarray,
    venue_code: np.ndarray,
    venue_p0: np.ndarray,
    venue_fee_rate: np.ndarray,
    venue_fund0: np.ndarray,
    venue_share: np.ndarray,
    impacts: list[tuple[Any, Any]],
    dip_levels: tuple[float, ...] = (),
    dip_notional_quote: tuple[float, ...] = (),
    collateral: dict[str, np.ndarray] | None = None,
) -> StressIndex:
    """Index a book for :func:`run_path_nb`.

    ``impacts[v] = (bid_model, ask_model)`` (:mod:`liqcascade.impact` models). ``collateral``
    (optional) holds the subset arrays ``rows`` (book rows), ``kliq``, ``kbkr``, ``asset``,
    ``mmr`` prepared by :func:`liqcascade.sweep.collateral_subset`; those rows leave the sorted
    index. Depth weights for arbitrage are each venue's bid volume for a 1 % move.
    """
    n_venues = len(venue_p0)
    in_subset = np.zeros(len(size_base), dtype=bool)
    if collateral is not None and len(collateral["rows"]):
        in_subset[collateral["rows"]] = True
    book = (side, size_base, liquidation_price, bankruptcy_price, segment, venue_code)
    dip_price, dip_base = _dip_ladder(venue_p0, venue_share, dip_levels, dip_notional_quote)
    return StressIndex(
        n_venues=n_venues,
        **_sorted_blocks(book, n_venues, in_subset),
        **_collateral_arrays(book, collateral),
        p0=np.asarray(venue_p0, dtype=np.float64),
        fee_rate=np.asarray(venue_fee_rate, dtype=np.float64),
        fund0=np.asarray(venue_fund0, dtype=np.float64),
        share=np.asarray(venue_share, dtype=np.float64) / np.sum(venue_share),
        **_impact_tables(impacts, n_venues),
        dip_price=dip_price,
        dip_base=dip_base,
    )


def _sorted_blocks(
    book: tuple[np.ndarray, ...], n_venues: int, in_subset: np.ndarray
) -> dict[str, np.ndarray]:
    """Per venue and side (longs, then shorts), positions in the order a move reaches their
    liquidation prices, with cumulative retail and other sizes (the :class:`StressIndex` arrays
    ``off`` .. ``cum_other``). ``book`` holds :func:`build_index`'s first six arrays."""
    side, size_base, liquidation_price, bankruptcy_price, segment, venue_code = book
    keys, sizes, liqs, bkrs, rets, cr, co = [], [], [], [], [], [], []
    off = [0]
    offc = [0]
    for v in range(n_venues):
        for s, d in ((1, -1), (-1, 1)):
            rows = np.flatnonzero(
                (venue_code == v) & (side == s) & ~np.isnan(liquidation_price) & ~in_subset
            )
            k = d * liquidation_price[rows]
            o = np.argsort(k, kind="stable")
            rows = rows[o]
            keys.append(np.ascontiguousarray(k[o]))
            sz = size_base[rows]
            sizes.append(sz)
            liqs.append(liquidation_price[rows])
            b = bankruptcy_price[rows]
            # a long without a positive bankruptcy price never goes bankrupt (margin > notional)
            b = np.where(np.isnan(b), 0.0 if s == 1 else np.inf, b)
            bkrs.append(b)
            r = segment[rows] == 0
            rets.append(r)
            cr.append(np.concatenate([[0.0], np.cumsum(np.where(r, sz, 0.0))]))
            co.append(np.concatenate([[0.0], np.cumsum(np.where(r, 0.0, sz))]))
            off.append(off[-1] + len(rows))
            offc.append(offc[-1] + len(rows) + 1)
    cat = np.concatenate
    return {
        "off": np.asarray(off, dtype=np.int64),
        "offc": np.asarray(offc, dtype=np.int64),
        "key": cat(keys),
        "size": cat(sizes).astype(np.float64),
        "liq": cat(liqs).astype(np.float64),
        "bkr": cat(bkrs).astype(np.float64),
        "retail": cat(rets).astype(np.bool_),
        "cum_retail": cat(cr),
        "cum_other": cat(co),
    }


def _impact_tables(impacts: list[tuple[Any, Any]], n_venues: int) -> dict[str, np.ndarray]:
    """The venues' bid and ask impact models as kernel tables (``imp_*``) and the arbitrage
    depth weights (each venue's bid volume for a 1 % move, normalised)."""
    kinds, coefs, scales, ioff, kvs, kxs = [], [], [], [0], [], []
    weight = np.zeros(n_venues)
    for v, (bid, ask) in enumerate(impacts):
        for model in (bid, ask):
            kind, kv, kx, coef, scale = depth_spec(model)
            kinds.append(kind)
            coefs.append(coef)
            scales.append(scale)
            kvs.append(kv)
            kxs.append(kx)
            ioff.append(ioff[-1] + len(kv))
        weight[v] = float(bid.volume_for_move(0.01))
    weight = weight / weight.sum() if weight.sum() > 0 else np.full(n_venues, 1.0 / n_venues)
    return {
        "weight": weight,
        "imp_kind": np.asarray(kinds, dtype=np.int64),
        "imp_coef": np.asarray(coefs),
        "imp_scale": np.asarray(scales),
        "imp_off": np.asarray(ioff, dtype=np.int64),
        "imp_kv": np.concatenate(kvs) if kvs else np.zeros(0),
        "imp_kx": np.concatenate(kxs) if kxs else np.zeros(0),
    }


def _dip_ladder(
    venue_p0: np.ndarray,
    venue_share: np.ndarray,
    dip_levels: tuple[float, ...],
    dip_notional_quote: tuple[float, ...],
) -> tuple[np.ndarray, np.ndarray]:
    """Resting dip bids per venue, nearest level first: prices and sizes (base units), each
    venue holding its share of each level's notional."""
    n_venues = len(venue_p0)
    n_lv = len(dip_levels)
    dip_price = np.zeros((n_venues, n_lv))
    dip_base = np.zeros((n_venues, n_lv))
    if n_lv:
        order = np.argsort(-np.asarray(dip_levels), kind="stable")  # nearest level first
        lv = np.asarray(dip_levels)[order]
        nq = np.asarray(dip_notional_quote)[order]
        for v in range(n_venues):
            dip_price[v] = venue_p0[v] * (1.0 + lv)
            dip_base[v] = nq * venue_share[v] / dip_price[v]
    return dip_price, dip_base


def _collateral_arrays(
    book: tuple[np.ndarray, ...], collateral: dict[str, np.ndarray] | None
) -> dict[str, np.ndarray]:
    """The collateral subset's arrays (``c_*`` of :class:`StressIndex`; empty without one);
    ``book`` as for :func:`_sorted_blocks`."""
    if collateral is None or not len(collateral["rows"]):
        return {
            "c_venue": np.zeros(0, dtype=np.int64),
            "c_side": np.zeros(0, dtype=np.int8),
            "c_size": np.zeros(0),
            "c_retail": np.zeros(0, dtype=bool),
            "c_liq0": np.zeros(0),
            "c_bkr0": np.zeros(0),
            "c_kliq": np.zeros(0),
            "c_kbkr": np.zeros(0),
            "c_asset": np.zeros(0, dtype=np.int64),
        }
    side, size_base, liquidation_price, bankruptcy_price, segment, venue_code = book
    rows = collateral["rows"]
    c_side = side[rows].astype(np.int8)
    liq0 = liquidation_price[rows].copy()
    liq0 = np.where(np.isnan(liq0), np.where(c_side == 1, 0.0, np.inf), liq0)
    bkr0 = bankruptcy_price[rows].copy()
    bkr0 = np.where(np.isnan(bkr0), np.where(c_side == 1, 0.0, np.inf), bkr0)
    return {
        "c_venue": venue_code[rows].astype(np.int64),
        "c_side": c_side,
        "c_size": size_base[rows].astype(np.float64),
        "c_retail": segment[rows] == 0,
        "c_liq0": liq0,
        "c_bkr0": bkr0,
        "c_kliq": np.asarray(collateral["kliq"], dtype=np.float64),
        "c_kbkr": np.asarray(collateral["kbkr"], dtype=np.float64),
        "c_asset": np.asarray(collateral["asset"], dtype=np.int64),
    }


def _price_py(
    e: float,
    r: float,
    depth: float,
    v: int,
    imp_kind: np.ndarray,
    imp_coef: np.ndarray,
    imp_scale: np.ndarray,
    imp_off: np.ndarray,
    imp_kv: np.ndarray,
    imp_kx: np.ndarray,
    dip_price: np.ndarray,
    dip_base: np.ndarray,
    dip_on: bool,
) -> tuple[float, bool]:
    """Venue price for exogenous price ``e`` and routed net flow ``r`` (base units)."""
    j = 2 * v + 1 if r < 0.0 else 2 * v  # the ask side takes net buys, the bid side net sells
    a, b = imp_off[j], imp_off[j + 1]
    spec = (imp_kind[j], imp_kv[a:b], imp_kx[a:b], imp_coef[j], imp_scale[j])
    if r < 0.0:
        x = _move_fn(spec, -r / depth)
        if x >= X_MAX:
            return e * (1.0 + X_MAX), True
        return e * (1.0 + x), False
    n_lv = dip_price.shape[1] if dip_on else 0
    absorbed = 0.0
    last_level = math.inf
    m = 0
    while m < n_lv and dip_price[v, m] >= e:  # levels the exogenous move already traded through
        m += 1
    while True:
        x = _move_fn(spec, (r - absorbed) / depth)
        ex = x >= X_MAX
        p = e * (1.0 - (X_MAX if ex else x))
        if m >= n_lv or p > dip_price[v, m]:
            if p > last_level:
                return last_level, False
            return p, ex
        # the price reaches the next resting dip bid: it absorbs up to its volume
        last_level = dip_price[v, m]
        absorbed += dip_base[v, m]
        m += 1
        if absorbed >= r:
            return last_level, False


def _move_plain(spec: DepthSpec, v: float) -> float:
    return float(move_for_volume_plain(spec, v))


_move_fn = move_for_volume
_price_nb = njit(cache=True)(_price_py)
#: The same code run in plain Python, with the depth walk's plain twin.
_price_plain = types.FunctionType(
    _price_py.__code__, {**globals(), "_move_fn": _move_plain}, "price_plain_impl"
)


# The path kernel's steps. Each runs as plain Python in the plain twin and, for run_path_nb, is
# inlined by numba into the compiled step loop (_path_fn), which is compiled without reference
# counting (it allocates nothing): a step called per round and per venue then costs no call and
# no count per array argument, so the compiled path is as fast as one undivided function. They
# take the index's arrays flat and update the path state in place: ``k`` liquidated prefix per
# block (``k0`` at the step's start), ``sell``/``buy`` cumulative forced flow (base units),
# ``net``/``routed`` net and routed flow, ``price``, ``fund`` insurance funds, ``c_done``/
# ``c_step`` collateral positions liquidated and at which step, ``out`` the metrics.


def _retail_cut_py(
    cut, off, offc, cum_retail, k, c_venue, c_side, c_size, c_retail, c_done, sell, buy, out,
):  # fmt: skip
    """Retail close ``cut`` (a fraction of their initial size) of their open positions at market:
    longs sell, shorts buy (base units); the closed size is recorded as ``retail_cut_base``."""
    nc = c_size.shape[0]
    for v in range(out.shape[0]):
        for sd in range(2):
            blk = 2 * v + sd
            c0 = offc[blk]
            nb = off[blk + 1] - off[blk]
            open_r = cum_retail[c0 + nb] - cum_retail[c0 + k[blk]]
            for i in range(nc):
                if (
                    c_retail[i]
                    and not c_done[i]
                    and c_venue[i] == v
                    and (c_side[i] == 1) == (sd == 0)
                ):
                    open_r += c_size[i]
            if sd == 0:
                sell[v] += cut * open_r
            else:
                buy[v] += cut * open_r
            out[v, M_CUT] += cut * open_r


def _cross_sorted_py(
    e_ratio, depth, keep, arb, dip_on, off, offc, key, cum_retail, cum_other, p0, weight,
    imp_kind, imp_coef, imp_scale, imp_off, imp_kv, imp_kx, dip_price, dip_base, k, sell, buy,
    net, routed, price, out,
):  # fmt: skip
    """One round of the fixed point over the sorted blocks: arbitrage routes the net forced flow,
    each venue's price for its routed flow at the exogenous price ``p0 e_ratio``, then the
    positions that price crosses join the forced flow.

    Returns whether any position was liquidated."""
    nv = p0.shape[0]
    for v in range(nv):
        net[v] = sell[v] - buy[v]
    if arb > 0.0:
        B.route_flows(net, weight, arb, routed)
    else:
        for v in range(nv):
            routed[v] = net[v]
    new = False
    for v in range(nv):
        e = p0[v] * e_ratio
        p, ex = _price_fn(
            e, routed[v], depth, v, imp_kind, imp_coef, imp_scale, imp_off, imp_kv, imp_kx,
            dip_price, dip_base, dip_on,
        )  # fmt: skip
        price[v] = p
        if ex:
            out[v, M_BEXH] = 1.0
        for sd in range(2):
            blk = 2 * v + sd
            a = off[blk]
            bnd = off[blk + 1]
            q = -p if sd == 0 else p
            kn = _count_fn(key, a, bnd, k[blk], q)
            if kn > k[blk]:
                c0 = offc[blk]
                vol_new = keep * (cum_retail[c0 + kn] - cum_retail[c0 + k[blk]]) + (
                    cum_other[c0 + kn] - cum_other[c0 + k[blk]]
                )
                if sd == 0:
                    sell[v] += vol_new
                else:
                    buy[v] += vol_new
                k[blk] = kn
                new = True
    return new


def _cross_collateral_py(
    t, keep, coll_ratio, c_venue, c_side, c_size, c_retail, c_liq0, c_kliq, c_asset, price,
    c_done, c_step, sell, buy,
):  # fmt: skip
    """Collateral positions whose moved liquidation price the venue price crosses at step t join
    the forced flow. Returns whether any was liquidated."""
    new = False
    for i in range(c_size.shape[0]):
        if c_done[i]:
            continue
        v = c_venue[i]
        drop = 1.0 - coll_ratio[c_asset[i], t]
        q = c_size[i] * (keep if c_retail[i] else 1.0)
        if c_side[i] == 1:
            if price[v] <= c_liq0[i] + c_kliq[i] * drop:
                c_done[i] = True
                c_step[i] = t
                sell[v] += q
                new = True
        else:
            if price[v] >= c_liq0[i] - c_kliq[i] * drop:
                c_done[i] = True
                c_step[i] = t
                buy[v] += q
                new = True
    return new


def _settle_sorted_py(v, p, keep, k0, k, off, size, liq, bkr, retail, fee_rate, out):
    """Venue v's positions of the sorted blocks liquidated this step (prefix ``k0..k``), filled at
    ``p``: records notional and count; returns (deficit, clearance fees, bankrupt notional)."""
    bad = 0.0
    fees = 0.0
    bank_notional = 0.0
    for sd in range(2):
        blk = 2 * v + sd
        s = 1.0 if sd == 0 else -1.0
        for i in range(off[blk] + k0[blk], off[blk] + k[blk]):
            q = size[i] * (keep if retail[i] else 1.0)
            if sd == 0:
                out[v, M_LONG] += q * liq[i]
            else:
                out[v, M_SHORT] += q * liq[i]
            out[v, M_COUNT] += 1.0
            eq = _equity_fn(s, q, p, bkr[i])
            if eq < 0.0:
                bad -= eq
                bank_notional += q * bkr[i]
            else:
                fees += _fee_fn(fee_rate[v], q, p, eq)
    return bad, fees, bank_notional


def _settle_collateral_py(
    v, t, p, keep, coll_ratio, c_venue, c_side, c_size, c_retail, c_liq0, c_bkr0, c_kliq, c_kbkr,
    c_asset, c_step, fee_rate, out, bad, fees, bank_notional,
):  # fmt: skip
    """Venue v's collateral positions liquidated at step t, filled at ``p``, added to the running
    (deficit, clearance fees, bankrupt notional) of :func:`_settle_sorted_py`."""
    for i in range(c_size.shape[0]):
        if c_step[i] != t or c_venue[i] != v:
            continue
        drop = 1.0 - coll_ratio[c_asset[i], t]
        q = c_size[i] * (keep if c_retail[i] else 1.0)
        if c_side[i] == 1:
            lq = c_liq0[i] + c_kliq[i] * drop
            bk = c_bkr0[i] + c_kbkr[i] * drop
            out[v, M_LONG] += q * lq
            eq = _equity_fn(1.0, q, p, bk)
        else:
            lq = c_liq0[i] - c_kliq[i] * drop
            bk = c_bkr0[i] - c_kbkr[i] * drop
            out[v, M_SHORT] += q * lq
            eq = _equity_fn(-1.0, q, p, bk)
        out[v, M_COUNT] += 1.0
        if eq < 0.0:
            bad -= eq
            bank_notional += q * bk
        else:
            fees += _fee_fn(fee_rate[v], q, p, eq)
    return bad, fees, bank_notional


def _settle_py(
    t, keep, k0, coll_ratio, off, size, liq, bkr, retail, c_venue, c_side, c_size, c_retail,
    c_liq0, c_bkr0, c_kliq, c_kbkr, c_asset, fee_rate, k, price, fund, c_step, out,
):  # fmt: skip
    """Accounting at step t's final prices (loss-ledger primitives, :mod:`liqcascade.ledger`):
    fees into each fund, the deficit down the waterfall, and the price range."""
    for v in range(price.shape[0]):
        p = price[v]
        bad, fees, bank_notional = _settle_sorted_fn(
            v, p, keep, k0, k, off, size, liq, bkr, retail, fee_rate, out
        )
        bad, fees, bank_notional = _settle_collateral_fn(
            v, t, p, keep, coll_ratio, c_venue, c_side, c_size, c_retail, c_liq0, c_bkr0, c_kliq,
            c_kbkr, c_asset, c_step, fee_rate, out, bad, fees, bank_notional,
        )  # fmt: skip
        fund[v] += fees
        out[v, M_FEES] += fees
        # no backstop vault in this engine; ADL counterparties cover whatever the fund cannot
        draw, _vault, adl_cover, uncovered = _waterfall_fn(bad, fund[v], 0.0, math.inf)
        fund[v] -= draw
        out[v, M_USED] += draw
        out[v, M_DEFICIT] += bad
        out[v, M_UNCOV] += uncovered
        if adl_cover > 0.0:
            out[v, M_ADLL] += adl_cover
            out[v, M_ADLN] += bank_notional * adl_cover / bad
            out[v, M_FEXH] = 1.0
        if p < out[v, M_MIN]:
            out[v, M_MIN] = p
        if p > out[v, M_MAX]:
            out[v, M_MAX] = p


def _path_py(
    price_ratio, coll_ratio, step_s, bvec, off, offc, key, size, liq, bkr, retail, cum_retail,
    cum_other, c_venue, c_side, c_size, c_retail, c_liq0, c_bkr0, c_kliq, c_kbkr, c_asset, p0,
    fee_rate, weight, share, imp_kind, imp_coef, imp_scale, imp_off, imp_kv, imp_kx, dip_price,
    dip_base, k, k0, sell, buy, net, routed, price, fund, c_done, c_step, out,
):  # fmt: skip
    """The path's steps on the state :func:`run_path_py` allocated. Per step: behaviours
    (market-maker depth, :func:`_retail_cut_py`), the fixed point (rounds of
    :func:`_cross_sorted_py` and :func:`_cross_collateral_py`), the accounting
    (:func:`_settle_py`), then the realised volatility the next step's behaviours read."""
    nv = p0.shape[0]
    keep = 1.0
    var = 0.0
    retail_on = bvec[B.B_RETAIL_ON] > 0.0
    mm_on = bvec[B.B_MM_ON] > 0.0
    arb = bvec[B.B_ARB_LINK] if bvec[B.B_ARB_ON] > 0.0 else 0.0
    dip_on = bvec[B.B_DIP_ON] > 0.0
    lam = bvec[B.B_RETAIL_LAM] if retail_on else bvec[B.B_MM_LAM]
    dt = step_s if step_s > 0.0 else 60.0
    prev_mean = 1.0
    for t in range(1, price_ratio.shape[0]):
        vol = B.annualised_vol(var, dt)
        depth = (
            B.mm_depth_scale(vol, bvec[B.B_MM_LO], bvec[B.B_MM_HI], bvec[B.B_MM_FLOOR])
            if mm_on
            else 1.0
        )
        if retail_on:
            f = B.retail_keep_factor(vol, bvec[B.B_RETAIL_THR], bvec[B.B_RETAIL_CUT])
            if f < 1.0:
                _retail_cut_fn(
                    keep * (1.0 - f), off, offc, cum_retail, k, c_venue, c_side, c_size, c_retail,
                    c_done, sell, buy, out,
                )  # fmt: skip
                keep = keep * f
        for b in range(2 * nv):
            k0[b] = k[b]
        for _r in range(MAX_ROUNDS):  # the fixed point: until a round liquidates nothing
            new = _cross_sorted_fn(
                price_ratio[t], depth, keep, arb, dip_on, off, offc, key, cum_retail, cum_other,
                p0, weight, imp_kind, imp_coef, imp_scale, imp_off, imp_kv, imp_kx, dip_price,
                dip_base, k, sell, buy, net, routed, price, out,
            )  # fmt: skip
            if _cross_collateral_fn(
                t, keep, coll_ratio, c_venue, c_side, c_size, c_retail, c_liq0, c_kliq, c_asset,
                price, c_done, c_step, sell, buy,
            ):  # fmt: skip
                new = True
            if not new:
                break
        _settle_fn(
            t, keep, k0, coll_ratio, off, size, liq, bkr, retail, c_venue, c_side, c_size,
            c_retail, c_liq0, c_bkr0, c_kliq, c_kbkr, c_asset, fee_rate, k, price, fund, c_step,
            out,
        )  # fmt: skip
        mean = 0.0
        for v in range(nv):
            mean += share[v] * price[v] / p0[v]
        r = math.log(mean / prev_mean)
        prev_mean = mean
        var = B.ewma_update(var, r, lam)


def run_path_py(
    price_ratio: np.ndarray, coll_ratio: np.ndarray, step_s: float, bvec: np.ndarray,
    off: np.ndarray, offc: np.ndarray, key: np.ndarray, size: np.ndarray, liq: np.ndarray,
    bkr: np.ndarray, retail: np.ndarray, cum_retail: np.ndarray, cum_other: np.ndarray,
    c_venue: np.ndarray, c_side: np.ndarray, c_size: np.ndarray, c_retail: np.ndarray,
    c_liq0: np.ndarray, c_bkr0: np.ndarray, c_kliq: np.ndarray, c_kbkr: np.ndarray,
    c_asset: np.ndarray, p0: np.ndarray, fee_rate: np.ndarray, fund0: np.ndarray,
    weight: np.ndarray, share: np.ndarray, imp_kind: np.ndarray, imp_coef: np.ndarray,
    imp_scale: np.ndarray, imp_off: np.ndarray, imp_kv: np.ndarray, imp_kx: np.ndarray,
    dip_price: np.ndarray, dip_base: np.ndarray,
) -> np.ndarray:  # fmt: skip
    """One path through the indexed book; returns ``out[venue, metric]`` (see :data:`METRICS`).

    Allocates the path state and runs the steps (:func:`_path_py`). The compiled kernel is this
    code under numba; :func:`run_path_plain` runs the same code objects in plain Python with the
    plain helpers (``_price_plain``, ``crossed_count_plain``).
    """
    nv = p0.shape[0]
    nc = c_size.shape[0]
    out = np.zeros((nv, N_METRICS))
    price = p0.copy()
    fund = fund0.copy()
    for v in range(nv):
        out[v, M_MIN] = p0[v]
        out[v, M_MAX] = p0[v]
        out[v, M_FEND] = fund0[v]
    _path_fn(
        price_ratio, coll_ratio, step_s, bvec, off, offc, key, size, liq, bkr, retail, cum_retail,
        cum_other, c_venue, c_side, c_size, c_retail, c_liq0, c_bkr0, c_kliq, c_kbkr, c_asset, p0,
        fee_rate, weight, share, imp_kind, imp_coef, imp_scale, imp_off, imp_kv, imp_kx, dip_price,
        dip_base, np.zeros(2 * nv, dtype=np.int64), np.zeros(2 * nv, dtype=np.int64),
        np.zeros(nv), np.zeros(nv), np.zeros(nv), np.zeros(nv), price, fund,
        np.zeros(nc, dtype=np.bool_), np.full(nc, -1, dtype=np.int64), out,
    )  # fmt: skip
    for v in range(nv):
        out[v, M_FINAL] = price[v]
        out[v, M_FEND] = fund[v]
    return out


_price_fn = _price_nb
_count_fn = crossed_count
_equity_fn = njit(cache=True)(position_equity_quote)
_fee_fn = njit(cache=True)(clearance_fee_quote)
_waterfall_fn = njit(cache=True)(waterfall)
# steps inlined into the step loop; the loop without reference counting (``_nrt=False``, the
# option numba's own non-allocating kernels use): compiling fails if it ever allocates
_retail_cut_fn = njit(cache=True, inline="always")(_retail_cut_py)
_cross_sorted_fn = njit(cache=True, inline="always")(_cross_sorted_py)
_cross_collateral_fn = njit(cache=True, inline="always")(_cross_collateral_py)
_settle_sorted_fn = njit(cache=True, inline="always")(_settle_sorted_py)
_settle_collateral_fn = njit(cache=True, inline="always")(_settle_collateral_py)
_settle_fn = njit(cache=True, inline="always")(_settle_py)
_NO_REFCOUNT: dict[str, Any] = {"_nrt": False}  # a numba option its typing stubs omit
_path_fn = njit(cache=True, **_NO_REFCOUNT)(_path_py)
_run_nb = njit(cache=True)(run_path_py)

#: Globals of the plain twin: the same code objects, each step and helper its plain version.
_plain_ns: dict[str, Any] = {
    **globals(),
    "_price_fn": _price_plain,
    "_count_fn": crossed_count_plain,
    "_equity_fn": position_equity_quote,
    "_fee_fn": clearance_fee_quote,
    "_waterfall_fn": waterfall,
}


def _plain(fn: Any) -> Any:
    """``fn``'s code run in plain Python against :data:`_plain_ns`."""
    return types.FunctionType(fn.__code__, _plain_ns, fn.__name__.removesuffix("_py") + "_plain")


_plain_ns.update(
    _retail_cut_fn=_plain(_retail_cut_py),
    _cross_sorted_fn=_plain(_cross_sorted_py),
    _cross_collateral_fn=_plain(_cross_collateral_py),
    _settle_sorted_fn=_plain(_settle_sorted_py),
    _settle_collateral_fn=_plain(_settle_collateral_py),
    _settle_fn=_plain(_settle_py),
    _path_fn=_plain(_path_py),
)
_run_plain = _plain(run_path_py)


def _args(ix: StressIndex) -> tuple:
    return (
        ix.off, ix.offc, ix.key, ix.size, ix.liq, ix.bkr, ix.retail, ix.cum_retail, ix.cum_other,
        ix.c_venue, ix.c_side, ix.c_size, ix.c_retail, ix.c_liq0, ix.c_bkr0, ix.c_kliq, ix.c_kbkr, ix.c_asset,
        ix.p0, ix.fee_rate, ix.fund0, ix.weight, ix.share, ix.imp_kind, ix.imp_coef, ix.imp_scale,
        ix.imp_off, ix.imp_kv, ix.imp_kx, ix.dip_price, ix.dip_base,
    )  # fmt: skip


#: ``(index, price_ratio, coll_ratio, step_s, bvec) -> out[venue, metric]``
PathRunner = Callable[[StressIndex, np.ndarray, np.ndarray, float, np.ndarray], np.ndarray]


def _path_runner(run: Any, name: str, doc: str) -> PathRunner:
    """The public entry point of the path kernel ``run`` (compiled or plain): it unpacks the
    index, so :func:`run_path_nb` and its twin :func:`run_path_plain` differ only in ``run``."""

    def runner(
        ix: StressIndex,
        price_ratio: np.ndarray,
        coll_ratio: np.ndarray,
        step_s: float,
        bvec: np.ndarray,
    ) -> np.ndarray:
        coll = coll_ratio if coll_ratio.shape[0] else np.ones((1, len(price_ratio)))
        ratio = np.ascontiguousarray(price_ratio, dtype=np.float64)
        return run(ratio, coll, float(step_s), bvec, *_args(ix))

    runner.__name__ = runner.__qualname__ = name
    runner.__doc__ = doc
    return runner


#: ``run_path_nb(ix, price_ratio, coll_ratio, step_s, bvec)``: the compiled path kernel.
run_path_nb = _path_runner(
    _run_nb,
    "run_path_nb",
    "Compiled path kernel on an index; ``out[venue, metric]`` (see :data:`METRICS`).",
)
#: ``run_path_plain(ix, price_ratio, coll_ratio, step_s, bvec)``: its plain twin.
run_path_plain = _path_runner(
    _run_plain,
    "run_path_plain",
    "Plain-Python twin of :func:`run_path_nb` (slow; used by the agreement test).",
)
