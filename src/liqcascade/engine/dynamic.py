"""Dynamic cascade: time-stepped liquidations with each venue's own process (docs/engine-dynamic.md).

Each step (default 1 s):

1. the exogenous path moves every venue's fundamental price (or only ``shock_venues``);
2. eaten depth refills with its half-life; the stress rule scales depth down after a drawdown;
3. arbitrage shrinks each venue's price gap to the hub venue, trading through both books;
4. funding is settled at each venue's interval boundaries (it moves margins and triggers);
5. positions whose trigger the venue price (mark) crossed are liquidated in order of exposure by
   the venue's process (:mod:`liqcascade.engine.dyn_kernels`): Binance-style close at the bankruptcy
   price with insurance fund, Hyperliquid market orders / partial liquidation / backstop vault,
   dYdX v4 fillable-price orders with insurance-fund delta; each forced order walks the book and
   moves the price (:mod:`liqcascade.markets`);
6. bankrupt positions the fund or vault will not take are auto-deleveraged (:mod:`liqcascade.adl`).

Triggers are kept sorted per venue and side, so a step only touches the positions that crossed
(pointer walk) plus the few that were partially liquidated (re-queued with a new trigger).

Every dollar is booked in a per-event ledger (:mod:`liqcascade.funds`):
trader_pnl + fee + insurance_fund_change + vault_pnl + adl_transfer + bad_debt = 0 per event.

Modules: :mod:`~liqcascade.engine.dyn_config` (configuration), :mod:`~liqcascade.engine.dyn_positions`
(positions), :mod:`~liqcascade.engine.dyn_state` (the typed run state and one function per stage),
:mod:`~liqcascade.engine.dyn_adl` (stage 6), :mod:`~liqcascade.engine.dyn_kernels` (numba kernels),
:mod:`~liqcascade.engine.dyn_result` (result). This module holds the entry points.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import msgspec
import numpy as np

from liqcascade.book import account_labels
from liqcascade.engine.dyn_config import VENUE_FIELDS, DynamicConfig, VenueProcess
from liqcascade.engine.dyn_positions import PositionArrays
from liqcascade.engine.dyn_result import (
    DynamicResult,
    losses_frame,
    summary_dict,
    timeline_frame,
)
from liqcascade.engine.dyn_state import (
    PositionState,
    RunState,
    Timeline,
    advance,
    arb_keep,
    impact_tables,
    is_moving,
    path_array,
    quiet_horizon,
    venue_state,
)
from liqcascade.errors import ConfigError, InputError
from liqcascade.funds import Ledger
from liqcascade.log import logger
from liqcascade.markets import VenueMarket

__all__ = [
    "DynamicConfig",
    "DynamicResult",
    "PositionArrays",
    "VenueProcess",
    "simulate",
    "simulate_shock",
]


def simulate(
    book: Any,
    markets: Any,
    path: Any = None,
    config: DynamicConfig | Mapping[str, Any] | None = None,
    rng_seed: int | None = None,
    *,
    initial_price: float | Mapping[str, float],
    venue: str | None = None,
    symbol: str | None = None,
    depth_scale_path: Any = None,
    progress: Callable[[int, int], None] | None = None,
) -> DynamicResult:
    """Run the dynamic cascade.

    ``progress(step, steps)``, when given, is called every 100 steps and at the end (the run may
    stop early once the market is quiet).

    Parameters
    ----------
    book:
        :class:`liqcascade.book.PositionBook` (one asset, any venues) or :class:`PositionArrays`.
    markets:
        Impact model for every venue (``liqcascade.impact`` model, :class:`ImpactTable`, or a
        ``(bid, ask)`` pair), or a dict venue -> such a model.
    path:
        Exogenous relative return of the fundamental price per step (array, applied at steps
        1..len), a scalar (one shock at step 1), or a dict venue -> array (per-venue paths).
    config:
        :class:`DynamicConfig` or a dict of its fields.
    rng_seed:
        Seed of the run's ``numpy.random.Generator`` (overrides ``config.seed``); stored in the result.
    initial_price:
        Price at step 0 (quote per base), one for all venues or a dict venue -> price.
    venue, symbol:
        Restrict the book to one venue / pick the symbol.
    depth_scale_path:
        Optional exogenous depth multiplier per step (array, 1 = normal), e.g. from a replay.
    """
    cfg = config if isinstance(config, DynamicConfig) else DynamicConfig.from_dict(config or {})
    seed = int(cfg.seed if rng_seed is None else rng_seed)
    pos = (
        book
        if isinstance(book, PositionArrays)
        else PositionArrays.from_book(book, venue=venue, symbol=symbol, config=cfg)
    )
    run = _start(pos, markets, path, cfg, seed, initial_price, symbol, depth_scale_path)
    last_step = _run_steps(run, progress)
    if progress is not None:
        progress(last_step, last_step)
    return _result(run, pos, path, seed, last_step)


def _check_venues(cfg: DynamicConfig, venues: tuple[str, ...]) -> None:
    if len(venues) == 0:
        raise InputError("simulate: the book has no positions for the requested venue/symbol")
    for name in cfg.venues:
        if name not in venues:
            logger.info("dynamic: config for venue %s which is not in the book", name)
    for name in cfg.shock_venues or ():
        if name not in venues:
            raise ConfigError(f"shock_venues: {name!r} not simulated (venues: {', '.join(venues)})")


def _market(name: str, markets: Any, initial_price: Any, cfg: DynamicConfig) -> VenueMarket:
    """The venue's market model at step 0, from its impact model and initial price."""
    imp = markets.get(name) if isinstance(markets, Mapping) else markets
    if imp is None:
        raise InputError(f"markets: no impact model for venue {name!r}")
    p0 = initial_price.get(name) if isinstance(initial_price, Mapping) else initial_price
    if p0 is None:
        raise InputError(f"initial_price: no price for venue {name!r}")
    bid, ask = impact_tables(imp)
    return VenueMarket(
        name,
        float(p0),
        bid,
        ask,
        resilience_half_life_s=cfg.resilience_half_life_s,
        permanent_fraction=cfg.permanent_fraction,
        stress_beta=cfg.stress_beta,
        stress_floor=cfg.stress_floor,
        stress_window_s=cfg.stress_window_s,
    )


def _start(
    pos: PositionArrays,
    markets: Any,
    path: Any,
    cfg: DynamicConfig,
    seed: int,
    initial_price: Any,
    symbol: str | None,
    depth_scale_path: Any,
) -> RunState:
    """The run state at step 0: positions copied, markets, venues, returns, timeline row 0."""
    venues = pos.venues
    _check_venues(cfg, venues)
    mk = [_market(name, markets, initial_price, cfg) for name in venues]
    state = PositionState.from_arrays(pos)
    syms: tuple[str | None, ...] = pos.symbols or (symbol,) * len(venues)
    vstates = [
        venue_state(v, name, sym, m, cfg, pos, state)
        for v, (name, sym, m) in enumerate(zip(venues, syms, mk, strict=True))
    ]
    rets = path_array(path, int(cfg.steps), venues)
    if cfg.shock_venues is not None:
        keep = np.array([v in cfg.shock_venues for v in venues])
        rets[:, ~keep] = 0.0
    dscale = None
    if depth_scale_path is not None:
        dscale = np.asarray(depth_scale_path, np.float64)
        if dscale.ndim != 1 or np.any(~(dscale > 0)):
            raise InputError("depth_scale_path: expected a 1-D array of positive depth multipliers")
    exo = np.array([m.price for m in mk], dtype=np.float64)
    run = RunState(
        cfg=cfg,
        pos=state,
        venues=vstates,
        timeline=Timeline.empty(int(cfg.steps), len(venues)),
        ledger=Ledger(),
        rng=np.random.default_rng(seed),
        rets=rets,
        depth_scale_path=dscale,
        hub=venues.index(cfg.arb_hub) if cfg.arb_hub in venues else 0,
        keep_gap=arb_keep(cfg),
        exo=exo,
        p_prev=exo.copy(),
    )
    run.timeline.record(0, vstates, exo)
    return run


def _run_steps(run: RunState, progress: Callable[[int, int], None] | None = None) -> int:
    """Advance step by step; returns the last step run (early stop once quiet, if configured)."""
    cfg = run.cfg
    dt = float(cfg.dt_s)
    path_len = quiet_horizon(run.rets)
    quiet = 0.0
    for t in range(1, int(cfg.steps) + 1):
        events = advance(run, t)
        run.timeline.record(t, run.venues, run.exo)
        moved = is_moving(run.timeline, t)
        run.p_prev = run.timeline.price[t].copy()
        if progress is not None and t % 100 == 0:
            progress(t, int(cfg.steps))
        if cfg.quiet_stop_s is not None and t >= path_len:
            quiet = quiet + dt if (events == 0 and not moved) else 0.0
            if quiet >= cfg.quiet_stop_s:  # a still market with no event stays still
                return t
    return int(cfg.steps)


def _result(
    run: RunState, pos: PositionArrays, path: Any, seed: int, last_step: int
) -> DynamicResult:
    """Frames and summary of a finished run."""
    venues = pos.venues
    dt = float(run.cfg.dt_s)
    timeline = timeline_frame(venues, dt, last_step + 1, run.timeline)
    lg = run.ledger.to_polars(pos.account_id, venues, dt)
    if pos.account_names:  # results show the user's text account ids, not their codes
        lg = lg.with_columns(account_labels(lg["account_id"].to_numpy(), pos.account_names))
    for vs in run.venues:
        vs.finish()
    losses = losses_frame(lg, run.venues)
    summary = summary_dict(
        lg, losses, timeline, run.venues, path, run.rets, seed, run.hub, last_step, len(pos)
    )
    return DynamicResult(
        timeline=timeline,
        losses=losses,
        ledger=lg,
        config=msgspec.structs.replace(run.cfg, seed=seed),
        seed=seed,
        _summary=summary,
        funding_quote=run.pos.funding_paid_quote,
        account_id=account_labels(pos.account_id, pos.account_names).to_numpy(),
    )


def simulate_shock(
    book: Any,
    initial_price: float,
    shock: float,
    impact: Any,
    venue: str | None = None,
    symbol: str | None = None,
    **config: Any,
) -> DynamicResult:
    """One exogenous shock at step 1, then the cascade unfolds (the CLI's ``--mode dynamic``).

    ``config`` takes :class:`DynamicConfig` fields, plus :class:`VenueProcess` fields that are
    applied to every venue (e.g. ``insurance_fund_quote=0``). Defaults here: ``quiet_stop_s=60``
    (stop a minute after the last event) unless given.

    Examples
    --------
    >>> from liqcascade.impact import LinearImpact
    >>> from liqcascade.margin import PositionsAtRate
    >>> pos = PositionArrays.isolated(PositionsAtRate(side=[1, 1, -1], size_base=[4.0, 4.0, 2.0],
    ...     entry_price=[100.0, 100.0, 100.0], margin_quote=[10.0, 20.0, 50.0], mmr=0.01),
    ...     venues=("binance_usdm",))
    >>> res = simulate_shock(pos, 100.0, -0.03, LinearImpact(depth_1pct_base=2.0),
    ...                      insurance_fund_quote=1e6, clearance_fee_rate=0.0,
    ...                      resilience_half_life_s=float("inf"))  # no refill: the static price
    >>> s = res.summary()
    >>> s["shocked_price"], s["liquidated_count"], round(s["final_price"], 6)  # 97 * (1 - 0.01*8/2)
    (97.0, 2, 93.12)
    >>> abs(s["conservation_residual"]) < 1e-9
    True
    """
    if not (math.isfinite(shock) and shock > -1.0):
        raise InputError(f"shock must be a finite relative move > -1, got {shock!r}")
    dyn_keys = set(DynamicConfig.__struct_fields__)
    venue_over = {k: config.pop(k) for k in list(config) if k in VENUE_FIELDS and k not in dyn_keys}
    unknown = set(config) - dyn_keys
    if unknown:
        raise ConfigError(
            f"simulate_shock: unknown config keys {sorted(unknown)}; expected DynamicConfig fields "
            f"{sorted(dyn_keys)} or VenueProcess fields {sorted(VENUE_FIELDS)}"
        )
    config.setdefault("quiet_stop_s", 60.0)
    seed = config.pop("seed", 0)
    if venue_over:
        pos_venues = tuple(book.venues)  # PositionBook or PositionArrays: every venue it names
        vcfg = dict(config.get("venues", {}))
        for name in pos_venues:
            cur = vcfg.get(name, {})
            cur = cur.to_dict() if isinstance(cur, VenueProcess) else dict(cur)
            cur.update(venue_over)
            vcfg[name] = cur
        config["venues"] = vcfg
    cfg = DynamicConfig.from_dict(config)
    return simulate(
        book,
        impact,
        float(shock),
        cfg,
        rng_seed=seed,
        initial_price=initial_price,
        venue=venue,
        symbol=symbol,
    )
