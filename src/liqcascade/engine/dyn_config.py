"""Configuration of the dynamic cascade: how each venue liquidates, and the run's settings.

:class:`VenueProcess` holds one venue's liquidation process and loss absorbers (defaults per venue
in :meth:`VenueProcess.for_venue`, sources in docs/engine-dynamic.md); :class:`DynamicConfig` the
run (step, length, seed, market dynamics, per-venue overrides). Both are
:class:`liqcascade.config.Config` structs: frozen, keyword-only, unknown keys refused, read from
TOML (``DynamicConfig.load("dynamic.toml")``) or JSON, written back as JSON (:meth:`to_json`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Any

import msgspec

from liqcascade.adl import ADLPolicy
from liqcascade.config import Config, _encode_nonfinite, convert
from liqcascade.engine import dyn_kernels as K
from liqcascade.errors import ConfigError

__all__ = ["PROCESSES", "VENUE_FIELDS", "DynamicConfig", "VenueProcess", "encode_inf"]

PROCESSES = {"binance": K.PROC_BINANCE, "hyperliquid": K.PROC_HYPERLIQUID, "dydx": K.PROC_DYDX}


NonNeg = Annotated[float, msgspec.Meta(ge=0.0)]
Pos = Annotated[float, msgspec.Meta(gt=0.0)]
Frac = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
#: a fraction in (0, 1]
Share = Annotated[float, msgspec.Meta(gt=0.0, le=1.0)]


class VenueProcess(Config, frozen=True, kw_only=True):
    """How one venue liquidates, and the state of its loss absorbers. Units: quote currency, s.

    Defaults per venue come from :meth:`for_venue` (sources in docs/engine-dynamic.md).
    ``clearance_fee_rate`` None means the venue rules' ``liquidation_fee_rate``.
    """

    process: str = "binance"
    clearance_fee_rate: Annotated[float, msgspec.Meta(ge=0.0, lt=1.0)] | None = None
    fee_to_fund: bool = True
    insurance_fund_quote: NonNeg = math.inf
    insurance_fund_floor_quote: NonNeg = 0.0
    partial_threshold_quote: NonNeg = 100_000.0
    partial_fraction: Share = 0.2
    cooldown_s: NonNeg = 30.0
    backstop_ratio: Share = 2.0 / 3.0
    has_vault: bool = False
    vault_capital_quote: NonNeg = 0.0
    vault_mode: str = "hold"
    bankruptcy_adjustment: float = 1.0
    spread_to_mmr: float = 1.5
    max_portion: Share = 0.1
    min_notional_quote: NonNeg = 1_000.0
    max_notional_block_quote: NonNeg = 100_000.0
    max_insurance_lost_block_quote: NonNeg = 1_000_000.0
    adl_policy: str = "queue:binance"
    funding_interval_s: Pos = 8 * 3600.0
    funding_rate: float = 0.0001
    funding_phase_s: float | None = None
    mmr_fallback: Frac = 0.005

    def check(self) -> None:
        if self.process not in PROCESSES:
            raise ConfigError(
                f"process: expected one of {'|'.join(PROCESSES)}, got {self.process!r}"
            )
        if self.vault_mode not in ("hold", "unwind"):
            raise ConfigError(f"vault_mode: expected 'hold' or 'unwind', got {self.vault_mode!r}")
        try:
            ADLPolicy.parse(self.adl_policy)
        except ConfigError as exc:
            raise ConfigError(f"adl_policy: {exc}") from None

    @classmethod
    def for_venue(cls, venue: str, **overrides: Any) -> VenueProcess:
        """Documented defaults for ``binance_usdm``, ``hyperliquid``, ``dydx_v4``, ``bybit_linear``,
        ``okx_swap`` and ``generic`` (Binance-style unless configured)."""
        base = {**_VENUE_DEFAULTS.get(venue, {"process": "binance"}), **overrides}
        return convert(base, cls, name=f"VenueProcess.for_venue({venue!r})")


#: Documented per-venue defaults of :meth:`VenueProcess.for_venue` (other venues: Binance-style).
_HOURLY_FUNDING: dict[str, Any] = {"funding_interval_s": 3600.0, "funding_rate": 0.0001 / 8}
_VENUE_DEFAULTS: dict[str, dict[str, Any]] = {
    "hyperliquid": {
        "process": "hyperliquid",
        "clearance_fee_rate": 0.0,
        "has_vault": True,
        "vault_capital_quote": 300e6,  # HLP TVL about $300M in Oct 2025 (news reports)
        "adl_policy": "queue:hyperliquid",
        **_HOURLY_FUNDING,
    },
    "dydx_v4": {
        "process": "dydx",
        "clearance_fee_rate": 0.015,  # max_liquidation_fee_ppm 15,000 (venues.md 5)
        "adl_policy": "random_start",
        **_HOURLY_FUNDING,
    },
    "binance_usdm": {
        "process": "binance",
        "insurance_fund_quote": 1.23e9,  # shared USDT-M fund before 10 Oct 2025 (A8)
        "adl_policy": "queue:binance",
    },
    "bybit_linear": {"process": "binance", "adl_policy": "queue:bitmex"},
    "okx_swap": {"process": "binance", "adl_policy": "queue:bitmex"},
}


VENUE_FIELDS = set(VenueProcess.__struct_fields__)


class DynamicConfig(Config, frozen=True, kw_only=True):
    """Run configuration (keyword-only, frozen, rejects unknown keys, round-trips to JSON).

    dt_s: step length (s). steps: number of steps. seed: seed of the run's numpy Generator.
    resilience_half_life_s: half-life of eaten depth (inf = never refills).
    permanent_fraction: share of price impact that stays when depth refills (1 = all).
    stress_beta / stress_floor / stress_window_s: depth scale = max(floor, 1 - beta*drawdown).
    arb_rate_per_s: rate at which a cross-venue log price gap closes (0 = no arbitrage).
    arb_hub: venue the others are arbitraged against (default: the first venue).
    shock_venues: venues the exogenous path moves (default all; others follow by arbitrage).
    quiet_stop_s: stop early after this many quiet seconds once the path is over (None = never).
    venues: per-venue :class:`VenueProcess` overrides (a table of its fields, or a VenueProcess);
    in TOML ``[venues.hyperliquid]`` with ``vault_capital_quote = 1e8``.
    """

    dt_s: Pos = 1.0
    steps: Annotated[int, msgspec.Meta(ge=1)] = 3600
    seed: Annotated[int, msgspec.Meta(ge=0)] = 0
    resilience_half_life_s: Pos = 60.0
    permanent_fraction: Frac = 1.0
    stress_beta: NonNeg = 0.0
    stress_floor: Frac = 0.2
    stress_window_s: Pos = 60.0
    arb_rate_per_s: NonNeg = 0.2
    arb_hub: str | None = None
    shock_venues: tuple[str, ...] | None = None
    quiet_stop_s: NonNeg | None = None
    venues: dict[str, Any] = msgspec.field(default_factory=dict)

    def check(self) -> None:
        if not math.isfinite(self.dt_s):
            raise ConfigError(f"dt_s: expected a finite number > 0, got {self.dt_s}")
        for name in self.venues:
            self.process_for(name)

    def process_for(self, venue: str) -> VenueProcess:
        """The venue's process: its documented defaults with this config's overrides."""
        v = self.venues.get(venue)
        if isinstance(v, VenueProcess):
            return v
        if v is not None and not isinstance(v, Mapping):
            raise ConfigError(f"venues.{venue}: expected a table of VenueProcess fields")
        try:
            return convert(
                {**VenueProcess.for_venue(venue).to_dict(), **(v or {})},
                VenueProcess,
                name="",
                prefix=("venues", venue),
            )
        except ConfigError as exc:
            raise ConfigError(str(exc).removeprefix(": ")) from None


def encode_inf(o: Any) -> Any:
    """Builtins with non-finite floats as the strings "inf", "-inf", "nan" (JSON has none)."""
    return _encode_nonfinite(o)
