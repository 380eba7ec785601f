"""Policy lab: one scenario, the same seeded paths, run under changed rules; a comparison table.

A *variant* changes venue rules for every venue of the scenario (a regulator's or a risk
officer's counterfactual):

* ``max_leverage`` -- a leverage cap (e.g. 1001, 125, 50, 20). Positions opened above it are
  re-sized: ``leverage_cap_mode="same_margin"`` (default: the trader posts the same margin and
  can only open ``margin x cap`` of notional) or ``"same_size"`` (same notional, more margin).
* ``mmr_scale`` -- margin tier change: every tier's maintenance rate x scale (capped at 50%, or the
  tier's own rate if higher; maintenance amounts re-derived by the recurrence) and every tier's maximum leverage / scale (the initial-to-
  maintenance ratio is kept), so positions above the new tier cap are re-sized as above.
* ``liquidation_fee_rate`` -- clearance fee (fraction of liquidated notional).
* ``insurance_fund_quote`` / ``insurance_fund_scale`` -- each venue's insurance fund.
* ``adl_policy`` -- ``queue:binance``, ``queue:hyperliquid``, ``queue:bitmex``, ``random_start``,
  ``pro_rata``, ``capped_pro_rata:CAP`` (:mod:`liqcascade.adl`).
* ``circuit_breaker`` -- halt after an ``X`` move within ``Y`` s, for ``Z`` s (``"X/Y/Z"``).

Every variant runs the dynamic engine (:func:`liqcascade.engine.dynamic.simulate`) on the same
book and the same exogenous paths: path ``i`` is drawn from ``SeedSequence(seed).spawn(n)[i]``
(:func:`liqcascade.runner.path_seed`, the stress runner's stream) and the engine's own generator
from that stream's first child (:func:`liqcascade.runner.engine_seed`), in every variant. The
(variant, path) runs go through :func:`liqcascade.runner.run_chunks`: in process, on a local
pool or on Dask, with identical results.

Circuit breakers are emulated around the engine (it has no halt state): the first step at which
the hub venue's price moved ``X`` or more from its extreme over the last ``Y`` s starts a halt of
``Z`` s; during the halt the exogenous price is frozen (its moves are deferred and applied in one
step at the reopening) and the book's depth is scaled by ``HALT_DEPTH_SCALE`` so forced orders
already triggered close at the halt price without moving it (as in a halt auction). The run is
repeated with the halts found so far until no new halt appears (at most ``max_halts``).

Columns (means over paths, each with a two-sided 90% t interval over paths; quote currency):
liquidated notional (size x liquidation price); the loss ledger of :mod:`liqcascade.ledger`
(bad debt = loss nobody covered, insurance fund used, ADL taken = what ADL counterparties paid
to cover bankrupt positions, ADL paid to counterparties = leftover equity of ADL-closed
positions they received, deficit = loss beyond collateral; all amounts >= 0, below 1e-6 quote
reported as 0); ADL needed (losers' negative equity at the reference price), ADL overshoot =
taken - needed (Chitra 2025, arXiv 2512.01112; a difference, so it may be negative), cascade multiplier,
accounts hit (liquidated or deleveraged), and the retail / institutional share of trader losses
(lost equity of liquidated positions, measured from the start of the scenario, plus ADL haircuts;
institutional includes market makers). Each variant's book also gets the systemic indicators of
:mod:`liqcascade.metrics` at the hub venue's initial price (leverage ratio, OI over 1% depth,
liquidation density within 5%, venue HHI, critical shock for a cascade multiplier > 2), with the
venues' depths pooled; collateral is each position's effective margin.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any

import msgspec
import numpy as np
import polars as pl

from liqcascade import runner
from liqcascade.config import Config, convert, read_toml
from liqcascade.errors import ConfigError, InputError
from liqcascade.ledger import AMOUNT_TOL_QUOTE, LossLedger, snap_amount
from liqcascade.log import logger

__all__ = [
    "CircuitBreaker",
    "PolicyLab",
    "PolicyResult",
    "PolicySettings",
    "PolicyFile",
    "PolicyVariant",
    "chitra_reference",
    "load_policy",
    "parse_vary",
    "run_policy",
]

#: Depth multiplier during a halt (forced orders then move the price by ~1e-6 of normal).
HALT_DEPTH_SCALE = 1e6
#: Confidence of the interval over paths given with every mean of the comparison table.
INTERVAL_CONFIDENCE = 0.90
_ADL_LOSS_KINDS = ("liquidation", "partial_liquidation", "vault_takeover", "adl_loser")


# --------------------------------------------------------------------------------------------
# configuration
# --------------------------------------------------------------------------------------------
Pos = Annotated[float, msgspec.Meta(gt=0.0)]
NonNeg = Annotated[float, msgspec.Meta(ge=0.0)]


class CircuitBreaker(Config, frozen=True, kw_only=True):
    """Halt trading for ``halt_s`` seconds after a move of ``move_frac`` within ``window_s``.

    In TOML either a table (``circuit_breaker = {move_frac = 0.05, window_s = 300, halt_s =
    300}``) or the short form ``"MOVE/WINDOW_S/HALT_S"`` (``"0.05/300/300"``).
    """

    move_frac: Annotated[float, msgspec.Meta(gt=0.0, lt=1.0)]
    window_s: Pos
    halt_s: Pos

    @classmethod
    def parse(
        cls, spec: str | Mapping[str, float] | CircuitBreaker | None
    ) -> CircuitBreaker | None:
        """From ``"0.05/300/300"`` (move / window s / halt s), a dict, or ``"none"``."""
        if spec is None or isinstance(spec, CircuitBreaker):
            return spec
        if isinstance(spec, Mapping):
            return cls.from_dict(spec, name="circuit_breaker")
        s = str(spec).strip().lower()
        if s in ("none", "off", ""):
            return None
        parts = s.split("/")
        if len(parts) != 3:
            raise ConfigError(
                f"circuit_breaker {spec!r}: expected MOVE/WINDOW_S/HALT_S, e.g. 0.05/300/300"
            )
        try:
            m, w, h = (float(p) for p in parts)
        except ValueError as exc:
            raise ConfigError(f"circuit_breaker {spec!r}: not numbers") from exc
        return cls.from_dict(
            {"move_frac": m, "window_s": w, "halt_s": h}, name=f"circuit_breaker {spec!r}"
        )

    def label(self) -> str:
        return f"{self.move_frac:.0%}/{self.window_s:g}s/{self.halt_s:g}s"


class PolicyVariant(Config, frozen=True, kw_only=True):
    """One set of rule changes applied to every venue (``None`` = the scenario's own rule).

    A ``[[variants]]`` table of a policy file; the keys are these fields. ``circuit_breaker``
    given as ``"MOVE/WINDOW_S/HALT_S"`` is stored as a :class:`CircuitBreaker`.
    """

    name: str
    max_leverage: Annotated[float, msgspec.Meta(ge=1.0, le=1001.0)] | None = None
    leverage_cap_mode: str = "same_margin"
    mmr_scale: Pos = 1.0
    liquidation_fee_rate: Annotated[float, msgspec.Meta(ge=0.0, lt=1.0)] | None = None
    insurance_fund_quote: NonNeg | None = None
    insurance_fund_scale: NonNeg = 1.0
    adl_policy: str | None = None
    circuit_breaker: CircuitBreaker | str | None = None

    def check(self) -> None:
        if self.leverage_cap_mode not in ("same_margin", "same_size"):
            raise ConfigError(
                "leverage_cap_mode: expected same_margin or same_size, "
                f"got {self.leverage_cap_mode!r}"
            )
        if not math.isfinite(self.mmr_scale):
            raise ConfigError(f"mmr_scale: expected a finite number > 0, got {self.mmr_scale}")
        if self.adl_policy is not None:
            from liqcascade.adl import ADLPolicy

            try:
                ADLPolicy.parse(self.adl_policy)
            except (ConfigError, ValueError) as exc:
                raise ConfigError(f"adl_policy: {exc}") from None
        if isinstance(self.circuit_breaker, str):
            msgspec.structs.force_setattr(
                self, "circuit_breaker", CircuitBreaker.parse(self.circuit_breaker)
            )


#: What ``--vary`` can vary: the variant's field names, read as numbers but for ``_VARY_TEXT``.
_VARY_FIELDS = (
    "max_leverage",
    "mmr_scale",
    "liquidation_fee_rate",
    "insurance_fund_quote",
    "insurance_fund_scale",
    "adl_policy",
    "circuit_breaker",
)
_VARY_TEXT = ("adl_policy", "circuit_breaker")
#: ``--vary`` key -> field it sets: each field name and its short aliases.
_VARY_KEYS = {
    **{f: f for f in _VARY_FIELDS},
    "leverage": "max_leverage",
    "tiers": "mmr_scale",
    "liquidation_fee": "liquidation_fee_rate",
    "insurance_fund": "insurance_fund_quote",
    "adl": "adl_policy",
    "breaker": "circuit_breaker",
}


def parse_vary(spec: str) -> list[PolicyVariant]:
    """``KEY=V1,V2,...`` -> one variant per value (keys: max_leverage, mmr_scale,
    liquidation_fee, insurance_fund, insurance_fund_scale, adl, circuit_breaker).

    >>> [v.name for v in parse_vary("max_leverage=125,20")]
    ['max_leverage=125', 'max_leverage=20']
    """
    key, sep, values = spec.partition("=")
    key = key.strip().lower()
    if not sep or key not in _VARY_KEYS:
        raise ConfigError(
            f"--vary {spec!r}: expected KEY=V1,V2,... with KEY one of {sorted(set(_VARY_KEYS))}"
        )
    field_name = _VARY_KEYS[key]
    conv = str if field_name in _VARY_TEXT else float
    out = []
    for raw in values.split(","):
        raw = raw.strip()
        if not raw:
            continue
        try:
            val: Any = conv(raw)
        except ValueError as exc:
            raise ConfigError(f"--vary {spec!r}: {raw!r} is not a number") from exc
        name = f"{key}={raw}"
        out.append(PolicyVariant.from_dict({"name": name, field_name: val}, name=f"--vary {name}"))
    if not out:
        raise ConfigError(f"--vary {spec!r}: no values")
    return out


class PolicySettings(Config, frozen=True, kw_only=True):
    """The ``[policy]`` table of a policy file.

    ``scenario`` is the stress scenario file (relative to the policy file); ``n_positions``
    overrides a synthetic book's size (speed); ``dt_s`` is the engine step (it must divide the
    scenario's step); ``tail_s`` runs on after the path so a cascade can finish; ``max_halts``
    bounds the circuit-breaker halts found per run; ``seed`` defaults to the scenario's.
    """

    scenario: str
    paths: Annotated[int, msgspec.Meta(ge=1)] = 8
    seed: Annotated[int, msgspec.Meta(ge=0)] | None = None
    n_positions: Annotated[int, msgspec.Meta(ge=1)] | None = None
    dt_s: Pos = 5.0
    tail_s: NonNeg = 300.0
    max_halts: Annotated[int, msgspec.Meta(ge=0)] = 5


class PolicyFile(Config, frozen=True, kw_only=True):
    """A policy file: a ``[policy]`` table and ``[[variants]]`` tables."""

    policy: PolicySettings
    variants: list[PolicyVariant] = msgspec.field(default_factory=list)

    def check(self) -> None:
        names = [v.name for v in self.variants]
        if len(set(names)) != len(names):
            raise ConfigError(f"variants: names repeat: {names}")


class PolicyLab(PolicySettings, frozen=True, kw_only=True):
    """A policy experiment: the scenario, the paths, the engine settings and the variants.

    The fields of :class:`PolicySettings` (``scenario`` is the scenario file's path), the
    variants, and ``source``, the name of the file it was read from (for messages).
    """

    variants: tuple[PolicyVariant, ...] = ()
    source: str = ""

    def check(self) -> None:
        names = [v.name for v in self.variants]
        if len(set(names)) != len(names):
            raise ConfigError(f"variants: names repeat: {names}")


def load_policy(path: str | Path) -> PolicyLab:
    """Read a policy file (``[policy]`` + ``[[variants]]``) or a plain stress scenario file.

    A plain scenario (no ``[policy]`` table) gives a lab with no variants: add them with
    :func:`parse_vary` (the CLI's ``--vary``). A baseline variant (no change) always runs first.
    """
    p = Path(path)
    raw = read_toml(p, what="policy/scenario")
    if "policy" not in raw:
        if "variants" in raw:
            raise ConfigError(f"{p.name}: variants: given without a [policy] table")
        return PolicyLab(scenario=str(p), source=p.name)
    doc = convert(raw, PolicyFile, name=p.name)
    sc = Path(doc.policy.scenario)
    if not sc.is_absolute():
        sc = p.parent / sc
    settings = {**doc.policy.to_dict(), "scenario": str(sc)}
    return PolicyLab.from_dict(
        {**settings, "variants": [v.to_dict() for v in doc.variants], "source": p.name},
        name=p.name,
    )


# --------------------------------------------------------------------------------------------
# the prepared scenario
# --------------------------------------------------------------------------------------------
@dataclass
class _Prepared:
    scenario: Any
    venues: list[Any]  # VenueSpec
    labels: tuple[str, ...]
    insurance_fund_quote: np.ndarray
    impacts: dict[str, Any]
    book: Any
    venue_index: np.ndarray  # book row -> scenario venue
    shock: Any
    seed: int
    notes: list[str] = field(default_factory=list)


def _prepare(lab: PolicyLab) -> _Prepared:
    from liqcascade import sweep
    from liqcascade.scenarios import load_scenario
    from liqcascade.scenarios import schema as S
    from liqcascade.scenarios.shocks import build_shock, read_klines

    sc = load_scenario(lab.scenario)
    if lab.n_positions is not None:
        if not isinstance(sc.book, S.SyntheticBook):
            raise ConfigError(f"{lab.source}: policy.n_positions applies to a synthetic book only")
        sc = msgspec.structs.replace(
            sc, book=msgspec.structs.replace(sc.book, n_positions=int(lab.n_positions))
        )
    seed = sc.monte_carlo.seed if lab.seed is None else int(lab.seed)
    default_price = None
    if isinstance(sc.book, S.SyntheticBook):
        kl = read_klines(
            sc.book.price_history, sc.base_dir, sc.book.history_start, sc.book.history_end
        )
        default_price = float(kl["close"][-1])
    venues = sweep._resolve_venues(sc, default_price)
    names = [v.name for v in venues]
    if len(set(names)) != len(names):
        raise ConfigError(
            f"{Path(lab.scenario).name}: the policy lab runs the dynamic engine on one asset; venues "
            f"repeat ({names}). Give each venue once."
        )
    if isinstance(sc.shock, S.CollateralShock):
        raise ConfigError(
            f"{Path(lab.scenario).name}: collateral shocks are not supported by the policy lab"
        )
    book, _pop = sweep._load_book(sc, venues, seed)
    vidx = sweep._venue_codes(sc, book, venues)
    impacts = {}
    for i in range(len(sc.venues)):
        impacts[venues[i].name] = sweep.venue_impact(sc, i)
    notes = []
    active = [
        k
        for k in ("retail_deleverage", "dip_buying", "mm_withdrawal")
        if getattr(sc.behaviours, k, None)
    ]
    if active:
        notes.append(
            f"scenario behaviours {active} are not modelled by the dynamic engine and are ignored here"
        )
    return _Prepared(
        scenario=sc,
        venues=venues,
        labels=tuple(names),
        insurance_fund_quote=np.array(
            [v.insurance_fund_quote for v in sc.venues], dtype=np.float64
        ),
        impacts=impacts,
        book=book,
        venue_index=np.asarray(vidx, dtype=np.int64),
        shock=build_shock(sc.shock, sc.base_dir),
        seed=seed,
        notes=notes,
    )


def _scaled_rules(rules: Any, mmr_scale: float) -> Any:
    from liqcascade.venues.base import TierTable

    if mmr_scale == 1.0:
        return rules
    t = rules.tiers
    base = np.asarray(t.mmr)
    # a rate cannot reach 100%: scaled rates are capped at 50% (Binance's 1x bracket) or the
    # tier's own rate if higher; capping keeps them non-decreasing
    mmr = np.minimum(base * mmr_scale, np.maximum(base, 0.5))
    lev = np.maximum(1.0, np.asarray(t.max_leverage) / mmr_scale)
    tiers = TierTable.from_rows(
        t.floor_quote, mmr, lev, cap_quote=t.cap_quote, name=f"{t.name} x{mmr_scale:g}"
    )
    return replace(rules, tiers=tiers)


@dataclass(frozen=True)
class _VariantBook:
    positions: Any  # PositionArrays
    segment: np.ndarray
    initial_equity_quote: np.ndarray
    resized: int
    dropped: int


def _variant_book(prep: _Prepared, v: PolicyVariant) -> _VariantBook:
    """The scenario's book under the variant's leverage cap and margin tiers."""
    from liqcascade import margin
    from liqcascade.engine.dyn_tiers import TierSet
    from liqcascade.engine.dynamic import PositionArrays

    b = prep.book
    side = np.asarray(b.side, np.int8)
    s = side.astype(np.float64)
    size = np.asarray(b.size_base, np.float64).copy()
    entry = np.asarray(b.entry_price, np.float64)
    bank = np.asarray(b.bankruptcy_price, np.float64)
    marg = np.where(
        np.isfinite(bank), s * size * (entry - bank), np.asarray(b.margin_quote, np.float64)
    )
    marg = np.where(np.isfinite(marg) & (marg > 0), marg, size * entry)
    vi = prep.venue_index
    n = len(size)
    liq = np.full(n, np.nan)
    mmr = np.zeros(n)
    cum = np.zeros(n)
    resized = 0
    scaled = [_scaled_rules(spec.rules, v.mmr_scale) for spec in prep.venues]
    for k, spec in enumerate(prep.venues):
        sel = np.flatnonzero(vi == k)
        if not len(sel):
            continue
        rules = scaled[k]
        notional = size[sel] * entry[sel]
        tier_cap = np.asarray(rules.tiers.max_leverage)[rules.tiers.index(notional)]
        cap = np.minimum(tier_cap, spec.max_leverage)
        if v.max_leverage is not None:
            cap = np.minimum(cap, v.max_leverage)
        lev = notional / marg[sel]
        over = lev > cap * (1 + 1e-9)
        if over.any():
            resized += int(over.sum())
            rows = sel[over]
            if v.leverage_cap_mode == "same_margin":
                size[rows] = marg[rows] * cap[over] / entry[rows]
            else:
                marg[rows] = notional[over] / cap[over]
        p, t = margin.liquidation_price_and_tier(rules, side[sel], size[sel], entry[sel], marg[sel])
        liq[sel] = p
        mmr[sel] = np.asarray(rules.tiers.mmr)[t]
        cum[sel] = np.asarray(rules.tiers.cum_quote)[t]
    p0 = np.array([prep.venues[k].initial_price for k in range(len(prep.venues))])[vi]
    dead = np.isfinite(liq) & (s * (p0 - liq) <= 0)
    keep = ~dead
    bank_new = entry - s * marg / size
    pa = PositionArrays(
        account_id=np.asarray(b.account_id)[keep],
        venue_code=vi[keep],
        venues=prep.labels,
        side=side[keep],
        size_base=size[keep],
        entry_price=entry[keep],
        margin_quote=marg[keep],
        mmr=mmr[keep],
        cum_quote=cum[keep],
        liquidation_price=liq[keep],
        bankruptcy_price=bank_new[keep],
        # each venue's (scaled) tier table, so partial liquidations re-price on its own tiers
        tiers=TierSet.from_rules(scaled, [0.0] * len(scaled)),
        tier_table=np.asarray(vi[keep], np.int64),
        account_names=tuple(getattr(b, "account_names", ())),
    )
    eq0 = marg + s * size * (p0 - entry)
    return _VariantBook(
        positions=pa,
        segment=np.asarray(b.segment, np.int8)[keep],
        initial_equity_quote=eq0[keep],
        resized=resized,
        dropped=int(dead.sum()),
    )


# --------------------------------------------------------------------------------------------
# paths and circuit breakers
# --------------------------------------------------------------------------------------------
def _engine_returns(prep: _Prepared, path: int, dt_s: float) -> np.ndarray:
    """Exogenous relative return per engine step of scenario path ``path`` (log-linear inside
    each scenario step)."""
    from liqcascade.runner import path_seed

    rng = np.random.default_rng(path_seed(prep.seed, path))
    sp = prep.shock.sample(rng)
    t = sp.time_s
    lr = np.diff(np.log(sp.price_ratio))
    if len(t) == 2 and t[1] == t[0]:  # an instantaneous jump
        return np.expm1(lr)
    step = float(t[1] - t[0])
    k = step / dt_s
    if abs(k - round(k)) > 1e-9 or round(k) < 1:
        raise ConfigError(f"dt_s={dt_s} must divide the scenario's step_s={step}")
    k = int(round(k))
    return np.expm1(np.repeat(lr / k, k))


def _find_halt(price: np.ndarray, start: int, cb: CircuitBreaker, dt_s: float) -> int | None:
    """First step >= start at which the price moved >= move_frac from its window extreme."""
    w = max(1, int(round(cb.window_s / dt_s)))
    for t in range(max(start, 1), len(price)):
        lo = max(0, t - w)
        win = price[lo : t + 1]
        hi, mn = float(win.max()), float(win.min())
        p = float(price[t])
        if (hi - p) / hi >= cb.move_frac or (p - mn) / mn >= cb.move_frac:
            return t
    return None


def _apply_halts(rets: np.ndarray, halts: list[tuple[int, int]], steps: int):
    """Freeze the exogenous path during each halt [a, b) (moves deferred to step b) and scale
    depth up so that forced orders do not move the price; returns (returns, depth scale)."""
    r = np.zeros(steps)
    r[: len(rets)] = rets
    scale = np.ones(steps)
    for a, b in halts:
        b = min(b, steps)
        if a >= steps:
            continue
        deferred = float(np.sum(np.log1p(r[a:b])))
        r[a:b] = 0.0
        if b < steps:
            r[b] = math.expm1(math.log1p(r[b]) + deferred)
        scale[a:b] = HALT_DEPTH_SCALE
    return r, scale


# --------------------------------------------------------------------------------------------
# running
# --------------------------------------------------------------------------------------------
@dataclass
class PolicyResult:
    """The comparison: ``table`` (one row per variant, means over paths), ``runs`` (one row per
    variant and path), the reference ADL figures, and what was run."""

    table: pl.DataFrame
    runs: pl.DataFrame
    reference: pl.DataFrame
    seed: int
    paths: int
    meta: dict[str, Any]

    def to_polars(self) -> pl.DataFrame:
        """The comparison table: one row per variant (``variant``, each mean of ``_TABLE_COLS``
        with ``<col>_ci_low``/``<col>_ci_high`` where it has an interval, ``seed``)."""
        return self.table

    def plot(self, column: str = "bad_debt_quote") -> Any:
        """Bar chart of ``column`` by variant, with its interval over paths as error bars."""
        from liqcascade import plotting

        if column not in self.table.columns:
            raise InputError(
                f"column {column!r}: not in the policy table (expected one of {self.table.columns})"
            )
        go = plotting.graph_objects("PolicyResult.plot")
        y = self.table[column].cast(pl.Float64).to_numpy()
        err: dict[str, Any] | None = None
        lo, hi = f"{column}_ci_low", f"{column}_ci_high"
        if lo in self.table.columns and hi in self.table.columns:
            err = {
                "type": "data",
                "symmetric": False,
                "array": (self.table[hi].cast(pl.Float64).to_numpy() - y).tolist(),
                "arrayminus": (y - self.table[lo].cast(pl.Float64).to_numpy()).tolist(),
            }
        fig = go.Figure(
            go.Bar(x=self.table["variant"].to_list(), y=y.tolist(), error_y=err, name=column)
        )
        return plotting.styled(
            fig,
            f"{column.replace('_', ' ')} by variant (seed {self.seed}, {self.paths} paths)",
            xaxis={"automargin": True},
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "paths": self.paths,
            "table": self.table.to_dicts(),
            "reference_chitra_2025": self.reference.to_dicts(),
            "meta": self.meta,
        }


def _venue_overrides(prep: _Prepared, v: PolicyVariant) -> dict[str, dict[str, Any]]:
    out = {}
    for k, spec in enumerate(prep.venues):
        d: dict[str, Any] = {}
        fund = (
            prep.insurance_fund_quote[k]
            if v.insurance_fund_quote is None
            else v.insurance_fund_quote
        )
        d["insurance_fund_quote"] = float(fund) * v.insurance_fund_scale
        fee = (
            spec.rules.liquidation_fee_rate
            if v.liquidation_fee_rate is None
            else v.liquidation_fee_rate
        )
        d["clearance_fee_rate"] = float(fee)
        if v.adl_policy is not None:
            d["adl_policy"] = v.adl_policy
        out[spec.name] = d
    return out


def _indicators(prep: _Prepared, vb: _VariantBook) -> Any:
    """Systemic indicators of the variant's book at the hub venue's initial price, with the
    venues' impact models pooled (:func:`liqcascade.metrics.aggregate_impact`)."""
    from liqcascade import metrics

    pa = vb.positions
    return metrics.indicators_from_arrays(
        side=pa.side,
        size_base=pa.size_base,
        liquidation_price=pa.liquidation_price,
        venue=np.asarray(pa.venues, dtype=object)[pa.venue_code],
        collateral_quote=float(pa.margin_quote.sum()),
        price=prep.venues[0].initial_price,
        impact=metrics.aggregate_impact([prep.impacts[name] for name in prep.labels]),
    )


def _indicator_columns(ind: Any) -> dict[str, float]:
    out = {}
    for c in _INDICATOR_COLS:
        v = getattr(ind, c)
        out[c] = math.nan if v is None else float(v)
    return out


def _metrics(res: Any, vb: _VariantBook) -> dict[str, float]:
    s = res.summary()
    lg = res.ledger
    losses = res.losses
    pos = lg["position"].to_numpy()
    kind = lg["kind"].to_numpy()
    liq_ev = np.isin(kind, _ADL_LOSS_KINDS)
    win_ev = kind == "adl_winner"
    seg = vb.segment
    size0 = vb.positions.size_base
    # lost equity of liquidated positions (share of the starting equity closed, less returned)
    lost = np.zeros(len(seg))
    if liq_ev.any():
        p = pos[liq_ev]
        closed = np.bincount(p, weights=lg["qty_base"].to_numpy()[liq_ev], minlength=len(seg))
        returned = np.bincount(
            p, weights=lg["returned_quote"].to_numpy()[liq_ev], minlength=len(seg)
        )
        hit = closed > 0
        frac = np.minimum(1.0, closed / size0)
        lost[hit] = np.maximum(0.0, frac[hit] * vb.initial_equity_quote[hit] - returned[hit])
    if win_ev.any():
        lost += np.bincount(
            pos[win_ev], weights=lg["adl_haircut"].to_numpy()[win_ev], minlength=len(seg)
        )
    lost = np.maximum(lost, 0.0)
    total_loss = float(lost.sum())
    retail = float(lost[seg == 0].sum())
    acc = vb.positions.account_id
    hit_accounts = np.unique(acc[pos[liq_ev | win_ev]]) if (liq_ev | win_ev).any() else np.zeros(0)
    liq_accounts = np.unique(acc[pos[liq_ev]]) if liq_ev.any() else np.zeros(0)
    fund_change = lg["insurance_fund_change"].to_numpy()
    book = LossLedger.from_events(lg)
    # needed is the losers' negative equity at R (>= 0 per loser); taken comes from the ledger's
    # per-loser ADL transfers, never from the engine's net winner haircut, whose sign flips when
    # ADL closes positions that still had equity at R
    needed = snap_amount(float(np.maximum(losses["adl_needed"].to_numpy(), 0.0).sum()))
    taken = book.adl_counterparty_quote
    return {
        "liquidated_notional_quote": float(s["liquidated_notional"]),
        "bad_debt_quote": book.bad_debt_quote,
        "deficit_quote": book.deficit_quote,
        "insurance_fund_used_quote": book.insurance_fund_quote,
        "insurance_fund_net_quote": snap_amount(float(fund_change.sum())),
        "vault_loss_quote": book.vault_quote,
        "fees_quote": book.fees_quote,
        "adl_taken_quote": taken,
        "adl_paid_to_counterparties_quote": book.adl_counterparty_gain_quote,
        "adl_needed_quote": needed,
        "adl_overshoot_quote": snap_amount(taken - needed),
        "cascade_multiplier": float(s["cascade_multiplier"]),
        "accounts_hit": float(len(hit_accounts)),
        "accounts_liquidated": float(len(liq_accounts)),
        "trader_loss_quote": snap_amount(total_loss),
        "retail_loss_share": retail / total_loss if total_loss > 0 else math.nan,
        "institutional_loss_share": (total_loss - retail) / total_loss
        if total_loss > 0
        else math.nan,
        "final_price": float(s["final_price"]),
        "conservation_residual_quote": float(s["conservation_residual"]),
    }


def run_variant_path(
    prep: _Prepared, vb: _VariantBook, v: PolicyVariant, path: int, lab: PolicyLab
) -> dict[str, float]:
    """Run one variant on one path (same exogenous path and engine seed in every variant)."""
    from liqcascade.engine.dynamic import DynamicConfig, simulate

    rets = _engine_returns(prep, path, lab.dt_s)
    steps = len(rets) + max(1, int(round(lab.tail_s / lab.dt_s)))
    venues_cfg = _venue_overrides(prep, v)
    cb = v.circuit_breaker
    assert not isinstance(cb, str)  # PolicyVariant.check parsed the "X/Y/Z" text on construction
    halts: list[tuple[int, int]] = []
    engine_seed = runner.engine_seed(prep.seed, path)
    p0 = {spec.name: spec.initial_price for spec in prep.venues}
    for _ in range(lab.max_halts + 1):
        r, scale = _apply_halts(rets, halts, steps)
        cfg = DynamicConfig(
            dt_s=lab.dt_s,
            steps=steps,
            seed=engine_seed,
            venues=venues_cfg,
            # the engine recomputes the depth scale each step only when stress_beta > 0; a
            # negligible beta keeps the halt multiplier from compounding step over step
            stress_beta=1e-12 if halts else 0.0,
        )
        res = simulate(
            vb.positions,
            prep.impacts,
            r,
            cfg,
            rng_seed=engine_seed,
            initial_price=p0,
            depth_scale_path=scale if halts else None,
        )
        if cb is None:
            break
        hub = res.summary()["hub_venue"]
        price = res.timeline.filter(pl.col("venue") == hub).sort("step")["price"].to_numpy()
        start = halts[-1][1] if halts else 1
        t = _find_halt(price, start, cb, lab.dt_s)
        if t is None or len(halts) == lab.max_halts:
            break
        halts.append((t + 1, t + 1 + max(1, int(round(cb.halt_s / lab.dt_s)))))
    out = _metrics(res, vb)
    out["halts"] = float(len(halts))
    return out


_INDICATOR_COLS = (
    "leverage_ratio",
    "oi_over_depth_1pct_bid",
    "liq_density_5pct",
    "venue_hhi",
    "critical_shock_down",
)

_TABLE_COLS = (
    "liquidated_notional_quote",
    "bad_debt_quote",
    "deficit_quote",
    "insurance_fund_used_quote",
    "insurance_fund_net_quote",
    "vault_loss_quote",
    "fees_quote",
    "adl_taken_quote",
    "adl_paid_to_counterparties_quote",
    "adl_needed_quote",
    "adl_overshoot_quote",
    "cascade_multiplier",
    "accounts_hit",
    "accounts_liquidated",
    "trader_loss_quote",
    "retail_loss_share",
    "institutional_loss_share",
    "halts",
    "conservation_residual_quote",
) + _INDICATOR_COLS


_INTERVAL_COLS = tuple(c for c in _TABLE_COLS if c not in _INDICATOR_COLS)


@dataclass(eq=False)
class _PolicyTask:
    """The (variant, path) runs of a lab as one item range for :func:`liqcascade.runner.run_chunks`:
    item ``j`` is variant ``j // paths`` on path ``j % paths``."""

    prep: _Prepared
    books: tuple[_VariantBook, ...]
    variants: tuple[PolicyVariant, ...]
    lab: PolicyLab
    #: the dynamic engine builds polars frames: pool workers start afresh, never forked
    fork_safe: bool = False

    def run_chunk(self, start: int, stop: int) -> list[dict[str, Any]]:
        out = []
        for j in range(start, stop):
            k, i = divmod(j, self.lab.paths)
            v = self.variants[k]
            m = run_variant_path(self.prep, self.books[k], v, i, self.lab)
            out.append({"variant": v.name, "path": i, **m})
        return out


def _comparison_table(runs: pl.DataFrame, names: list[str], confidence: float) -> pl.DataFrame:
    """Means over paths per variant, each with its t interval (``<col>_ci_low/_ci_high``)."""
    from liqcascade.sweep import mean_t_interval

    rows = []
    for name in names:
        sub = runs.filter(pl.col("variant") == name)
        row: dict[str, Any] = {"variant": name}
        for c in _TABLE_COLS:
            x = sub[c].to_numpy().astype(np.float64)
            if c in _INTERVAL_COLS:
                mean, lo, hi = mean_t_interval(x, confidence)
                row[c], row[f"{c}_ci_low"], row[f"{c}_ci_high"] = mean, lo, hi
            else:
                row[c] = float(np.nanmean(x)) if np.isfinite(x).any() else math.nan
        row["max_abs_residual_quote"] = float(
            np.max(np.abs(sub["conservation_residual_quote"].to_numpy()))
        )
        needed = row["adl_needed_quote"]
        row["adl_overshoot_over_needed"] = (
            row["adl_overshoot_quote"] / needed if needed > 0 else None
        )
        rows.append(row)
    amounts = [c for c in rows[0] if c.endswith(("_quote", "_quote_ci_low", "_quote_ci_high"))]
    table = pl.DataFrame(rows).drop(
        "conservation_residual_quote",
        "conservation_residual_quote_ci_low",
        "conservation_residual_quote_ci_high",
    )
    # interval ends of money amounts are amounts too: rounding noise reads 0
    return table.with_columns(
        [
            pl.when(pl.col(c).abs() < AMOUNT_TOL_QUOTE).then(0.0).otherwise(pl.col(c)).alias(c)
            for c in amounts
            if c in table.columns and c != "max_abs_residual_quote"
        ]
    )


def run_policy(
    lab: PolicyLab,
    variants: Iterable[PolicyVariant] = (),
    *,
    progress: Any = None,
    workers: int | None = 0,
    dask: Any = None,
    chunk_size: int | None = None,
    confidence: float = INTERVAL_CONFIDENCE,
) -> PolicyResult:
    """Run the baseline and every variant (the lab's and ``variants``) on the same paths.

    The (variant, path) runs go through :func:`liqcascade.runner.run_chunks`: ``workers=0``
    (default) in process, ``workers=N`` a local pool, ``dask`` a ``distributed.Client``, a
    scheduler address or a LocalCluster worker count; the result does not depend on it.
    ``progress`` is an optional callable ``(done, total)`` (the CLI passes a progress bar).
    Every mean of the table comes with a two-sided t interval over paths at ``confidence``.
    """
    if not 0.0 < confidence < 1.0:
        raise ConfigError(f"confidence must be in (0, 1), got {confidence}")
    vs = [PolicyVariant(name="baseline")] + list(lab.variants) + list(variants)
    names = [v.name for v in vs]
    if len(set(names)) != len(names):
        raise ConfigError(f"variant names repeat: {names}")
    prep = _prepare(lab)
    meta_variants = []
    books = []
    ind_cols = {}
    for v in vs:
        vb = _variant_book(prep, v)
        ind = _indicators(prep, vb)
        books.append(vb)
        ind_cols[v.name] = _indicator_columns(ind)
        meta_variants.append(
            {
                "name": v.name,
                "positions": len(vb.positions),
                "resized": vb.resized,
                "dropped_already_liquidatable": vb.dropped,
                "indicators": ind.as_dict(),
            }
        )
    task = _PolicyTask(prep, tuple(books), tuple(vs), lab)
    chunks, info = runner.run_chunks(
        task,
        len(vs) * lab.paths,
        workers=workers,
        dask=dask,
        chunk_size=chunk_size or lab.paths,
        progress=progress,
    )
    rows = [{**r, **ind_cols[r["variant"]], "seed": prep.seed} for chunk in chunks for r in chunk]
    runs = pl.DataFrame(rows)
    table = _comparison_table(runs, names, confidence).with_columns(
        pl.lit(prep.seed, dtype=pl.Int64).alias("seed")
    )
    logger.info("policy lab: %d variants x %d paths on %s", len(vs), lab.paths, info.backend)
    return PolicyResult(
        table=table,
        runs=runs,
        reference=chitra_reference(),
        seed=prep.seed,
        paths=lab.paths,
        meta={
            "scenario": str(lab.scenario),
            "seed": prep.seed,
            "dt_s": lab.dt_s,
            "tail_s": lab.tail_s,
            "positions": len(prep.book),
            "interval": f"two-sided {confidence:.0%} t interval of the mean over paths",
            "backend": info.backend,
            "variants": meta_variants,
            "variant_rules": [v.to_dict() for v in vs],
            "notes": prep.notes,
        },
    )


# --------------------------------------------------------------------------------------------
# reference figures
# --------------------------------------------------------------------------------------------
_CHITRA_POLICIES = {
    "prod": "Hyperliquid production queue",
    "pr": "pro-rata (wealth)",
    "contract_pr": "contract pro-rata",
    "vector": "vector",
    "fixed_point_ilp_integer": "min-max ILP",
}


def chitra_reference(path: str | Path | None = None) -> pl.DataFrame:
    """Per-policy totals of Chitra (2025)'s ADL analysis of Hyperliquid, 10 Oct 2025.

    Sums the 16 waves of ``policy_per_wave_metrics.csv`` (shipped in
    ``sample_data/hyperliquid/adl-2025-10-10``; MIT, pluriholonomic/autodeleveraging-analysis
    aae0be86): needed budget, budget used and overshoot per policy, in USD, and overshoot / needed.
    """
    p = (
        Path(
            str(
                files("liqcascade")
                / "sample_data/hyperliquid/adl-2025-10-10/policy_per_wave_metrics.csv"
            )
        )
        if path is None
        else Path(path)
    )
    if not p.is_file():
        raise InputError(f"{p}: Chitra per-wave file not found")
    df = pl.read_csv(p)
    needed = float(df["budget_needed"].sum())
    rows = []
    for key, label in _CHITRA_POLICIES.items():
        b, o = f"budget_{key}", f"overshoot_{key}"
        if b not in df.columns or o not in df.columns:
            raise InputError(f"{p}: columns {b}/{o} missing")
        rows.append(
            {
                "policy": label,
                "waves": df.height,
                "needed_usd": needed,
                "taken_usd": float(df[b].sum()),
                "overshoot_usd": float(df[o].sum()),
                "overshoot_over_needed": float(df[o].sum()) / needed,
            }
        )
    return pl.DataFrame(rows)


def variants_from(specs: Sequence[str]) -> list[PolicyVariant]:
    """Variants from several ``--vary`` specs (one factor at a time)."""
    out: list[PolicyVariant] = []
    for s in specs:
        out.extend(parse_vary(s))
    return out
