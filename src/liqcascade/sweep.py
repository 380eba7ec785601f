"""Monte Carlo stress tests over a scenario, on local processes or a Dask cluster.

Usage::

    from liqcascade.scenarios import load_scenario
    from liqcascade.sweep import prepare, run_stress
    sc = load_scenario("examples/stress_btc_crash.toml")
    res = run_stress(sc, paths=1000, seed=7)                 # local processes
    res = run_stress(sc, paths=1000, seed=7, dask_local=2)   # Dask LocalCluster, 2 workers
    res.paths; res.summary; res.write_parquet("results.parquet")

Design (docs/stress.md):

* :func:`prepare` builds a :class:`StressRunner` once: venue rules, the book (file, store or
  synthetic population), the impact models, the shock model (fitted from klines where asked)
  and the book index (:class:`liqcascade.scenarios.cascade.StressIndex`);
* the runner is shipped to each worker ONCE (process-pool initializer; Dask ``scatter`` with
  ``broadcast=True``); tasks are chunks of path numbers;
* path ``i`` draws from ``numpy.random.default_rng(SeedSequence(seed).spawn(N)[i])``, built
  directly as ``SeedSequence(seed, spawn_key=(i,))`` (identical), so a path's numbers depend
  on (seed, i) only: results are bitwise identical whatever the backend, worker count and
  chunking.
* The summary gives mean (normal CI), quantiles with distribution-free order-statistic CIs,
  liquidation-at-risk and deficit value-at-risk (95th/99th percentiles; the deficit is the
  loss beyond the traders' collateral, :class:`liqcascade.ledger.LossLedger`), and
  probabilities (fund exhausted, ADL triggered, deficit, bad debt) with Wilson score intervals.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from liqcascade.book import CROSS, PositionBook
from liqcascade.errors import ConfigError, DataError, InputError
from liqcascade.ledger import LossLedger, snap_amount
from liqcascade.log import logger
from liqcascade.runner import engine_seed, path_seed
from liqcascade.scenarios import cascade as C
from liqcascade.scenarios import schema as S
from liqcascade.scenarios.behaviours import BehaviourParams, pack_behaviours
from liqcascade.scenarios.population import PopulationReport, VenueSpec, generate_population
from liqcascade.scenarios.shocks import ShockModel, build_shock, read_klines

__all__ = [
    "StressRunner",
    "StressResult",
    "prepare",
    "run_stress",
    "path_seed",
    "summarize",
    "wilson_interval",
    "quantile_ci",
    "mean_t_interval",
    "collateral_subset",
    "store_results",
]

#: Collateral holders are drawn from this stream of the seed (separate from paths/population).
COLLATERAL_STREAM = 0x636F6C

#: Summary metrics (per-path columns) given mean and quantiles.
SUMMARY_METRICS = (
    "liq_notional_quote",
    "liq_long_notional_quote",
    "liq_short_notional_quote",
    "deficit_quote",
    "bad_debt_quote",
    "insurance_used_quote",
    "adl_notional_quote",
    "final_drawdown",
    "max_drawdown",
    "cascade_multiplier",
)
#: Signed metrics (P/P0 - 1: negative when the price fell, positive in a squeeze). Their bad tail
#: is the low one in a crash, so they get the mirrored quantiles too (q5 and q1 beside q95, q99).
TWO_TAILED = ("final_drawdown", "max_drawdown")
#: Boolean per-path columns given a probability with a Wilson interval.
PROBABILITIES = (
    "fund_exhausted",
    "adl_triggered",
    "deficit_positive",
    "bad_debt_positive",
    "book_exhausted",
)


# --------------------------------------------------------------------------------------------
# preparation
# --------------------------------------------------------------------------------------------
def _venue_label(v: S.VenueConfig, cfgs: list[S.VenueConfig]) -> str:
    return v.name if sum(c.name == v.name for c in cfgs) == 1 else f"{v.name}:{v.symbol}"


def _resolve_venues(sc: S.Scenario, default_price: float | None) -> list[VenueSpec]:
    from liqcascade.venues import load_venue

    out = []
    for i, v in enumerate(sc.venues):
        where = f"[venues[{i}]]"
        try:
            rules = load_venue(v.name, v.symbol, liquidation_fee_rate=v.liquidation_fee_rate)
        except InputError as exc:
            raise ConfigError(f"{_src(sc)}: {where}.name/symbol: {exc}") from None
        limit = float(np.max(rules.tiers.max_leverage))
        cap = limit if v.max_leverage is None else min(limit, v.max_leverage)
        p0 = v.initial_price if v.initial_price is not None else default_price
        if p0 is None:
            raise ConfigError(
                f"{_src(sc)}: {where}.initial_price: missing; required when the book is not synthetic"
            )
        out.append(VenueSpec(v.name, rules.symbol, rules, float(p0), v.share, cap))
    return out


def _src(sc: S.Scenario) -> str:
    return Path(sc.source_path).name if sc.source_path else "scenario"


def _load_book(
    sc: S.Scenario, venues: list[VenueSpec], seed: int
) -> tuple[PositionBook, PopulationReport | None]:
    book_cfg = sc.book
    if isinstance(book_cfg, S.SyntheticBook):
        pop_seed = seed if book_cfg.seed is None else book_cfg.seed
        return generate_population(book_cfg, venues, pop_seed, sc.base_dir)
    if isinstance(book_cfg, S.PositionsBook):
        p = Path(book_cfg.path)
        if not p.is_absolute():
            p = sc.base_dir / p
        if not p.is_file():
            raise ConfigError(f"{_src(sc)}: [book].path: positions file {p} not found")
        return PositionBook.from_file(p), None
    from liqcascade.data import Store

    with Store(book_cfg.db, read_only=True) as st:
        df = st.positions(book_cfg.venue, book_cfg.symbol)
    if df.height == 0:
        raise ConfigError(
            f"{_src(sc)}: [book]: the store holds no positions for venue={book_cfg.venue!r}, symbol={book_cfg.symbol!r}"
        )
    return PositionBook.from_frame(df, source="store.positions"), None


def _venue_codes(sc: S.Scenario, book: PositionBook, venues: list[VenueSpec]) -> np.ndarray:
    """Map the book's (venue, symbol) codes to scenario venue indices; unknown pairs -> error."""
    from liqcascade.venues import normalize_venue

    def squash(s: str) -> str:
        return "".join(ch for ch in s.upper() if ch.isalnum())

    lookup = {(normalize_venue(v.name), squash(v.symbol)): i for i, v in enumerate(venues)}
    pair_code = book.venue_code.astype(np.int64) * 65536 + book.symbol_code.astype(np.int64)
    out = np.empty(len(book), dtype=np.int16)
    for c in np.unique(pair_code):
        name, sym = book.venues[c // 65536], book.symbols[c % 65536]
        key = (normalize_venue(name), squash(sym))
        if key not in lookup:
            raise ConfigError(
                f"{_src(sc)}: [book]: positions on {name}/{sym} but no [[venues]] entry for it; "
                f"declared: {[(v.name, v.symbol) for v in venues]}"
            )
        out[pair_code == c] = lookup[key]
    return out


def collateral_subset(
    book: PositionBook,
    vcode: np.ndarray,
    venues: list[VenueSpec],
    shock: S.CollateralShock,
    seed: int,
) -> dict[str, np.ndarray]:
    """Positions of cross accounts that hold a depegging collateral asset.

    For asset a (in order), each not-yet-assigned cross account on the asset's venues is a
    holder with probability ``holder_fraction`` (seeded stream ``[seed, COLLATERAL_STREAM]``).
    A holder's wallet loss at full depeg is ``wallet_share * W``, split over its positions by
    entry notional; ``kliq = L / (q (1 - s mmr))`` and ``kbkr = L / q`` (see
    :mod:`liqcascade.scenarios.cascade`), with mmr the tier rate at the entry notional.
    """
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), COLLATERAL_STREAM]))
    cross = book.margin_mode == CROSS
    acc = book.account_id
    uniq = np.unique(acc[cross])
    assigned = np.full(len(uniq), -1, dtype=np.int64)
    names = [v.name for v in venues]
    for a, asset in enumerate(shock.assets):
        if asset.venues is not None:
            bad = [x for x in asset.venues if x not in names]
            if bad:
                raise ConfigError(
                    f"[shock.assets[{a}]].venues: {bad} are not declared in [[venues]] ({names})"
                )
        draw = rng.random(len(uniq)) < asset.holder_fraction
        assigned[(assigned < 0) & draw] = a
    pos_asset = np.full(len(book), -1, dtype=np.int64)
    ci = np.flatnonzero(cross)
    pos_asset[ci] = assigned[np.searchsorted(uniq, acc[ci])]
    for a, asset in enumerate(shock.assets):
        if asset.venues is not None:
            allowed = np.isin(vcode, [names.index(x) for x in asset.venues])
            pos_asset[(pos_asset == a) & ~allowed] = -1
    rows = np.flatnonzero(pos_asset >= 0)
    notional = book.size_base[rows] * book.entry_price[rows]
    racc = acc[rows]
    u, inv = np.unique(racc, return_inverse=True)
    tot = np.bincount(inv, weights=notional, minlength=len(u))
    wallet = np.array([book.account_collateral_quote.get(int(x), 0.0) for x in u])
    share = np.array([shock.assets[int(i)].wallet_share for i in pos_asset[rows]])
    loss = share * wallet[inv] * notional / tot[inv]
    mmr = np.empty(len(rows))
    for v, spec in enumerate(venues):
        m = vcode[rows] == v
        if m.any():
            t = spec.rules.tiers
            mmr[m] = np.asarray(t.mmr)[t.index(notional[m])]
    q = book.size_base[rows]
    s = book.side[rows].astype(np.float64)
    return {
        "rows": rows,
        "kliq": loss / (q * (1.0 - s * mmr)),
        "kbkr": loss / q,
        "asset": pos_asset[rows],
    }


@dataclass(eq=False)
class DynamicSetup:
    """Per-path runs through :func:`liqcascade.engine.dynamic.simulate` (``engine = "dynamic"``).

    Mapping of the scenario: ``dt_s`` = the shock's ``step_s`` (1 s for a jump), the path as
    step returns ``S[t]/S[t-1] - 1`` followed by ``settle_s`` quiet seconds; insurance funds and
    clearance fees from ``[[venues]]``; ``arbitrage.linkage`` a per step -> ``arb_rate_per_s =
    -ln(1 - a)/dt``; ``mm_withdrawal`` -> ``depth_scale_path`` from the EWMA volatility of the
    exogenous path (the dynamic engine's own ``stress_beta`` rule stays off). Retail
    deleveraging, dip bids and collateral shocks have no hook in the dynamic engine and are
    rejected. Metrics: liquidated notional per side from the timeline (at the price each
    position left the venue), fund use = the negative insurance-fund changes, ADL loss =
    what ADL counterparties covered, deficit and bad debt as defined once in
    :class:`liqcascade.ledger.LossLedger` (deficit = fund + vault + ADL + bad debt; bad debt =
    the loss nobody covered).
    """

    book: PositionBook
    markets: dict[str, tuple[Any, Any]]
    initial_price: dict[str, float]
    venue_names: tuple[str, ...]
    config: dict[str, Any]
    dt_s: float
    settle_steps: int

    def run(self, sp: Any, seed: int, bvec: np.ndarray) -> np.ndarray:
        from liqcascade.engine.dynamic import simulate
        from liqcascade.scenarios import behaviours as B

        s = sp.price_ratio
        rets = s[1:] / s[:-1] - 1.0
        rets = np.concatenate([rets, np.zeros(self.settle_steps)])
        depth = None
        if bvec[B.B_MM_ON] > 0:
            var, depth = 0.0, np.ones(len(rets))
            for step in range(len(rets)):
                vol = B.annualised_vol(var, self.dt_s)
                depth[step] = B.mm_depth_scale(
                    vol, bvec[B.B_MM_LO], bvec[B.B_MM_HI], bvec[B.B_MM_FLOOR]
                )
                var = B.ewma_update(var, math.log1p(rets[step]), bvec[B.B_MM_LAM])
        cfg = dict(self.config, steps=len(rets), dt_s=self.dt_s)
        res = simulate(
            self.book,
            self.markets,
            rets,
            cfg,
            seed,
            initial_price=self.initial_price,
            depth_scale_path=depth,
        )
        nv = len(self.venue_names)
        out = np.zeros((nv, C.N_METRICS))
        tl, lg, ls = res.timeline, res.ledger, res.losses
        for v, name in enumerate(self.venue_names):
            t = tl.filter(pl.col("venue") == name)
            if t.height == 0:
                continue
            e = lg.filter(pl.col("venue") == name)
            row = ls.filter(pl.col("venue") == name)
            book = LossLedger.from_events(e)
            out[v, C.M_LONG] = float(t["liquidated_notional_long"].sum())
            out[v, C.M_SHORT] = float(t["liquidated_notional_short"].sum())
            out[v, C.M_COUNT] = float(row["liquidated_count"][0])
            price = t["price"].to_numpy()
            out[v, C.M_FINAL], out[v, C.M_MIN], out[v, C.M_MAX] = (
                price[-1],
                price.min(),
                price.max(),
            )
            ifc = e["insurance_fund_change"].to_numpy()
            out[v, C.M_FEES] = float(ifc[ifc > 0].sum())
            out[v, C.M_USED] = book.insurance_fund_quote
            out[v, C.M_DEFICIT] = book.deficit_quote
            out[v, C.M_UNCOV] = book.bad_debt_quote
            out[v, C.M_ADLN] = float(row["adl_notional"][0])
            out[v, C.M_ADLL] = book.adl_counterparty_quote
            out[v, C.M_FEXH] = float(
                out[v, C.M_ADLN] > 0
                or float(row["insurance_fund_end"][0]) <= 0 < book.insurance_fund_quote
            )
            out[v, C.M_BEXH] = float(row["book_exhausted"][0])
            out[v, C.M_FEND] = float(row["insurance_fund_end"][0])
        return out


@dataclass(eq=False)
class StressRunner:
    """Everything a worker needs to run paths: shipped once, then only path numbers travel."""

    seed: int
    index: C.StressIndex
    shock: ShockModel
    behaviours: BehaviourParams
    step_s: float
    venue_labels: tuple[str, ...]
    columns: tuple[str, ...]
    meta: dict[str, Any] = field(default_factory=dict)
    monte_carlo: S.MonteCarloConfig = field(default_factory=S.MonteCarloConfig)
    dynamic: DynamicSetup | None = None

    @property
    def fork_safe(self) -> bool:
        """The compiled kernel runs only numpy/numba code (a forked pool is safe); the dynamic
        engine builds polars frames, so its pool workers are started afresh."""
        return self.dynamic is None

    def run_path(self, path: int) -> np.ndarray:
        """Metrics of one path as a float64 row (see :attr:`columns`)."""
        rng = np.random.default_rng(path_seed(self.seed, path))
        sp = self.shock.sample(rng)
        if self.dynamic is not None:
            out = self.dynamic.run(sp, engine_seed(self.seed, path), self.behaviours.vector)
        else:
            out = C.run_path_nb(
                self.index, sp.price_ratio, sp.collateral_ratio, self.step_s, self.behaviours.vector
            )
        return _row(path, sp, out, self.index)

    def run_chunk(self, start: int, stop: int) -> np.ndarray:
        """Rows of paths ``start..stop-1`` (shape (stop-start, len(columns)))."""
        return (
            np.vstack([self.run_path(i) for i in range(start, stop)])
            if stop > start
            else np.zeros((0, len(self.columns)))
        )


def _columns(labels: tuple[str, ...], assets: tuple[str, ...]) -> tuple[str, ...]:
    cols = [
        "path",
        "exo_min_move",
        "exo_final_move",
        "liq_notional_quote",
        "liq_long_notional_quote",
        "liq_short_notional_quote",
        "liq_count",
        "deficit_quote",
        "bad_debt_quote",
        "insurance_used_quote",
        "insurance_fees_quote",
        "adl_notional_quote",
        "adl_loss_quote",
        "final_drawdown",
        "max_drawdown",
        "cascade_multiplier",
        "fund_exhausted",
        "adl_triggered",
        "deficit_positive",
        "bad_debt_positive",
        "book_exhausted",
    ]
    cols += [f"collateral_min.{a}" for a in assets]
    for lab in labels:
        cols += [f"{lab}.{m}" for m in C.METRICS]
    return tuple(cols)


def _row(path: int, sp: Any, out: np.ndarray, ix: C.StressIndex) -> np.ndarray:
    share = ix.share
    s = sp.price_ratio
    exo_min, exo_max = float(s.min()), float(s.max())
    final_move = out[:, C.M_FINAL] / ix.p0 - 1.0
    down_v = 1.0 - out[:, C.M_MIN] / ix.p0
    up_v = out[:, C.M_MAX] / ix.p0 - 1.0
    if 1.0 - exo_min >= exo_max - 1.0:
        exo_exc, ven_exc = 1.0 - exo_min, float(share @ down_v)
        max_dd = -ven_exc
    else:
        exo_exc, ven_exc = exo_max - 1.0, float(share @ up_v)
        max_dd = ven_exc
    mult = ven_exc / exo_exc if exo_exc > 0 else math.nan
    deficit = snap_amount(out[:, C.M_DEFICIT].sum())
    bad = snap_amount(out[:, C.M_UNCOV].sum())
    head = [
        float(path),
        exo_min - 1.0,
        float(s[-1]) - 1.0,
        out[:, C.M_LONG].sum() + out[:, C.M_SHORT].sum(),
        out[:, C.M_LONG].sum(),
        out[:, C.M_SHORT].sum(),
        out[:, C.M_COUNT].sum(),
        deficit,
        bad,
        out[:, C.M_USED].sum(),
        out[:, C.M_FEES].sum(),
        out[:, C.M_ADLN].sum(),
        out[:, C.M_ADLL].sum(),
        float(share @ final_move),
        max_dd,
        mult,
        float(out[:, C.M_FEXH].max()),
        float(out[:, C.M_ADLN].max() > 0),
        float(deficit > 0),
        float(bad > 0),
        float(out[:, C.M_BEXH].max()),
    ]
    coll = sp.collateral_ratio.min(axis=1).tolist() if sp.collateral_ratio.shape[0] else []
    return np.concatenate([np.asarray(head + coll), out.reshape(-1)])


def prepare(scenario: S.Scenario, seed: int | None = None) -> StressRunner:
    """Build the runner of a scenario: venues, book, impact, shock (fitted), behaviours, index.

    ``seed`` (default ``[monte_carlo].seed``) seeds the paths, the synthetic population (unless
    ``[book].seed`` is set) and the collateral holders.
    """
    t0 = time.perf_counter()
    sc = scenario
    seed = sc.monte_carlo.seed if seed is None else int(seed)
    if seed < 0:
        raise InputError(f"seed must be >= 0, got {seed}")
    default_price = None
    if isinstance(sc.book, S.SyntheticBook):
        kl = read_klines(
            sc.book.price_history, sc.base_dir, sc.book.history_start, sc.book.history_end
        )
        default_price = float(kl["close"][-1])
    venues = _resolve_venues(sc, default_price)
    book, pop = _load_book(sc, venues, seed)
    vcode = _venue_codes(sc, book, venues)
    impacts = []
    for i in range(len(sc.venues)):
        m = venue_impact(sc, i)
        bid = m.for_side("bid") if hasattr(m, "for_side") else m
        ask = m.for_side("ask") if hasattr(m, "for_side") else m
        impacts.append((bid, ask))
    shock = build_shock(sc.shock, sc.base_dir)
    step_s = 0.0 if isinstance(sc.shock, S.JumpShock) else float(sc.shock.step_s)
    beh = pack_behaviours(sc.behaviours, step_s)
    coll = None
    if isinstance(sc.shock, S.CollateralShock):
        coll = collateral_subset(book, vcode, venues, sc.shock, seed)
    index = C.build_index(
        book.side,
        book.size_base,
        book.liquidation_price,
        book.bankruptcy_price,
        book.segment,
        vcode,
        np.array([v.initial_price for v in venues]),
        np.array([v.rules.liquidation_fee_rate for v in venues]),
        np.array([c.insurance_fund_quote for c in sc.venues]),
        np.array([v.share for v in venues]),
        impacts,
        beh.dip_levels,
        beh.dip_notional_quote,
        coll,
    )
    labels = tuple(_venue_label(v, sc.venues) for v in sc.venues)
    dynamic = None
    if sc.monte_carlo.engine == "dynamic":
        dynamic = _dynamic_setup(sc, book, vcode, venues, impacts, step_s)
    meta = {
        "scenario": sc.scenario.name,
        "seed": seed,
        "shock_kind": shock.kind,
        "shock_params": shock.params,
        "behaviours": list(beh.active),
        "venues": [
            {
                "label": lab,
                "venue": v.name,
                "symbol": v.symbol,
                "initial_price": v.initial_price,
                "liquidation_fee_rate": v.rules.liquidation_fee_rate,
                "rules_version": getattr(v.rules, "version", ""),
                "impact": impacts[i][0].describe(),
            }
            for i, (lab, v) in enumerate(zip(labels, venues, strict=True))
        ],
        "n_positions": len(book),
        "collateral_positions": 0 if coll is None else len(coll["rows"]),
        "population": None if pop is None else pop.__dict__,
        "engine": sc.monte_carlo.engine,
        "prepare_s": time.perf_counter() - t0,
    }
    return StressRunner(
        seed,
        index,
        shock,
        beh,
        step_s,
        labels,
        _columns(labels, shock.assets),
        meta,
        sc.monte_carlo,
        dynamic,
    )


def _dynamic_setup(
    sc: S.Scenario,
    book: PositionBook,
    vcode: np.ndarray,
    venues: list[VenueSpec],
    impacts: list[tuple[Any, Any]],
    step_s: float,
) -> DynamicSetup:
    src = _src(sc)
    for name in ("retail_deleverage", "dip_buying"):
        if name in sc.behaviours.active():
            raise ConfigError(
                f"{src}: [behaviours.{name}]: not available with [monte_carlo].engine = 'dynamic' "
                "(the dynamic engine has no hook for it); set enabled = false or use engine = 'index'"
            )
    if isinstance(sc.shock, S.CollateralShock):
        raise ConfigError(
            f"{src}: [shock].kind = 'collateral' needs [monte_carlo].engine = 'index'"
        )
    names = tuple(v.rules.venue for v in venues)
    if len(set(names)) != len(names):
        raise ConfigError(
            f"{src}: [monte_carlo].engine = 'dynamic' needs distinct venue names, got {names}"
        )
    # the dynamic engine keys venues by name: give the book the scenario's venue codes
    b = replace(
        book,
        venue_code=vcode.astype(np.int16),
        symbol_code=vcode.astype(np.int16),
        venues=names,
        symbols=tuple(v.symbol for v in venues),
    )
    dt = step_s if step_s > 0 else 1.0
    arb = sc.behaviours.arbitrage
    rate = (
        -math.log(1.0 - min(arb.linkage, 0.999999)) / dt if arb is not None and arb.enabled else 0.0
    )
    vcfg = {
        v.rules.venue: {
            "insurance_fund_quote": c.insurance_fund_quote,
            "clearance_fee_rate": v.rules.liquidation_fee_rate,
        }
        for v, c in zip(venues, sc.venues, strict=True)
    }
    return DynamicSetup(
        book=b,
        markets={v.rules.venue: imp for v, imp in zip(venues, impacts, strict=True)},
        initial_price={v.rules.venue: v.initial_price for v in venues},
        venue_names=names,
        config={"arb_rate_per_s": rate, "venues": vcfg, "stress_beta": 0.0},
        dt_s=dt,
        settle_steps=int(math.ceil(sc.monte_carlo.settle_s / dt)),
    )


def venue_impact(sc: S.Scenario, i: int) -> Any:
    """The impact model of the scenario's venue ``i`` (files relative to the scenario's folder)."""
    from liqcascade.impact_config import build_impact

    try:
        return build_impact(sc.venues[i].impact, base_dir=sc.base_dir)
    except InputError as exc:
        raise ConfigError(f"{_src(sc)}: [venues[{i}]].impact: {exc}") from None


@dataclass
class StressResult:
    """Per-path frame, summary frame and run metadata (seed, scenario, backend, timings)."""

    paths: pl.DataFrame
    summary: pl.DataFrame
    meta: dict[str, Any]

    def to_polars(self) -> pl.DataFrame:
        """The per-path frame: one row per path (``path``, ``liq_notional_quote``,
        ``bad_debt_quote``, ``cascade_multiplier``, ... and ``<venue>.<metric>`` columns, ``seed``)."""
        return self.paths

    def plot(self, metric: str = "liq_notional_quote") -> Any:
        """Histogram of ``metric`` over the paths, with its mean and quantiles from
        :attr:`summary` as vertical lines."""
        from liqcascade import plotting

        if metric not in self.paths.columns:
            raise InputError(
                f"metric {metric!r}: not a column of the stress paths "
                f"(expected one of {self.paths.columns})"
            )
        go = plotting.graph_objects("StressResult.plot")
        x = self.paths[metric].cast(pl.Float64).to_list()
        fig = go.Figure(go.Histogram(x=x, name=metric))
        stats = self.summary.filter(pl.col("metric") == metric)
        for row in stats.iter_rows(named=True):
            if row["value"] is not None and math.isfinite(row["value"]):
                fig.add_vline(x=row["value"], line_dash="dot", annotation_text=row["stat"])
        return plotting.styled(
            fig,
            f"{metric} over {self.paths.height} paths (seed {self.meta.get('seed')})",
            xaxis={"title": {"text": metric}},
            yaxis={"title": {"text": "paths"}},
        )

    def write_parquet(self, path: str | Path) -> Path:
        """Write the per-path frame as Parquet; the metadata goes in the file's key-value metadata
        (``liqcascade.meta``, JSON) and the summary beside it (``<stem>.summary.parquet``)."""
        import pyarrow.parquet as pq

        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        table = self.paths.to_arrow()
        md = dict(table.schema.metadata or {})
        md[b"liqcascade.meta"] = json.dumps(self.meta, default=str).encode()
        pq.write_table(table.replace_schema_metadata(md), p)
        self.summary.write_parquet(p.with_name(p.stem + ".summary.parquet"))
        return p


def run_stress(
    scenario: S.Scenario | StressRunner,
    paths: int | None = None,
    seed: int | None = None,
    *,
    workers: int | None = None,
    dask_local: int | None = None,
    scheduler: Any = None,
    chunk_size: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> StressResult:
    """Run ``paths`` Monte Carlo paths of a scenario on :func:`liqcascade.runner.run_chunks`.

    Backends: ``workers=0`` runs in this process; ``workers=N`` a local process pool;
    ``workers=None`` (default) times the first paths and uses a pool of CPU-count workers only
    when the run is long enough to pay for it; ``dask_local=N`` a Dask LocalCluster with N
    single-threaded worker processes; ``scheduler`` an existing Dask cluster, as its address
    ``"tcp://HOST:PORT"`` or a ``distributed.Client`` (its workers need liqcascade installed).
    ``progress(done_paths, total)`` is called as chunks finish. The result does not depend on
    the backend, worker count or ``chunk_size``.
    """
    from liqcascade.runner import run_chunks

    if isinstance(scenario, StressRunner):
        runner = scenario
        if seed is not None and seed != runner.seed:
            raise InputError(f"seed {seed} differs from the prepared runner's seed {runner.seed}")
    else:
        runner = prepare(scenario, seed)
    mc = runner.monte_carlo
    n = mc.paths if paths is None else int(paths)
    if n < 1:
        raise InputError(f"paths must be >= 1, got {n}")
    if dask_local is not None and scheduler is not None:
        raise InputError("give --dask-local or --scheduler, not both")
    dask = dask_local if dask_local is not None else scheduler
    chunks, info = run_chunks(
        runner, n, workers=workers, dask=dask, chunk_size=chunk_size, progress=progress
    )
    rows = np.vstack(chunks)
    df = pl.DataFrame(rows, schema=list(runner.columns), orient="row")
    df = df.with_columns(
        pl.col("path").cast(pl.Int64), pl.lit(runner.seed, dtype=pl.Int64).alias("seed")
    )
    bool_cols = [
        c
        for c in df.columns
        if c in PROBABILITIES or c.endswith((".fund_exhausted", ".book_exhausted"))
    ]
    df = df.with_columns([pl.col(c).cast(pl.Boolean) for c in bool_cols])
    meta = dict(runner.meta)
    meta.update(
        paths=n,
        backend=info.backend,
        chunk_size=info.chunk_size,
        run_s=info.run_s,
        created=datetime.now(UTC).isoformat(),
    )
    summary = summarize(df, mc.quantiles, mc.confidence, runner.venue_labels)
    logger.info("stress: %d paths in %.2f s on %s", n, info.run_s, info.backend)
    return StressResult(df, summary, meta)


# --------------------------------------------------------------------------------------------
# statistics
# --------------------------------------------------------------------------------------------
def wilson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion k/n (Wilson 1927)."""
    from scipy import stats

    if n <= 0:
        return (math.nan, math.nan)
    z = float(stats.norm.ppf(0.5 + confidence / 2.0))
    p = k / n
    den = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    lo = 0.0 if k == 0 else max(0.0, centre - half)
    hi = 1.0 if k == n else min(1.0, centre + half)
    return (lo, hi)


def mean_t_interval(x: np.ndarray, confidence: float = 0.90) -> tuple[float, float, float]:
    """Mean and its two-sided Student-t interval ``mean +- t_{(1+c)/2, n-1} sd / sqrt(n)``
    (NaNs dropped; a single value has a NaN interval).

    >>> m, lo, hi = mean_t_interval(np.array([1.0, 2.0, 3.0]), 0.90)
    >>> round(m, 6), round(hi - m, 4)
    (2.0, 1.6859)
    """
    from scipy import stats

    a = np.asarray(x, dtype=np.float64)
    a = a[~np.isnan(a)]
    n = len(a)
    if n == 0:
        return (math.nan, math.nan, math.nan)
    mean = float(np.mean(a))
    if n == 1:
        return (mean, math.nan, math.nan)
    half = (
        float(stats.t.ppf(0.5 + confidence / 2.0, n - 1)) * float(np.std(a, ddof=1)) / math.sqrt(n)
    )
    return (mean, mean - half, mean + half)


def quantile_ci(x: np.ndarray, q: float, confidence: float = 0.95) -> tuple[float, float, float]:
    """Empirical quantile and its distribution-free order-statistic confidence interval.

    The number of observations below the true q-quantile is Binomial(n, q): the interval is
    ``(x_(l), x_(u))`` with ``l = B^-1(alpha/2)``, ``u = B^-1(1 - alpha/2) + 1`` (1-based order
    statistics, clipped to [1, n]). The point estimate is numpy's linear-interpolation quantile.
    """
    from scipy import stats

    xs = np.sort(np.asarray(x, dtype=np.float64))
    xs = xs[~np.isnan(xs)]
    n = len(xs)
    if n == 0:
        return (math.nan, math.nan, math.nan)
    alpha = 1.0 - confidence
    lo = int(stats.binom.ppf(alpha / 2.0, n, q))
    hi = int(stats.binom.ppf(1.0 - alpha / 2.0, n, q)) + 1
    lo = min(max(lo, 1), n)
    hi = min(max(hi, 1), n)
    return (float(np.quantile(xs, q)), float(xs[lo - 1]), float(xs[hi - 1]))


def summarize(
    paths: pl.DataFrame,
    quantiles: list[float] | tuple[float, ...] = (0.5, 0.95, 0.99),
    confidence: float = 0.95,
    venue_labels: tuple[str, ...] = (),
) -> pl.DataFrame:
    """Summary table: one row per (metric, statistic) with value and confidence interval.

    Statistics: ``mean`` (normal interval, z * sd / sqrt(n)), ``q<pct>`` (the pct-th
    percentile, order-statistic interval: for losses and liquidated notional q95 is where the
    worst 5 % of paths begin; the signed drawdowns of :data:`TWO_TAILED` also get the mirrored
    levels, so a crash's worst 5 % starts at their q5), ``LaR95``/``LaR99``
    (liquidation-at-risk: 95th/99th percentile of liquidated notional), ``VaR95``/``VaR99`` of
    the deficit (loss beyond collateral), and ``probability``
    rows (Wilson interval) for fund exhaustion, ADL, deficit, bad debt and book exhaustion,
    overall and per venue.
    """
    from scipy import stats

    rows: list[dict[str, Any]] = []
    n = paths.height
    z = float(stats.norm.ppf(0.5 + confidence / 2.0))

    def add(metric: str, stat: str, value: float, lo: float, hi: float) -> None:
        rows.append(
            {
                "metric": metric,
                "stat": stat,
                "value": value,
                "ci_low": lo,
                "ci_high": hi,
                "n_paths": n,
            }
        )

    for m in SUMMARY_METRICS:
        x = paths[m].to_numpy().astype(np.float64)
        x = x[~np.isnan(x)]
        if len(x) == 0:
            add(m, "mean", math.nan, math.nan, math.nan)
            continue
        mean = float(np.mean(x))
        half = z * float(np.std(x, ddof=1)) / math.sqrt(len(x)) if len(x) > 1 else math.nan
        add(m, "mean", mean, mean - half, mean + half)
        qs = quantiles
        if m in TWO_TAILED:
            qs = sorted({*quantiles, *(round(1.0 - q, 12) for q in quantiles)})
        for q in qs:
            v, lo, hi = quantile_ci(x, q, confidence)
            add(m, f"q{q * 100:g}", v, lo, hi)
    for m, name in (("liq_notional_quote", "LaR"), ("deficit_quote", "VaR")):
        x = paths[m].to_numpy().astype(np.float64)
        for q in (0.95, 0.99):
            v, lo, hi = quantile_ci(x, q, confidence)
            add(m, f"{name}{round(q * 100)}", v, lo, hi)
    for p in PROBABILITIES:
        k = int(paths[p].cast(pl.Int64).sum())
        lo, hi = wilson_interval(k, n, confidence)
        add(p, "probability", k / n, lo, hi)
    for lab in venue_labels:
        for p in ("fund_exhausted", "book_exhausted"):
            col = f"{lab}.{p}"
            k = int(paths[col].cast(pl.Int64).sum())
            lo, hi = wilson_interval(k, n, confidence)
            add(col, "probability", k / n, lo, hi)
        x = (
            paths[f"{lab}.liq_long_notional_quote"].to_numpy()
            + paths[f"{lab}.liq_short_notional_quote"].to_numpy()
        )
        mean = float(np.mean(x))
        half = z * float(np.std(x, ddof=1)) / math.sqrt(n) if n > 1 else math.nan
        add(f"{lab}.liq_notional_quote", "mean", mean, mean - half, mean + half)
    return pl.DataFrame(rows)


def store_results(result: StressResult, db: str | Path | None = None) -> str:
    """Append a run to the DuckDB store (docs/data.md): ``stress_runs`` (one row: run id,
    scenario, seed, paths, backend, metadata JSON, summary JSON) and ``stress_results`` (long
    format: run_id, path, metric, value), both in the store's table registry
    (:data:`liqcascade.data.store.RESULT_TABLES`), written in one transaction: a failure leaves
    neither. Returns the run id."""
    import duckdb

    from liqcascade.data import Store

    run_id = uuid.uuid4().hex[:16]
    long = (
        result.paths.with_columns(pl.all().exclude("path").cast(pl.Float64))
        .unpivot(index="path", variable_name="metric", value_name="value")
        .with_columns(pl.lit(run_id).alias("run_id"))
        .select("run_id", "path", "metric", "value")
    )
    arrow = long.to_arrow()
    with Store(db) as st:
        try:
            _insert_run(st, run_id, result, arrow)
        except duckdb.Error as exc:
            raise DataError(
                f"{st.path}: stress run not stored (nothing was written): {exc}"
            ) from None
    return run_id


def _insert_run(st: Any, run_id: str, result: StressResult, arrow: Any) -> None:
    with st.transaction() as con:
        con.execute(
            "INSERT INTO stress_runs VALUES (?, now(), ?, ?, ?, ?, ?, ?)",
            [
                run_id,
                result.meta.get("scenario"),
                int(result.meta.get("seed", 0)),
                int(result.paths.height),
                result.meta.get("backend"),
                json.dumps(result.meta, default=str),
                json.dumps(result.summary.to_dicts(), default=str),
            ],
        )
        con.register("_stress_long", arrow)
        try:
            con.execute("INSERT INTO stress_results SELECT * FROM _stress_long")
        finally:
            con.unregister("_stress_long")
