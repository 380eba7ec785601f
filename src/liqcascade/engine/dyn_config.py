"""Configuration of the dynamic cascade: how each venue liquidates, and the run's settings.

:class:`VenueProcess` holds one venue's liquidation process and loss absorbers (defaults per venue
in :meth:`VenueProcess.for_venue`, sources in docs/engine-dynamic.md); :class:`DynamicConfig` the
run (step, length, seed, market dynamics, per-venue overrides). Both are frozen and keyword-only,
reject unknown keys and round-trip to JSON.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np

from liqcascade.adl import ADLPolicy
from liqcascade.engine import dyn_kernels as K
from liqcascade.errors import ConfigError

__all__ = ["PROCESSES", "VENUE_FIELDS", "DynamicConfig", "VenueProcess", "encode_inf"]

PROCESSES = {"binance": K.PROC_BINANCE, "hyperliquid": K.PROC_HYPERLIQUID, "dydx": K.PROC_DYDX}


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
        if self.process not in PROCESSES:
            raise ConfigError(
                f"venue process: expected one of {sorted(PROCESSES)}, got {self.process!r}"
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


VENUE_FIELDS = {f.name for f in fields(VenueProcess)}


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
                unknown = set(val) - VENUE_FIELDS
                if unknown:
                    raise ConfigError(
                        f"venues.{name}: unknown keys {sorted(unknown)}; expected some of {sorted(VENUE_FIELDS)}"
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
        raw: dict[str, Any] = _decode_inf(dict(d))
        if raw.get("shock_venues") is not None:
            raw["shock_venues"] = tuple(raw["shock_venues"])
        return cls(**raw)

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
        return json.dumps(encode_inf(self.to_dict()), default=_json_default)

    def process_for(self, venue: str) -> VenueProcess:
        v = self.venues.get(venue)
        if isinstance(v, VenueProcess):
            return v
        return VenueProcess.for_venue(venue, **(v or {}))


def encode_inf(o: Any) -> Any:
    if isinstance(o, float) and not math.isfinite(o):
        return str(o)
    if isinstance(o, dict):
        return {k: encode_inf(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [encode_inf(v) for v in o]
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
