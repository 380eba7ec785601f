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
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import numpy as np
import polars as pl

from liqcascade.adl import ADLPolicy, allocate
from liqcascade.engine import dyn_kernels as K
from liqcascade.errors import ConfigError, InputError
from liqcascade.funds import BackstopVault, InsuranceFund, Ledger, empty_chunk
from liqcascade.log import logger
from liqcascade.markets import ImpactTable, VenueMarket, arb_volume

__all__ = [
    "DynamicConfig",
    "DynamicResult",
    "PositionArrays",
    "VenueProcess",
    "simulate",
    "simulate_shock",
]

_PROCESSES = {"binance": K.PROC_BINANCE, "hyperliquid": K.PROC_HYPERLIQUID, "dydx": K.PROC_DYDX}


# ---------------------------------------------------------------------------------------------
# configuration
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class VenueProcess:
    """How one venue liquidates, and the state of its loss absorbers. Units: quote currency, s.

    Defaults per venue come from :meth:`for_venue` (sources in docs/engine-dynamic.md).
    ``clearance_fee_rate`` None means the venue rules' ``liquidation_fee_rate``.
    """

    process: str = "binance"
    clearance_fee_rate: float | None = None
    fee_to_fund: bool = True
    insurance_fund_quote: float = math.inf
    insurance_fund_floor_quote: float = 0.0
    partial_threshold_quote: float = 100_000.0
    partial_fraction: float = 0.2
    cooldown_s: float = 30.0
    backstop_ratio: float = 2.0 / 3.0
    has_vault: bool = False
    vault_capital_quote: float = 0.0
    vault_mode: str = "hold"
    bankruptcy_adjustment: float = 1.0
    spread_to_mmr: float = 1.5
    max_portion: float = 0.1
    min_notional_quote: float = 1_000.0
    max_notional_block_quote: float = 100_000.0
    max_insurance_lost_block_quote: float = 1_000_000.0
    adl_policy: str = "queue:binance"
    funding_interval_s: float = 8 * 3600.0
    funding_rate: float = 0.0001
    funding_phase_s: float | None = None
    mmr_fallback: float = 0.005

    def __post_init__(self) -> None:
        if self.process not in _PROCESSES:
            raise ConfigError(
                f"venue process: expected one of {sorted(_PROCESSES)}, got {self.process!r}"
            )
        if self.vault_mode not in ("hold", "unwind"):
            raise ConfigError(f"vault_mode: expected 'hold' or 'unwind', got {self.vault_mode!r}")
        for name in ("partial_fraction", "max_portion", "backstop_ratio"):
            v = getattr(self, name)
            if not 0.0 < v <= 1.0:
                raise ConfigError(f"{name} must be in (0, 1], got {v}")
        if not self.funding_interval_s > 0:
            raise ConfigError("funding_interval_s must be > 0")
        if self.clearance_fee_rate is not None and not 0 <= self.clearance_fee_rate < 1:
            raise ConfigError("clearance_fee_rate must be in [0, 1)")
        ADLPolicy.parse(self.adl_policy)

    @classmethod
    def for_venue(cls, venue: str, **overrides: Any) -> VenueProcess:
        """Documented defaults for ``binance_usdm``, ``hyperliquid``, ``dydx_v4``, ``bybit_linear``,
        ``okx_swap`` and ``generic`` (Binance-style unless configured)."""
        base: dict[str, Any]
        if venue == "hyperliquid":
            base = dict(
                process="hyperliquid",
                clearance_fee_rate=0.0,
                has_vault=True,
                vault_capital_quote=300e6,  # HLP TVL about $300M in Oct 2025 (events-2025q4 A8)
                adl_policy="queue:hyperliquid",
                funding_interval_s=3600.0,
                funding_rate=0.0001 / 8,
            )
        elif venue == "dydx_v4":
            base = dict(
                process="dydx",
                clearance_fee_rate=0.015,  # max_liquidation_fee_ppm 15,000 (venues.md 5)
                adl_policy="random_start",
                funding_interval_s=3600.0,
                funding_rate=0.0001 / 8,
            )
        elif venue == "binance_usdm":
            base = dict(
                process="binance",
                insurance_fund_quote=1.23e9,  # shared USDT-M fund before 10 Oct 2025 (A8)
                adl_policy="queue:binance",
            )
        elif venue in ("bybit_linear", "okx_swap"):
            base = dict(process="binance", adl_policy="queue:bitmex")
        else:
            base = dict(process="binance")
        base.update(overrides)
        return cls(**base)


_VENUE_FIELDS = {f.name for f in fields(VenueProcess)}


@dataclass(frozen=True, kw_only=True)
class DynamicConfig:
    """Run configuration (keyword-only, frozen, rejects unknown keys, round-trips to JSON).

    dt_s: step length (s). steps: number of steps. seed: seed of the run's numpy Generator.
    resilience_half_life_s: half-life of eaten depth (inf = never refills).
    permanent_fraction: share of price impact that stays when depth refills (1 = all).
    stress_beta / stress_floor / stress_window_s: depth scale = max(floor, 1 - beta*drawdown).
    arb_rate_per_s: rate at which a cross-venue log price gap closes (0 = no arbitrage).
    arb_hub: venue the others are arbitraged against (default: the first venue).
    shock_venues: venues the exogenous path moves (default all; others follow by arbitrage).
    quiet_stop_s: stop early after this many quiet seconds once the path is over (None = never).
    venues: per-venue :class:`VenueProcess` overrides (dict of field -> value, or VenueProcess).
    """

    dt_s: float = 1.0
    steps: int = 3600
    seed: int = 0
    resilience_half_life_s: float = 60.0
    permanent_fraction: float = 1.0
    stress_beta: float = 0.0
    stress_floor: float = 0.2
    stress_window_s: float = 60.0
    arb_rate_per_s: float = 0.2
    arb_hub: str | None = None
    shock_venues: tuple[str, ...] | None = None
    quiet_stop_s: float | None = None
    venues: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not (self.dt_s > 0 and math.isfinite(self.dt_s)):
            raise ConfigError(f"dt_s must be > 0, got {self.dt_s}")
        if int(self.steps) != self.steps or self.steps < 1:
            raise ConfigError(f"steps must be an integer >= 1, got {self.steps}")
        if self.arb_rate_per_s < 0:
            raise ConfigError("arb_rate_per_s must be >= 0")
        for name, val in self.venues.items():
            if isinstance(val, Mapping):
                unknown = set(val) - _VENUE_FIELDS
                if unknown:
                    raise ConfigError(
                        f"venues.{name}: unknown keys {sorted(unknown)}; expected some of {sorted(_VENUE_FIELDS)}"
                    )
            elif not isinstance(val, VenueProcess):
                raise ConfigError(f"venues.{name}: expected a dict or VenueProcess")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DynamicConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ConfigError(
                f"dynamic config: unknown keys {sorted(unknown)}; expected some of {sorted(known)}"
            )
        d = _decode_inf(dict(d))
        if d.get("shock_venues") is not None:
            d["shock_venues"] = tuple(d["shock_venues"])
        return cls(**d)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["venues"] = {
            k: (asdict(v) if isinstance(v, VenueProcess) else dict(v))
            for k, v in self.venues.items()
        }
        if d["shock_venues"] is not None:
            d["shock_venues"] = list(d["shock_venues"])
        return d

    def to_json(self) -> str:
        """JSON text; non-finite numbers are written as the strings "inf", "-inf", "nan"."""
        return json.dumps(_encode_inf(self.to_dict()), default=_json_default)

    def process_for(self, venue: str) -> VenueProcess:
        v = self.venues.get(venue)
        if isinstance(v, VenueProcess):
            return v
        return VenueProcess.for_venue(venue, **(v or {}))


def _encode_inf(o: Any) -> Any:
    if isinstance(o, float) and not math.isfinite(o):
        return str(o)
    if isinstance(o, dict):
        return {k: _encode_inf(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_encode_inf(v) for v in o]
    return o


def _decode_inf(o: Any) -> Any:
    if isinstance(o, str) and o in ("inf", "-inf", "nan"):
        return float(o)
    if isinstance(o, dict):
        return {k: _decode_inf(v) for k, v in o.items()}
    return o


def _json_default(o: Any) -> Any:
    if isinstance(o, float):
        return None
    if isinstance(o, np.generic):
        return o.item()
    raise TypeError(type(o).__name__)


# ---------------------------------------------------------------------------------------------
# positions
# ---------------------------------------------------------------------------------------------


@dataclass
class PositionArrays:
    """The engine's working copy of one asset's positions (struct of arrays, mutated by a run).

    ``margin_quote`` is the position's effective margin (isolated margin, or for cross positions
    the margin implied by the book's bankruptcy price: ``side*size*(entry - bankruptcy)``);
    ``mmr``/``cum_quote`` the maintenance tier at the notional valued at the liquidation price.
    """

    account_id: np.ndarray
    venue_code: np.ndarray
    venues: tuple[str, ...]
    side: np.ndarray
    size_base: np.ndarray
    entry_price: np.ndarray
    margin_quote: np.ndarray
    mmr: np.ndarray
    cum_quote: np.ndarray
    liquidation_price: np.ndarray
    bankruptcy_price: np.ndarray
    symbols: tuple[str, ...] | None = None  # symbol of each venue (for its rules), if known

    def __post_init__(self) -> None:
        n = len(self.side)
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, np.ndarray) and len(v) != n:
                raise InputError(f"PositionArrays.{f.name}: length {len(v)}, expected {n}")
        self.account_id = np.ascontiguousarray(self.account_id, np.int64)
        self.venue_code = np.ascontiguousarray(self.venue_code, np.int64)
        self.side = np.ascontiguousarray(self.side, np.int8)
        for name in (
            "size_base",
            "entry_price",
            "margin_quote",
            "mmr",
            "cum_quote",
            "liquidation_price",
            "bankruptcy_price",
        ):
            setattr(self, name, np.array(getattr(self, name), dtype=np.float64, copy=True))
        if np.any(~np.isin(self.side, (-1, 1))):
            raise InputError("PositionArrays.side: expected +1 (long) or -1 (short)")
        if np.any(~(self.size_base > 0)):
            raise InputError("PositionArrays.size_base: expected > 0")
        if np.any(~(self.entry_price > 0)):
            raise InputError("PositionArrays.entry_price: expected > 0")
        if len(self.venue_code) and (
            self.venue_code.min() < 0 or self.venue_code.max() >= len(self.venues)
        ):
            raise InputError("PositionArrays.venue_code: expected codes into venues")

    def __len__(self) -> int:
        return len(self.side)

    @classmethod
    def isolated(
        cls,
        *,
        side: Any,
        size_base: Any,
        entry_price: Any,
        margin_quote: Any,
        mmr: Any,
        cum_quote: Any = 0.0,
        venue_code: Any = 0,
        venues: Sequence[str] = ("generic",),
        account_id: Any = None,
    ) -> PositionArrays:
        """Isolated positions with a fixed maintenance tier; liquidation and bankruptcy prices from
        ``margin + side*size*(P - entry) = size*P*mmr - cum`` and ``entry - side*margin/size``."""
        side = np.asarray(side, np.int8)
        n = len(side)
        b = lambda x: np.broadcast_to(np.asarray(x, np.float64), (n,)).copy()  # noqa: E731
        size, entry, marg, mmr_a, cum = (
            b(size_base),
            b(entry_price),
            b(margin_quote),
            b(mmr),
            b(cum_quote),
        )
        s = side.astype(np.float64)
        liq = (s * size * entry - marg - cum) / (size * (s - mmr_a))
        liq = np.where(liq > 0, liq, np.nan)
        bank = entry - s * marg / size
        acc = np.arange(n) if account_id is None else np.asarray(account_id)
        return cls(
            account_id=acc,
            venue_code=np.broadcast_to(np.asarray(venue_code, np.int64), (n,)).copy(),
            venues=tuple(venues),
            side=side,
            size_base=size,
            entry_price=entry,
            margin_quote=marg,
            mmr=mmr_a,
            cum_quote=cum,
            liquidation_price=liq,
            bankruptcy_price=bank,
        )

    @classmethod
    def from_book(
        cls,
        book: Any,
        *,
        venue: str | None = None,
        symbol: str | None = None,
        config: DynamicConfig | None = None,
    ) -> PositionArrays:
        """From a :class:`liqcascade.book.PositionBook` (one asset; all its venues, or ``venue``)."""
        cfg = config or DynamicConfig()
        venues_all = tuple(book.venues)
        symbols_all = tuple(book.symbols)
        mask = np.ones(len(book), bool)
        if venue is not None:
            from liqcascade.venues import normalize_venue

            v = normalize_venue(venue)
            if v not in venues_all:
                raise InputError(
                    f"venue {venue!r} is not in the book (book venues: {', '.join(venues_all)})"
                )
            mask &= book.venue_code == venues_all.index(v)
        if symbol is not None:
            from liqcascade.book import _squash

            want = _squash(symbol)
            codes = [i for i, s in enumerate(symbols_all) if _squash(s) == want or s == symbol]
            if not codes:
                raise InputError(
                    f"symbol {symbol!r} is not in the book (book symbols: {', '.join(symbols_all)})"
                )
            mask &= np.isin(book.symbol_code, codes)
        vc_all = np.asarray(book.venue_code)[mask]
        sc_all = np.asarray(book.symbol_code)[mask]
        for v in np.unique(vc_all):
            syms = np.unique(sc_all[vc_all == v])
            if len(syms) > 1:
                raise InputError(
                    f"the dynamic engine simulates one asset: venue {venues_all[v]} holds symbols "
                    f"{', '.join(symbols_all[s] for s in syms)}; pass symbol=..."
                )
        used = np.unique(vc_all)
        venues = tuple(venues_all[v] for v in used)
        remap = np.full(len(venues_all), -1, np.int64)
        remap[used] = np.arange(len(used))
        side = np.asarray(book.side)[mask].astype(np.int8)
        size = np.asarray(book.size_base, np.float64)[mask]
        entry = np.asarray(book.entry_price, np.float64)[mask]
        liq = np.asarray(book.liquidation_price, np.float64)[mask]
        bank = np.asarray(book.bankruptcy_price, np.float64)[mask]
        iso_m = np.asarray(book.margin_quote, np.float64)[mask]
        s = side.astype(np.float64)
        marg = np.where(np.isfinite(bank), s * size * (entry - bank), iso_m)
        # no positive bankruptcy price (e.g. a 1x long): fully collateralised
        marg = np.where(np.isfinite(marg), marg, size * entry)
        bank = np.where(np.isfinite(bank), bank, entry - s * marg / size)
        mmr = np.empty(len(side))
        cum = np.zeros(len(side))
        for v in used:
            sel = vc_all == v
            name = venues_all[v]
            sym = symbols_all[int(sc_all[sel][0])]
            proc = cfg.process_for(name)
            try:
                from liqcascade.venues import load_venue

                rules = load_venue(name, sym)
                at = np.where(np.isfinite(liq[sel]), liq[sel], entry[sel]) * size[sel]
                k = rules.tiers.index(at)
                mmr[sel] = np.asarray(rules.tiers.mmr, np.float64)[k]
                cum[sel] = np.asarray(rules.tiers.cum_quote, np.float64)[k]
            except Exception as exc:  # noqa: BLE001 - rules missing: documented fallback
                logger.warning(
                    "dynamic: no tier table for %s/%s (%s); mmr=%g",
                    name,
                    sym,
                    exc,
                    proc.mmr_fallback,
                )
                mmr[sel] = proc.mmr_fallback
        return cls(
            account_id=np.asarray(book.account_id)[mask],
            venue_code=remap[vc_all],
            venues=venues,
            side=side,
            size_base=size,
            entry_price=entry,
            margin_quote=marg,
            mmr=mmr,
            cum_quote=cum,
            liquidation_price=liq,
            bankruptcy_price=bank,
            symbols=tuple(symbols_all[int(sc_all[vc_all == v][0])] for v in used),
        )


# ---------------------------------------------------------------------------------------------
# result
# ---------------------------------------------------------------------------------------------


_IDENTITY = ("trader_pnl", "fee", "insurance_fund_change", "vault_pnl", "adl_transfer", "bad_debt")


@dataclass
class DynamicResult:
    """Outcome of a dynamic run: timeline, per-venue losses, per-event ledger, summary.

    timeline: one row per (step, venue): price, fundamental price, liquidated notional per side
    (quote, at the price each position left the venue), counts, forced and arbitrage volume
    (base), ADL notional, depth scale, insurance-fund balance, vault capacity.
    losses: one row per venue (sign convention in :mod:`liqcascade.funds`).
    ledger: one row per event.
    """

    timeline: pl.DataFrame
    losses: pl.DataFrame
    ledger: pl.DataFrame
    config: DynamicConfig
    seed: int
    _summary: dict[str, Any]
    funding_quote: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))
    account_id: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0, np.int64))

    def summary(self) -> dict[str, Any]:
        """Headline figures: the static keys (shock, initial_price, shocked_price, final_price,
        liquidated_count, liquidated_base, liquidated_notional, cascade_multiplier, book_exhausted)
        plus loss totals, the seed and per-venue figures."""
        return dict(self._summary)

    as_dict = summary

    @property
    def accounts(self) -> pl.DataFrame:
        """Per-account totals from the ledger (plus funding paid, quote)."""
        lg = self.ledger
        agg = lg.group_by("account_id").agg(
            pl.col("trader_pnl").sum(),
            pl.col("fee").sum(),
            pl.col("returned_quote").sum(),
            pl.col("adl_haircut").sum(),
            pl.len().alias("events"),
        )
        fund = pl.DataFrame({"account_id": self.account_id, "funding_quote": -self.funding_quote})
        fund = fund.group_by("account_id").agg(pl.col("funding_quote").sum())
        return (
            fund.join(agg, on="account_id", how="full", coalesce=True)
            .fill_null(0)
            .sort("account_id")
        )

    def to_json(self, *, timeline: bool = True) -> str:
        """Summary, losses and (optionally) timeline as a JSON object."""
        out: dict[str, Any] = {"summary": self.summary(), "losses": self.losses.to_dicts()}
        if timeline:
            out["timeline"] = self.timeline.to_dict(as_series=False)
        out = _clean(out)
        out["config"] = _encode_inf(self.config.to_dict())
        return json.dumps(out)


def _clean(o: Any) -> Any:
    if isinstance(o, float):
        return o if math.isfinite(o) else None
    if isinstance(o, dict):
        return {k: _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean(v) for v in o]
    if isinstance(o, np.generic):
        return _clean(o.item())
    return o


# ---------------------------------------------------------------------------------------------
# the run
# ---------------------------------------------------------------------------------------------


def _tables(impact: Any) -> tuple[ImpactTable, ImpactTable]:
    if isinstance(impact, ImpactTable):
        return impact, impact
    if isinstance(impact, tuple) and len(impact) == 2:
        return _tables(impact[0])[0], _tables(impact[1])[0]
    if hasattr(impact, "for_side"):
        return ImpactTable.from_impact(impact.for_side("bid")), ImpactTable.from_impact(
            impact.for_side("ask")
        )
    t = ImpactTable.from_impact(impact)
    return t, t


def _prm(proc: VenueProcess, fee_rate: float) -> np.ndarray:
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


def _fee_rate(proc: VenueProcess, venue: str, symbol: str | None) -> float:
    if proc.clearance_fee_rate is not None:
        return float(proc.clearance_fee_rate)
    try:
        from liqcascade.venues import load_venue

        return float(load_venue(venue, symbol or "BTCUSDT").liquidation_fee_rate)
    except Exception:  # noqa: BLE001 - no rules: no fee
        return 0.0


def _path_array(path: Any, steps: int, venues: tuple[str, ...]) -> np.ndarray:
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
            out[:, venues.index(name)] = _path_array(p, steps, ("x",))[:, 0]
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
) -> DynamicResult:
    """Run the dynamic cascade.

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
    rng = np.random.default_rng(seed)
    pos = (
        book
        if isinstance(book, PositionArrays)
        else PositionArrays.from_book(book, venue=venue, symbol=symbol, config=cfg)
    )
    pos = replace(pos)  # shallow copy of the container; arrays are copied below
    for name in ("size_base", "margin_quote", "liquidation_price", "bankruptcy_price"):
        setattr(pos, name, getattr(pos, name).copy())
    venues = pos.venues
    nv = len(venues)
    if nv == 0:
        raise InputError("simulate: the book has no positions for the requested venue/symbol")
    for name in cfg.venues:
        if name not in venues:
            logger.info("dynamic: config for venue %s which is not in the book", name)
    if cfg.shock_venues is not None:
        for name in cfg.shock_venues:
            if name not in venues:
                raise ConfigError(
                    f"shock_venues: {name!r} not simulated (venues: {', '.join(venues)})"
                )

    # markets
    mk: list[VenueMarket] = []
    for name in venues:
        imp = markets.get(name) if isinstance(markets, Mapping) else markets
        if imp is None:
            raise InputError(f"markets: no impact model for venue {name!r}")
        p0 = initial_price.get(name) if isinstance(initial_price, Mapping) else initial_price
        if p0 is None:
            raise InputError(f"initial_price: no price for venue {name!r}")
        bid, ask = _tables(imp)
        mk.append(
            VenueMarket(
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
        )
    procs = [cfg.process_for(name) for name in venues]
    syms = pos.symbols or tuple(symbol for _ in venues)
    prms = [
        _prm(p, _fee_rate(p, name, sym)) for p, name, sym in zip(procs, venues, syms, strict=True)
    ]
    policies = [ADLPolicy.parse(p.adl_policy) for p in procs]
    funds = [InsuranceFund(p.insurance_fund_quote, p.insurance_fund_floor_quote) for p in procs]
    vaults = [
        BackstopVault(p.vault_capital_quote if p.has_vault else 0.0, p.vault_mode) for p in procs
    ]
    fstate = []
    for f, v in zip(funds, vaults, strict=True):
        a = np.zeros(K.N_FUND)
        a[0], a[1], a[2] = f.balance_quote, f.floor_quote, v.capital_quote
        fstate.append(a)

    steps = int(cfg.steps)
    dt = float(cfg.dt_s)
    rets = _path_array(path, steps, venues)
    if cfg.shock_venues is not None:
        keep = np.array([v in cfg.shock_venues for v in venues])
        rets[:, ~keep] = 0.0
    dscale = None
    if depth_scale_path is not None:
        dscale = np.asarray(depth_scale_path, np.float64)
        if dscale.ndim != 1 or np.any(~(dscale > 0)):
            raise InputError("depth_scale_path: expected a 1-D array of positive depth multipliers")

    n = len(pos)
    side = pos.side
    size = pos.size_base
    entry = pos.entry_price
    marg = pos.margin_quote
    mmr = pos.mmr
    cum = pos.cum_quote
    liq = pos.liquidation_price
    bank = pos.bankruptcy_price
    active = np.ones(n, dtype=np.bool_)
    last_partial = np.full(n, -np.inf)
    requeue = np.zeros(n, dtype=np.uint8)
    funding_paid = np.zeros(n)
    initial_size = size.copy()

    venue_idx = [np.flatnonzero(pos.venue_code == v) for v in range(nv)]
    venue_side_idx = {
        (v, s): venue_idx[v][side[venue_idx[v]] == s] for v in range(nv) for s in (1, -1)
    }

    def build_order(v: int, s: int) -> np.ndarray:
        ix = venue_idx[v]
        ix = ix[(side[ix] == s) & active[ix] & np.isfinite(liq[ix])]
        key = liq[ix]
        o = np.argsort(-key if s > 0 else key, kind="stable")
        return ix[o]

    orders: dict[tuple[int, int], np.ndarray] = {}
    sorted_liq: dict[tuple[int, int], np.ndarray] = {}
    ptr: dict[tuple[int, int], int] = {}
    dyn: dict[tuple[int, int], np.ndarray] = {}
    for v in range(nv):
        for s in (1, -1):
            orders[(v, s)] = build_order(v, s)
            sorted_liq[(v, s)] = np.ascontiguousarray(liq[orders[(v, s)]])
            ptr[(v, s)] = 0
            dyn[(v, s)] = np.zeros(0, np.int64)

    ledger = Ledger()
    hub = venues.index(cfg.arb_hub) if cfg.arb_hub in venues else 0
    keep_gap = math.exp(-cfg.arb_rate_per_s * dt)
    next_funding = [
        (p.funding_phase_s if p.funding_phase_s is not None else p.funding_interval_s)
        for p in procs
    ]
    funding_external = np.zeros(nv)
    exo = np.array([m.price for m in mk], dtype=np.float64)
    p_prev = exo.copy()

    # timeline buffers (steps+1, nv)
    T = steps + 1
    tl_price = np.zeros((T, nv))
    tl_exo = np.zeros((T, nv))
    tl_liq_long = np.zeros((T, nv))
    tl_liq_short = np.zeros((T, nv))
    tl_count = np.zeros((T, nv), np.int64)
    tl_forced = np.zeros((T, nv))
    tl_arb = np.zeros((T, nv))
    tl_adl = np.zeros((T, nv))
    tl_scale = np.ones((T, nv))
    tl_if = np.zeros((T, nv))
    tl_vault = np.zeros((T, nv))
    tl_price[0] = exo
    tl_exo[0] = exo
    for v in range(nv):
        tl_if[0, v] = fstate[v][0]
        tl_vault[0, v] = fstate[v][2]

    adl_stats = np.zeros((nv, 4))  # notional, haircut, needed, count
    quiet = 0.0
    last_step = steps
    path_len = int(np.max(np.flatnonzero(np.any(rets != 0, axis=1)), initial=-1)) + 1

    for t in range(1, steps + 1):
        t_s = t * dt
        step_events = 0
        # 1-2: refill, exogenous move, stress
        for v, m in enumerate(mk):
            m.recover(dt)
            if rets[t - 1, v] != 0.0:
                m.apply_return(rets[t - 1, v])
                exo[v] *= 1.0 + rets[t - 1, v]
        # 3: arbitrage to the hub
        if nv > 1 and cfg.arb_rate_per_s > 0:
            for v in range(nv):
                if v == hub:
                    continue
                a, b = (v, hub) if mk[v].price > mk[hub].price else (hub, v)
                q = arb_volume(mk[a], mk[b], keep_gap)
                if q > 0:
                    mk[a].execute(1.0, q)
                    mk[b].execute(-1.0, q)
                    tl_arb[t, v] += q
        for m in mk:
            m.update_stress(t, dt)
            if dscale is not None:
                m.scale = m.scale * float(dscale[min(t - 1, len(dscale) - 1)])
        # 4: funding
        for v, p in enumerate(procs):
            while t_s >= next_funding[v] - 1e-9:
                next_funding[v] += p.funding_interval_s
                ix = venue_idx[v][active[venue_idx[v]]]
                if len(ix) == 0 or p.funding_rate == 0.0:
                    continue
                pm = mk[v].price
                sf = side[ix].astype(np.float64)
                pay = sf * size[ix] * pm * p.funding_rate
                marg[ix] -= pay
                funding_paid[ix] += pay
                funding_external[v] += pay.sum()
                liq[ix] += pay / (size[ix] * (sf - mmr[ix]))
                bank[ix] += sf * pay / size[ix]
                for s in (1, -1):
                    rest = orders[(v, s)][ptr[(v, s)] :]
                    rest = rest[active[rest]]
                    o = np.argsort(-liq[rest] if s > 0 else liq[rest], kind="stable")
                    orders[(v, s)] = rest[o]
                    sorted_liq[(v, s)] = np.ascontiguousarray(liq[orders[(v, s)]])
                    ptr[(v, s)] = 0
        # 5-6: liquidations per venue and side
        for v, m in enumerate(mk):
            fstate[v][3] = 0.0  # dYdX per-block insurance counter
            p_mark = m.price
            proc_code = _PROCESSES[procs[v].process]
            for s in (1, -1):
                key = (v, s)
                start = ptr[key]
                end = K.crossed_count(sorted_liq[key], start, p_mark, s)
                ptr[key] = end
                trig = orders[key][start:end]
                d = dyn[key]
                if len(d):
                    d = d[active[d]]
                    hit = liq[d] >= p_mark if s > 0 else liq[d] <= p_mark
                    dyn[key] = d
                    if hit.any():
                        trig = np.concatenate([trig, d[hit]])
                        o = np.argsort(-liq[trig] if s > 0 else liq[trig], kind="stable")
                        trig = trig[o]
                if len(trig) == 0:
                    continue
                trig = np.ascontiguousarray(trig, np.int64)
                nt = len(trig)
                ch = empty_chunk(nt)
                pend_pos = np.zeros(nt, np.int64)
                pend_x = np.zeros(nt)
                sigma = 1.0 if s > 0 else -1.0
                tab = m.table(sigma)
                eaten0 = m.eaten_bid if s > 0 else m.eaten_ask
                n_ev, n_pend, new_e = K.liquidate_batch(
                    trig,
                    t,
                    t_s,
                    p_mark,
                    p_prev[v],
                    proc_code,
                    prms[v],
                    fstate[v],
                    side,
                    size,
                    entry,
                    marg,
                    mmr,
                    cum,
                    liq,
                    bank,
                    active,
                    last_partial,
                    requeue,
                    tab.volume_base,
                    tab.move,
                    tab.cum_for(sigma),
                    sigma,
                    m.side_anchor(sigma),
                    eaten0,
                    m.scale,
                    ch["kind"],
                    ch["position"],
                    ch["qty_base"],
                    ch["ref_price"],
                    ch["exec_price"],
                    ch["liq_price"],
                    ch["trader_pnl"],
                    ch["fee"],
                    ch["insurance_fund_change"],
                    ch["vault_pnl"],
                    ch["bad_debt"],
                    ch["returned_quote"],
                    pend_pos,
                    pend_x,
                )
                if s > 0:
                    m.eaten_bid = new_e
                    if new_e >= tab.exhaustion_volume_base:
                        m.exhausted = True
                else:
                    m.eaten_ask = new_e
                if n_ev:
                    chunk = {k: a[:n_ev] for k, a in ch.items()}
                    chunk["step"][:] = t
                    chunk["venue_code"][:] = v
                    chunk["side"][:] = s
                    ledger.append(chunk)
                    notional = float(np.dot(chunk["qty_base"], chunk["ref_price"]))
                    if s > 0:
                        tl_liq_long[t, v] += notional
                    else:
                        tl_liq_short[t, v] += notional
                    tl_count[t, v] += n_ev
                    tl_forced[t, v] += float(chunk["qty_base"][chunk["kind"] <= 1].sum())
                    step_events += n_ev
                rq = trig[requeue[trig] == 1]
                if len(rq):
                    requeue[rq] = 0
                    rq = rq[active[rq]]
                    dyn[key] = np.unique(np.concatenate([dyn[key], rq]))
                if n_pend:
                    adl_n, adl_ch = _run_adl(
                        pend_pos[:n_pend],
                        pend_x[:n_pend],
                        s,
                        v,
                        t,
                        m,
                        policies[v],
                        rng,
                        venue_side_idx[(v, -s)],
                        side,
                        size,
                        entry,
                        marg,
                        mmr,
                        cum,
                        bank,
                        liq,
                        active,
                        adl_stats,
                    )
                    ledger.append(adl_ch)
                    lo = adl_ch["kind"] == 3
                    notional = float(np.dot(adl_ch["qty_base"][lo], adl_ch["ref_price"][lo]))
                    if s > 0:
                        tl_liq_long[t, v] += notional
                    else:
                        tl_liq_short[t, v] += notional
                    tl_count[t, v] += int(lo.sum())
                    tl_adl[t, v] += adl_n
                    step_events += len(adl_ch["position"])
        # timeline
        for v, m in enumerate(mk):
            tl_price[t, v] = m.price
            tl_exo[t, v] = exo[v]
            tl_scale[t, v] = m.scale
            tl_if[t, v] = fstate[v][0]
            tl_vault[t, v] = fstate[v][2]
        moved = np.any(np.abs(tl_price[t] - tl_price[t - 1]) > 1e-12 * np.abs(tl_price[t - 1]))
        p_prev = tl_price[t].copy()
        if cfg.quiet_stop_s is not None and t >= path_len:
            quiet = quiet + dt if (step_events == 0 and not moved) else 0.0
            if quiet >= cfg.quiet_stop_s:  # a still market with no event stays still
                last_step = t
                break

    T_used = last_step + 1
    timeline = _timeline_frame(
        venues,
        dt,
        T_used,
        tl_price,
        tl_exo,
        tl_liq_long,
        tl_liq_short,
        tl_count,
        tl_forced,
        tl_arb,
        tl_adl,
        tl_scale,
        tl_if,
        tl_vault,
    )
    lg = ledger.to_polars(pos.account_id, venues, dt)
    for f_, v in zip(funds, range(nv), strict=True):
        f_.balance_quote = fstate[v][0]
    for vault, v in zip(vaults, range(nv), strict=True):
        vault.held_qty_base = fstate[v][4]
        vault.held_cost_quote = fstate[v][5]
    losses = _losses_frame(lg, venues, funds, vaults, fstate, mk, adl_stats, funding_external)
    summary = _summary(
        lg,
        losses,
        timeline,
        venues,
        mk,
        path,
        rets,
        seed,
        hub,
        T_used - 1,
        initial_size,
        n,
    )
    return DynamicResult(
        timeline=timeline,
        losses=losses,
        ledger=lg,
        config=replace(cfg, seed=seed),
        seed=seed,
        _summary=summary,
        funding_quote=funding_paid,
        account_id=pos.account_id,
    )


def _run_adl(
    pend: np.ndarray,
    xprice: np.ndarray,
    s_l: int,
    v: int,
    t: int,
    m: VenueMarket,
    policy: ADLPolicy,
    rng: np.random.Generator,
    vidx: np.ndarray,
    side: np.ndarray,
    size: np.ndarray,
    entry: np.ndarray,
    marg: np.ndarray,
    mmr: np.ndarray,
    cum: np.ndarray,
    bank: np.ndarray,
    liq: np.ndarray,
    active: np.ndarray,
    adl_stats: np.ndarray,
) -> tuple[float, dict[str, np.ndarray]]:
    """Settle the bankrupt positions ``pend`` of side ``s_l`` against winners (see adl.py)."""
    R = m.price
    q_k = size[pend].copy()
    M_k = marg[pend].copy()
    E_k = entry[pend]
    Q = float(q_k.sum())
    xbar = float(np.dot(q_k, xprice) / Q)
    v_ref_matched = M_k + s_l * q_k * (R - E_k)
    needed = np.maximum(0.0, -v_ref_matched)
    cand = vidx[active[vidx]]  # opposite-side positions of this venue
    if (
        policy.kind != "random_start"
    ):  # only winners can be hit: pre-filter (random_start needs all)
        cand = cand[-s_l * (R - entry[cand]) > 0]
    alloc = allocate(
        policy,
        loser_side=s_l,
        qty_base=Q,
        close_price=xbar,
        ref_price=R,
        deficit_quote=float(needed.sum()),
        side=side[cand].astype(np.float64),
        size_base=size[cand],
        entry_price=entry[cand],
        wallet_quote=marg[cand],
        mm_quote=np.maximum(0.0, size[cand] * R * mmr[cand] - cum[cand]),
        bankruptcy_price=bank[cand],
        rng=rng,
    )
    w = cand[alloc.winner]
    qw = alloc.qty_base
    xw = alloc.price
    Qm = float(qw.sum())
    phi = min(1.0, Qm / Q) if Q > 0 else 0.0
    xw_bar = float(np.dot(qw, xw) / Qm) if Qm > 0 else 0.0
    # unmatched quantity goes to the book (last resort)
    Qu = Q - Qm
    F_u = R
    if Qu > 1e-12 * Q:
        sig = 1.0 if s_l > 0 else -1.0
        f, quote = m.execute(sig, Qu)
        F_u = quote / f if f > 0 else 0.0
    else:
        Qu = 0.0
        phi = 1.0 if Qm > 0 else 0.0
    p_k = xprice + (xw_bar - xbar)  # each loser at its own close price, shifted by clamp shortfall
    e_k = M_k + s_l * (q_k * phi * (p_k - E_k) + q_k * (1 - phi) * (F_u - E_k))
    v_k = M_k + s_l * (q_k * phi * (R - E_k) + q_k * (1 - phi) * (F_u - E_k))
    ret = np.maximum(0.0, e_k)
    bad = np.minimum(0.0, e_k)
    adl_k = v_k - e_k
    nl = len(pend)
    nw = len(w)
    ch = empty_chunk(nl + nw)
    ch["step"][:] = t
    ch["venue_code"][:] = v
    ch["kind"][:nl] = 3
    ch["position"][:nl] = pend
    ch["side"][:nl] = s_l
    ch["qty_base"][:nl] = q_k
    ch["ref_price"][:nl] = phi * R + (1 - phi) * F_u
    ch["exec_price"][:nl] = phi * p_k + (1 - phi) * F_u
    ch["liq_price"][:nl] = liq[pend]
    ch["trader_pnl"][:nl] = ret - v_k
    ch["adl_transfer"][:nl] = adl_k
    ch["bad_debt"][:nl] = bad
    ch["returned_quote"][:nl] = ret
    ch["adl_needed"][:nl] = needed
    # winners: close qw at xw; margin released pro-rata; haircut vs R
    s_w = -s_l
    frac = qw / size[w]
    released = marg[w] * frac
    realized = s_w * qw * (xw - entry[w])
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
    size[w] -= qw
    marg[w] -= released
    closed = size[w] <= 1e-12 * (size[w] + qw)
    size[w[closed]] = 0.0
    marg[w[closed]] = 0.0
    active[w[closed]] = False
    # losers are gone
    size[pend] = 0.0
    marg[pend] = 0.0
    active[pend] = False
    adl_stats[v, 0] += float(np.dot(qw, xw))
    adl_stats[v, 1] += float(haircut.sum())
    adl_stats[v, 2] += float(needed.sum())
    adl_stats[v, 3] += nl
    # liquidated notional of ADL losers at their trigger
    return float(np.dot(qw, xw)), ch


def _timeline_frame(venues, dt, T, price, exo, ll, ls, cnt, forced, arb, adl, scale, fund, vault):
    nv = len(venues)
    steps = np.repeat(np.arange(T), nv)
    return pl.DataFrame(
        {
            "step": steps,
            "time_s": steps.astype(np.float64) * dt,
            "venue": np.tile(np.array(venues, dtype=object), T).tolist(),
            "price": price[:T].ravel(),
            "fundamental_price": exo[:T].ravel(),
            "liquidated_notional_long": ll[:T].ravel(),
            "liquidated_notional_short": ls[:T].ravel(),
            "liquidated_count": cnt[:T].ravel(),
            "forced_volume_base": forced[:T].ravel(),
            "arb_volume_base": arb[:T].ravel(),
            "adl_notional": adl[:T].ravel(),
            "depth_scale": scale[:T].ravel(),
            "insurance_fund_quote": fund[:T].ravel(),
            "vault_capacity_quote": vault[:T].ravel(),
        }
    )


def _losses_frame(lg, venues, funds, vaults, fstate, mk, adl_stats, funding_external):
    rows = []
    for v, name in enumerate(venues):
        sub = lg.filter(pl.col("venue") == name)
        tot = {c: float(sub[c].sum()) for c in _IDENTITY}
        liq_ev = sub.filter(
            pl.col("kind").is_in(
                ["liquidation", "partial_liquidation", "vault_takeover", "adl_loser"]
            )
        )
        rows.append(
            {
                "venue": name,
                **tot,
                "identity_residual": sum(tot.values()),
                "liquidated_count": int(liq_ev["position"].n_unique()),
                "liquidated_base": float(liq_ev["qty_base"].sum()),
                "liquidated_notional_fill": float((liq_ev["qty_base"] * liq_ev["ref_price"]).sum()),
                "adl_notional": float(adl_stats[v, 0]),
                "adl_haircut": float(adl_stats[v, 1]),
                "adl_needed": float(adl_stats[v, 2]),
                "adl_overshoot": float(adl_stats[v, 1] - adl_stats[v, 2]),
                "adl_losers": int(adl_stats[v, 3]),
                "insurance_fund_start": funds[v].initial_quote,
                "insurance_fund_end": funds[v].balance_quote,
                "vault_mtm_pnl": vaults[v].mark_to_market(mk[v].price),
                "funding_paid_by_book": float(funding_external[v]),
                "funding_external": float(-funding_external[v]),
                "final_price": float(mk[v].price),
                "book_exhausted": bool(mk[v].exhausted),
            }
        )
    return pl.DataFrame(rows)


def _summary(lg, losses, timeline, venues, mk, path, rets, seed, hub, steps_run, initial_size, n):
    p0 = float(timeline.filter(pl.col("step") == 0)["price"][hub])
    exo_final = float(np.prod(1.0 + rets[:, hub])) * p0
    shock = float(np.prod(1.0 + rets[:, hub]) - 1.0)
    if np.ndim(path) == 0 and path is not None and not isinstance(path, Mapping):
        shock = float(path)  # one shock: report it exactly as given
        exo_final = p0 * (1.0 + shock)
    pf = float(mk[hub].price)
    liq_ev = lg.filter(
        pl.col("kind").is_in(["liquidation", "partial_liquidation", "vault_takeover", "adl_loser"])
    )
    # notional at the liquidation price (static convention); ADL losers have none recorded
    liq_px = liq_ev["liq_price"].to_numpy()
    qty = liq_ev["qty_base"].to_numpy()
    notional_liq = float(np.nansum(qty * liq_px))
    mult = float((p0 - pf) / (p0 - exo_final)) if exo_final != p0 else math.nan
    tot = {c: float(losses[c].sum()) for c in _IDENTITY}
    scale = (
        float(np.sum(np.abs(lg["qty_base"].to_numpy() * lg["ref_price"].to_numpy())))
        if lg.height
        else 0.0
    )
    out: dict[str, Any] = {
        "mode": "dynamic",
        "shock": shock,
        "initial_price": p0,
        "shocked_price": exo_final,
        "final_price": pf,
        "liquidated_count": int(liq_ev["position"].n_unique()),
        "liquidated_base": float(qty.sum()),
        "liquidated_notional": notional_liq,
        "liquidated_notional_fill": float(np.dot(qty, liq_ev["ref_price"].to_numpy())),
        "cascade_multiplier": mult,
        "book_exhausted": bool(any(m.exhausted for m in mk)),
        **{f"{k}_total": v for k, v in tot.items()},
        "adl_notional_total": float(losses["adl_notional"].sum()),
        "adl_overshoot_total": float(losses["adl_overshoot"].sum()),
        "conservation_residual": sum(tot.values()),
        "notional_involved": scale,
        "steps_run": steps_run,
        "positions": n,
        "seed": seed,
        "hub_venue": venues[hub],
        "venues": {
            name: {"final_price": float(mk[v].price), "book_exhausted": bool(mk[v].exhausted)}
            for v, name in enumerate(venues)
        },
    }
    return out


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
    >>> pos = PositionArrays.isolated(side=[1, 1, -1], size_base=[4.0, 4.0, 2.0],
    ...     entry_price=[100.0, 100.0, 100.0], margin_quote=[10.0, 20.0, 50.0], mmr=0.01,
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
    dyn_keys = {f.name for f in fields(DynamicConfig)}
    venue_over = {
        k: config.pop(k) for k in list(config) if k in _VENUE_FIELDS and k not in dyn_keys
    }
    unknown = set(config) - dyn_keys
    if unknown:
        raise ConfigError(
            f"simulate_shock: unknown config keys {sorted(unknown)}; expected DynamicConfig fields "
            f"{sorted(dyn_keys)} or VenueProcess fields {sorted(_VENUE_FIELDS)}"
        )
    config.setdefault("quiet_stop_s", 60.0)
    seed = config.pop("seed", 0)
    if venue_over:
        pos_venues = tuple(book.venues)  # PositionBook or PositionArrays: every venue it names
        vcfg = dict(config.get("venues", {}))
        for name in pos_venues:
            cur = vcfg.get(name, {})
            cur = asdict(cur) if isinstance(cur, VenueProcess) else dict(cur)
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
