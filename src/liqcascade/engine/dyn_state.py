"""State of a dynamic run, typed, and the step functions that advance it.

A run is a :class:`RunState`: the positions (:class:`PositionState`, struct of arrays), one
:class:`VenueState` per venue (its market, process parameters, insurance fund and vault state,
and a :class:`SideQueue` of sorted triggers per side), the :class:`Timeline` buffers and the
ledger. :func:`advance` runs one time step; each numbered stage of docs/engine-dynamic.md is one
function here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from liqcascade.adl import ADLPolicy
from liqcascade.engine import dyn_kernels as K
from liqcascade.engine.dyn_adl import settle_adl
from liqcascade.engine.dyn_config import PROCESSES, DynamicConfig, VenueProcess
from liqcascade.engine.dyn_positions import PositionArrays
from liqcascade.engine.dyn_tiers import TierSet
from liqcascade.engine.kernels import crossed_count
from liqcascade.errors import InputError
from liqcascade.funds import BackstopVault, InsuranceFund, Ledger, empty_chunk
from liqcascade.markets import ImpactTable, VenueMarket, arb_volume

__all__ = [
    "PositionState",
    "RunState",
    "SideQueue",
    "Timeline",
    "VenueState",
    "advance",
    "path_array",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


def _no_index() -> IntArray:
    return np.zeros(0, np.int64)


# ---------------------------------------------------------------------------------------------
# state
# ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class PositionState:
    """Mutable per-position arrays of a run (a copy of the :class:`PositionArrays` it starts from).

    ``margin_quote`` effective margin, ``mmr``/``cum_quote`` the tier at the liquidation price,
    ``last_partial_s`` time of the last partial liquidation, ``requeue`` 1 when a kernel gave the
    position a new trigger, ``funding_paid_quote`` funding paid so far.
    """

    account_id: IntArray
    side: npt.NDArray[np.int8]
    size_base: FloatArray
    entry_price: FloatArray
    margin_quote: FloatArray
    mmr: FloatArray
    cum_quote: FloatArray
    liquidation_price: FloatArray
    bankruptcy_price: FloatArray
    active: BoolArray
    last_partial_s: FloatArray
    requeue: npt.NDArray[np.uint8]
    funding_paid_quote: FloatArray
    tier_table: IntArray
    tiers: TierSet

    @classmethod
    def from_arrays(cls, pos: PositionArrays) -> PositionState:
        n = len(pos)
        if pos.tiers is not None and pos.tier_table is not None:
            tiers, table_of = pos.tiers, pos.tier_table
        else:
            tiers, table_of = TierSet.fixed(pos.mmr, pos.cum_quote)
        return cls(
            account_id=pos.account_id,
            side=pos.side,
            size_base=pos.size_base.copy(),
            entry_price=pos.entry_price,
            margin_quote=pos.margin_quote.copy(),
            mmr=pos.mmr.copy(),
            cum_quote=pos.cum_quote.copy(),
            liquidation_price=pos.liquidation_price.copy(),
            bankruptcy_price=pos.bankruptcy_price.copy(),
            active=np.ones(n, dtype=np.bool_),
            last_partial_s=np.full(n, -np.inf),
            requeue=np.zeros(n, dtype=np.uint8),
            funding_paid_quote=np.zeros(n),
            tier_table=table_of,
            tiers=tiers,
        )

    def kernel_arrays(self) -> tuple[Any, ...]:
        """The ``pos`` tuple of :func:`dyn_kernels.liquidate_batch`."""
        return (
            self.side, self.size_base, self.entry_price, self.margin_quote, self.mmr,
            self.cum_quote, self.liquidation_price, self.bankruptcy_price, self.active,
            self.last_partial_s, self.requeue, self.tier_table,
        )  # fmt: skip

    def __len__(self) -> int:
        return len(self.side)


@dataclass(slots=True)
class SideQueue:
    """Triggers of one venue and side, sorted in the order the price reaches them.

    Longs are sorted by liquidation price descending, shorts ascending: ``keys`` (``-side *
    liquidation_price`` in that order) ascend, as :func:`liqcascade.engine.kernels.crossed_count`
    reads them; ``ptr`` is how far the price has crossed them. ``requeued`` holds positions that got a new trigger after a
    partial liquidation (checked every step). ``members`` is every position of the venue and side.
    """

    side: int
    members: IntArray
    order: IntArray
    keys: FloatArray
    ptr: int = 0
    requeued: IntArray = field(default_factory=_no_index)

    @classmethod
    def build(cls, venue_positions: IntArray, side: int, pos: PositionState) -> SideQueue:
        members = venue_positions[pos.side[venue_positions] == side]
        ix = venue_positions
        liq = pos.liquidation_price
        ix = ix[(pos.side[ix] == side) & pos.active[ix] & np.isfinite(liq[ix])]
        order = ix[_trigger_order(liq[ix], side)]
        return cls(side, members, order, np.ascontiguousarray(-side * liq[order]))

    def resort(self, pos: PositionState) -> None:
        """Sort the not yet crossed triggers again (after funding moved them)."""
        rest = self.order[self.ptr :]
        rest = rest[pos.active[rest]]
        self.order = rest[_trigger_order(pos.liquidation_price[rest], self.side)]
        self.keys = np.ascontiguousarray(-self.side * pos.liquidation_price[self.order])
        self.ptr = 0

    def crossed(self, pos: PositionState, p_mark: float) -> IntArray:
        """Positions whose trigger ``p_mark`` crossed this step, in trigger order."""
        liq = pos.liquidation_price
        start = self.ptr
        self.ptr = crossed_count(self.keys, 0, len(self.keys), start, -self.side * p_mark)
        trig = self.order[start : self.ptr]
        d = self.requeued
        if len(d):
            d = d[pos.active[d]]
            hit = liq[d] >= p_mark if self.side > 0 else liq[d] <= p_mark
            self.requeued = d
            if hit.any():
                trig = np.concatenate([trig, d[hit]])
                trig = trig[_trigger_order(liq[trig], self.side)]
        return np.ascontiguousarray(trig, np.int64)

    def take_requeued(self, trig: IntArray, pos: PositionState) -> None:
        """Move the positions of ``trig`` a kernel gave a new trigger into ``requeued``."""
        rq = trig[pos.requeue[trig] == 1]
        if len(rq):
            pos.requeue[rq] = 0
            rq = rq[pos.active[rq]]
            self.requeued = np.unique(np.concatenate([self.requeued, rq]))


def _trigger_order(liq: FloatArray, side: int) -> IntArray:
    return np.argsort(-liq if side > 0 else liq, kind="stable")


@dataclass(slots=True)
class VenueState:
    """One venue of a run: market, process, loss absorbers, trigger queues and running totals.

    ``fund_state`` is the kernel's fund vector (indices in ``dyn_kernels.FUND``), ``prm`` its
    parameter vector (``dyn_kernels.PRM``); ``adl_stats`` = (notional, haircut, needed, losers).
    """

    code: int
    name: str
    market: VenueMarket
    process: VenueProcess
    proc_code: int
    prm: FloatArray
    policy: ADLPolicy
    fund: InsuranceFund
    vault: BackstopVault
    fund_state: FloatArray
    positions: IntArray
    long: SideQueue
    short: SideQueue
    next_funding_s: float
    funding_external_quote: float = 0.0
    adl_stats: FloatArray = field(default_factory=lambda: np.zeros(4))

    def queue(self, side: int) -> SideQueue:
        return self.long if side > 0 else self.short

    def finish(self) -> None:
        """Copy the kernel's fund vector back into the fund and vault objects."""
        self.fund.balance_quote = self.fund_state[0]
        self.vault.held_qty_base = self.fund_state[4]
        self.vault.held_cost_quote = self.fund_state[5]


@dataclass(slots=True)
class Timeline:
    """Per-(step, venue) buffers, shape (steps + 1, venues); see DynamicResult.timeline."""

    price: FloatArray
    fundamental_price: FloatArray
    liquidated_notional_long: FloatArray
    liquidated_notional_short: FloatArray
    liquidated_count: IntArray
    forced_volume_base: FloatArray
    arb_volume_base: FloatArray
    adl_notional: FloatArray
    depth_scale: FloatArray
    insurance_fund_quote: FloatArray
    vault_capacity_quote: FloatArray

    @classmethod
    def empty(cls, steps: int, nv: int) -> Timeline:
        z = lambda: np.zeros((steps + 1, nv))  # noqa: E731
        return cls(
            z(), z(), z(), z(), np.zeros((steps + 1, nv), np.int64), z(), z(), z(),
            np.ones((steps + 1, nv)), z(), z(),
        )  # fmt: skip

    def record(self, t: int, venues: list[VenueState], exo: FloatArray) -> None:
        for vs in venues:
            v = vs.code
            self.price[t, v] = vs.market.price
            self.fundamental_price[t, v] = exo[v]
            self.depth_scale[t, v] = vs.market.scale
            self.insurance_fund_quote[t, v] = vs.fund_state[0]
            self.vault_capacity_quote[t, v] = vs.fund_state[2]

    def add_liquidated(self, t: int, v: int, side: int, notional: float, count: int) -> None:
        if side > 0:
            self.liquidated_notional_long[t, v] += notional
        else:
            self.liquidated_notional_short[t, v] += notional
        self.liquidated_count[t, v] += count


@dataclass(slots=True)
class RunState:
    """Everything a run mutates, plus its fixed inputs (config, returns, depth multipliers)."""

    cfg: DynamicConfig
    pos: PositionState
    venues: list[VenueState]
    timeline: Timeline
    ledger: Ledger
    rng: np.random.Generator
    rets: FloatArray
    depth_scale_path: FloatArray | None
    hub: int
    keep_gap: float
    exo: FloatArray
    p_prev: FloatArray


# ---------------------------------------------------------------------------------------------
# set-up
# ---------------------------------------------------------------------------------------------


def impact_tables(impact: Any) -> tuple[ImpactTable, ImpactTable]:
    """(bid, ask) depth tables of an impact model, an ImpactTable or a (bid, ask) pair."""
    if isinstance(impact, ImpactTable):
        return impact, impact
    if isinstance(impact, tuple) and len(impact) == 2:
        return impact_tables(impact[0])[0], impact_tables(impact[1])[0]
    if hasattr(impact, "for_side"):
        return ImpactTable.from_impact(impact.for_side("bid")), ImpactTable.from_impact(
            impact.for_side("ask")
        )
    t = ImpactTable.from_impact(impact)
    return t, t


def process_vector(proc: VenueProcess, fee_rate: float) -> FloatArray:
    """The kernel's parameter vector of a venue process (indices in ``dyn_kernels.PRM``)."""
    p = np.zeros(K.N_PRM)
    p[0] = fee_rate
    p[1] = 1.0 if proc.fee_to_fund else 0.0
    p[2] = proc.partial_threshold_quote
    p[3] = proc.partial_fraction
    p[4] = proc.cooldown_s
    p[5] = proc.backstop_ratio
    p[6] = 1.0 if proc.vault_mode == "unwind" else 0.0
    p[7] = 1.0 if proc.has_vault else 0.0
    p[8] = proc.bankruptcy_adjustment
    p[9] = proc.spread_to_mmr
    p[10] = proc.max_portion
    p[11] = proc.min_notional_quote
    p[12] = proc.max_notional_block_quote
    p[13] = proc.max_insurance_lost_block_quote
    return p


def clearance_fee_rate(proc: VenueProcess, venue: str, symbol: str | None) -> float:
    """The configured clearance fee, else the venue rules' liquidation fee, else 0."""
    if proc.clearance_fee_rate is not None:
        return float(proc.clearance_fee_rate)
    try:
        from liqcascade.venues import load_venue

        return float(load_venue(venue, symbol or "BTCUSDT").liquidation_fee_rate)
    except Exception:  # noqa: BLE001 - no rules: no fee
        return 0.0


def path_array(path: Any, steps: int, venues: tuple[str, ...]) -> FloatArray:
    """Per-step exogenous relative returns, shape (steps, n_venues)."""
    out = np.zeros((steps, len(venues)))
    if path is None:
        return out
    if isinstance(path, Mapping):
        for name, p in path.items():
            if name not in venues:
                raise InputError(
                    f"path: venue {name!r} not simulated (venues: {', '.join(venues)})"
                )
            out[:, venues.index(name)] = path_array(p, steps, ("x",))[:, 0]
        return out
    arr = np.atleast_1d(np.asarray(path, dtype=np.float64))
    if arr.ndim != 1:
        raise InputError("path: expected a scalar shock or a 1-D array of per-step returns")
    if len(arr) > steps:
        raise InputError(f"path: {len(arr)} returns but only {steps} steps configured")
    bad = np.flatnonzero(~np.isfinite(arr) | (arr <= -1.0))
    if len(bad):
        raise InputError(
            f"path[{bad[0]}]: a per-step return must be finite and > -1, got {arr[bad[0]]}"
        )
    out[: len(arr), :] = arr[:, None]
    return out


def venue_state(
    code: int,
    name: str,
    symbol: str | None,
    market: VenueMarket,
    cfg: DynamicConfig,
    positions: PositionArrays,
    state: PositionState,
) -> VenueState:
    """A venue's run state: its process, fund, vault and the sorted trigger queues."""
    proc = cfg.process_for(name)
    fund = InsuranceFund(proc.insurance_fund_quote, proc.insurance_fund_floor_quote)
    vault = BackstopVault(proc.vault_capital_quote if proc.has_vault else 0.0, proc.vault_mode)
    fstate = np.zeros(K.N_FUND)
    fstate[0], fstate[1], fstate[2] = fund.balance_quote, fund.floor_quote, vault.capital_quote
    ix = np.flatnonzero(positions.venue_code == code)
    phase = proc.funding_phase_s
    return VenueState(
        code=code,
        name=name,
        market=market,
        process=proc,
        proc_code=PROCESSES[proc.process],
        prm=process_vector(proc, clearance_fee_rate(proc, name, symbol)),
        policy=ADLPolicy.parse(proc.adl_policy),
        fund=fund,
        vault=vault,
        fund_state=fstate,
        positions=ix,
        long=SideQueue.build(ix, 1, state),
        short=SideQueue.build(ix, -1, state),
        next_funding_s=phase if phase is not None else proc.funding_interval_s,
    )


# ---------------------------------------------------------------------------------------------
# one step
# ---------------------------------------------------------------------------------------------


def advance(run: RunState, t: int) -> int:
    """Run step ``t`` (1-based); returns the number of ledger events it wrote."""
    dt = float(run.cfg.dt_s)
    move_markets(run, t, dt)
    arbitrage(run, t)
    stress_depth(run, t, dt)
    settle_funding(run, t * dt)
    events = 0
    for vs in run.venues:
        events += liquidate_venue(run, vs, t, t * dt)
    return events


def move_markets(run: RunState, t: int, dt: float) -> None:
    """Stages 1-2: eaten depth refills, then the exogenous return moves the fundamental price."""
    for vs in run.venues:
        v = vs.code
        vs.market.recover(dt)
        r = run.rets[t - 1, v]
        if r != 0.0:
            vs.market.apply_return(float(r))
            run.exo[v] *= 1.0 + r


def arbitrage(run: RunState, t: int) -> None:
    """Stage 3: each venue's price gap to the hub shrinks, trading through both books."""
    if len(run.venues) < 2 or run.cfg.arb_rate_per_s <= 0:
        return
    hub = run.venues[run.hub].market
    for vs in run.venues:
        if vs.code == run.hub:
            continue
        m = vs.market
        dear, cheap = (m, hub) if m.price > hub.price else (hub, m)
        q = arb_volume(dear, cheap, run.keep_gap)
        if q > 0:
            dear.execute(1.0, q)
            cheap.execute(-1.0, q)
            run.timeline.arb_volume_base[t, vs.code] += q


def stress_depth(run: RunState, t: int, dt: float) -> None:
    """Stage 2 (after trading): the stress rule and the exogenous depth multiplier."""
    ds = run.depth_scale_path
    for vs in run.venues:
        m = vs.market
        m.update_stress(t, dt)
        if ds is not None:
            m.scale = m.scale * float(ds[min(t - 1, len(ds) - 1)])


def settle_funding(run: RunState, t_s: float) -> None:
    """Stage 4: funding at each venue's interval boundaries moves margins and triggers."""
    pos = run.pos
    for vs in run.venues:
        proc = vs.process
        while t_s >= vs.next_funding_s - 1e-9:
            vs.next_funding_s += proc.funding_interval_s
            ix = vs.positions[pos.active[vs.positions]]
            if len(ix) == 0 or proc.funding_rate == 0.0:
                continue
            pay = _pay_funding(pos, ix, vs.market.price, proc.funding_rate)
            vs.funding_external_quote += pay.sum()
            vs.long.resort(pos)
            vs.short.resort(pos)


def _pay_funding(pos: PositionState, ix: IntArray, price: float, rate: float) -> FloatArray:
    """Charge funding ``side*size*price*rate`` to positions ``ix``; their triggers move with it."""
    sf = pos.side[ix].astype(np.float64)
    size = pos.size_base[ix]
    pay = sf * size * price * rate
    K.pay_funding(np.ascontiguousarray(ix, np.int64), pay, pos.kernel_arrays(), pos.tiers.arrays())
    pos.funding_paid_quote[ix] += pay
    return pay


def liquidate_venue(run: RunState, vs: VenueState, t: int, t_s: float) -> int:
    """Stages 5-6 for one venue: each side's crossed triggers, then ADL of what is left."""
    vs.fund_state[3] = 0.0  # dYdX per-block insurance counter
    p_mark = vs.market.price
    events = 0
    for s in (1, -1):
        trig = vs.queue(s).crossed(run.pos, p_mark)
        if len(trig):
            events += _liquidate_side(run, vs, s, trig, t, t_s, p_mark)
    return events


def _liquidate_side(
    run: RunState, vs: VenueState, s: int, trig: IntArray, t: int, t_s: float, p_mark: float
) -> int:
    """Run the venue's process on ``trig`` (one side); book its events and settle its ADL."""
    nt = len(trig)
    ch = empty_chunk(nt)
    pend_pos = np.zeros(nt, np.int64)
    pend_x = np.zeros(nt)
    n_ev, n_pend = _run_kernel(run, vs, s, trig, t_s, p_mark, ch, pend_pos, pend_x)
    events = 0
    if n_ev:
        chunk = {k: a[:n_ev] for k, a in ch.items()}
        chunk["step"][:] = t
        chunk["venue_code"][:] = vs.code
        chunk["side"][:] = s
        run.ledger.append(chunk)
        notional = float(np.dot(chunk["qty_base"], chunk["ref_price"]))
        run.timeline.add_liquidated(t, vs.code, s, notional, n_ev)
        forced = float(chunk["qty_base"][chunk["kind"] <= 1].sum())
        run.timeline.forced_volume_base[t, vs.code] += forced
        events += n_ev
    vs.queue(s).take_requeued(trig, run.pos)
    if n_pend:
        events += _settle_pending(run, vs, s, pend_pos[:n_pend], pend_x[:n_pend], t)
    return events


def _run_kernel(
    run: RunState,
    vs: VenueState,
    s: int,
    trig: IntArray,
    t_s: float,
    p_mark: float,
    ch: dict[str, np.ndarray],
    pend_pos: IntArray,
    pend_x: FloatArray,
) -> tuple[int, int]:
    """Call :func:`dyn_kernels.liquidate_batch` and store the eaten depth it returns."""
    m = vs.market
    pos = run.pos
    sigma = 1.0 if s > 0 else -1.0
    tab = m.table(sigma)
    book = (tab.volume_base, tab.move, tab.cum_for(sigma), sigma, m.side_anchor(sigma), m.scale)
    ev = (
        ch["kind"], ch["position"], ch["qty_base"], ch["ref_price"], ch["exec_price"],
        ch["liq_price"], ch["trader_pnl"], ch["fee"], ch["insurance_fund_change"],
        ch["vault_pnl"], ch["bad_debt"], ch["returned_quote"],
    )  # fmt: skip
    n_ev, n_pend, new_e = K.liquidate_batch(
        trig, t_s, p_mark, run.p_prev[vs.code], vs.proc_code, vs.prm, vs.fund_state,
        pos.kernel_arrays(), pos.tiers.arrays(), book, m.eaten(sigma), ev, (pend_pos, pend_x),
    )  # fmt: skip
    m.set_eaten(sigma, new_e)
    return int(n_ev), int(n_pend)


def _settle_pending(
    run: RunState, vs: VenueState, s: int, pend: IntArray, xprice: FloatArray, t: int
) -> int:
    """Stage 6: ADL of the positions the fund or vault would not take; returns its events."""
    adl_n, ch = settle_adl(run.pos, vs, pend, xprice, s, t, run.rng, vs.queue(-s).members)
    run.ledger.append(ch)
    lo = ch["kind"] == 3
    notional = float(np.dot(ch["qty_base"][lo], ch["ref_price"][lo]))
    run.timeline.add_liquidated(t, vs.code, s, notional, int(lo.sum()))
    run.timeline.adl_notional[t, vs.code] += adl_n
    return len(ch["position"])


def is_moving(tl: Timeline, t: int) -> bool:
    """True if any venue's price moved in step ``t`` (relative 1e-12)."""
    prev = tl.price[t - 1]
    return bool(np.any(np.abs(tl.price[t] - prev) > 1e-12 * np.abs(prev)))


def quiet_horizon(rets: FloatArray) -> int:
    """Number of steps until the exogenous path is over (last non-zero return, 1-based)."""
    return int(np.max(np.flatnonzero(np.any(rets != 0, axis=1)), initial=-1)) + 1


def arb_keep(cfg: DynamicConfig) -> float:
    """Fraction of a cross-venue log price gap that survives one step of arbitrage."""
    return math.exp(-cfg.arb_rate_per_s * float(cfg.dt_s))
