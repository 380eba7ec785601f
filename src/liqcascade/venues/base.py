"""Tier tables and venue rules: the data every margin formula reads.

A tier table is the piecewise-linear maintenance-margin schedule every venue here uses
(venues.md §0)::

    MM(N) = N * mmr_k - cum_k          for floor_k <= N < cap_k
    cum_k = cum_{k-1} + floor_k * (mmr_k - mmr_{k-1}),   cum_0 = 0

The recurrence makes MM continuous in notional N (quote currency). Tables are validated on
construction: a table whose maintenance amounts break the recurrence is a ``RuleError``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from liqcascade.errors import InputError, RuleError

#: Relative tolerance when checking a published ``cum`` column against the recurrence.
CUM_REL_TOL = 1e-9
#: Absolute tolerance (quote units) for the same check; venues print cum to a cent.
CUM_ABS_TOL = 0.01


@dataclass(frozen=True, eq=False)
class TierTable:
    """Maintenance-margin tiers of one instrument (arrays of equal length, floors ascending).

    Attributes
    ----------
    floor_quote, cap_quote:
        Notional bounds of each tier in quote currency (cap of the last tier may be ``inf``).
    mmr:
        Maintenance-margin rate of each tier (fraction, not percent).
    cum_quote:
        Maintenance amount ("cum" on Binance, "deduction" on Hyperliquid, "mmDeduction" on
        Bybit) in quote currency.
    max_leverage:
        Highest initial leverage allowed while the notional is in the tier.
    """

    floor_quote: np.ndarray
    cap_quote: np.ndarray
    mmr: np.ndarray
    cum_quote: np.ndarray
    max_leverage: np.ndarray
    name: str = ""

    def __post_init__(self) -> None:
        n = len(self.floor_quote)
        where = f"tier table {self.name!r}" if self.name else "tier table"
        if n == 0:
            raise RuleError(f"{where}: no tiers (expected at least one row)")
        for fname in ("cap_quote", "mmr", "cum_quote", "max_leverage"):
            if len(getattr(self, fname)) != n:
                raise RuleError(
                    f"{where}: column {fname} has {len(getattr(self, fname))} rows, expected {n}"
                )
        fl, cap, mmr, cum, lev = (
            self.floor_quote.tolist(),
            self.cap_quote.tolist(),
            self.mmr.tolist(),
            self.cum_quote.tolist(),
            self.max_leverage.tolist(),
        )
        if not all(math.isfinite(f) for f in fl) or fl[0] != 0.0:
            raise RuleError(f"{where}: floor_quote of tier 1 is {fl[0]}, expected 0")
        for k in range(n):
            row = f"{where} tier {k + 1}"
            if not (0.0 < mmr[k] < 1.0):
                raise RuleError(f"{row}: mmr={mmr[k]} outside (0, 1) (fraction, not percent)")
            if not (lev[k] >= 1.0) or not math.isfinite(lev[k]):
                raise RuleError(f"{row}: max_leverage={lev[k]}, expected a finite number >= 1")
            if not cap[k] > fl[k]:
                raise RuleError(f"{row}: cap_quote={cap[k]} not above floor_quote={fl[k]}")
            if k > 0:
                if fl[k] != cap[k - 1]:
                    raise RuleError(
                        f"{row}: floor_quote={fl[k]} differs from the previous cap_quote={cap[k - 1]}"
                    )
                if mmr[k] < mmr[k - 1]:
                    raise RuleError(f"{row}: mmr={mmr[k]} below the previous tier's {mmr[k - 1]}")
            expected = 0.0 if k == 0 else cum[k - 1] + fl[k] * (mmr[k] - mmr[k - 1])
            if abs(cum[k] - expected) > max(CUM_ABS_TOL, CUM_REL_TOL * abs(expected)):
                raise RuleError(
                    f"{row}: maintenance amount cum_quote={cum[k]!r} is inconsistent with the "
                    f"recurrence cum_k = cum_(k-1) + floor_k*(mmr_k - mmr_(k-1)) = {expected!r}"
                )

    # -- construction -----------------------------------------------------------------------
    @classmethod
    def from_rows(
        cls,
        floor_quote: Sequence[float] | np.ndarray,
        mmr: Sequence[float] | np.ndarray,
        max_leverage: Sequence[float] | np.ndarray,
        cap_quote: Sequence[float | None] | None = None,
        cum_quote: Sequence[float | None] | None = None,
        name: str = "",
    ) -> TierTable:
        """Build a table; missing caps become the next floor (last: ``inf``), missing cum derived."""
        fl = np.asarray(floor_quote, dtype=np.float64)
        m = np.asarray(mmr, dtype=np.float64)
        lev = np.asarray(max_leverage, dtype=np.float64)
        n = len(fl)
        if cap_quote is None:
            cap = np.append(fl[1:], np.inf)
        else:
            cap = np.array([np.inf if c is None else float(c) for c in cap_quote], dtype=np.float64)
        derived = derive_cum(fl, m)
        if cum_quote is None:
            cum = derived
        else:
            cum = np.array(
                [derived[i] if c is None else float(c) for i, c in enumerate(cum_quote)],
                dtype=np.float64,
            )
        if len(m) != n or len(lev) != n:
            raise RuleError(f"tier table {name!r}: columns have different lengths")
        return cls(fl, cap, m, cum, lev, name)

    @classmethod
    def from_max_leverage(
        cls, lower_bound_quote: Sequence[float], max_leverage: Sequence[float], name: str = ""
    ) -> TierTable:
        """Hyperliquid-style table: ``mmr_k = 1/(2*max_leverage_k)``, deductions derived.

        Source: https://hyperliquid.gitbook.io/hyperliquid-docs/trading/margin-tiers
        """
        lev = np.asarray(max_leverage, dtype=np.float64)
        if np.any(lev < 1):
            raise RuleError(f"tier table {name!r}: max_leverage must be >= 1, got {lev.tolist()}")
        return cls.from_rows(lower_bound_quote, 1.0 / (2.0 * lev), lev, name=name)

    # -- lookup -----------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.floor_quote)

    def index(self, notional_quote: np.ndarray | float) -> np.ndarray:
        """Tier index (0-based) of each notional: the last tier with ``floor <= N``.

        Notionals below 0 map to tier 0; above the last cap to the last tier (callers that must
        reject them check ``cap_quote``).
        """
        n = np.asarray(notional_quote, dtype=np.float64)
        k = np.searchsorted(self.floor_quote, n, side="right") - 1
        return np.clip(k, 0, len(self.floor_quote) - 1)

    def maintenance_margin(self, notional_quote: np.ndarray | float) -> np.ndarray:
        """``MM = N*mmr_k - cum_k`` with k the tier of N (quote currency)."""
        n = np.asarray(notional_quote, dtype=np.float64)
        k = self.index(n)
        return n * self.mmr[k] - self.cum_quote[k]

    def rows(self) -> list[dict[str, float]]:
        """The table as a list of dicts (for printing and JSON)."""
        return [
            {
                "tier": k + 1,
                "floor_quote": float(self.floor_quote[k]),
                "cap_quote": float(self.cap_quote[k]),
                "mmr": float(self.mmr[k]),
                "cum_quote": float(self.cum_quote[k]),
                "max_leverage": float(self.max_leverage[k]),
            }
            for k in range(len(self))
        ]


def derive_cum(floor_quote: Iterable[float], mmr: Iterable[float]) -> np.ndarray:
    """Maintenance amounts from the recurrence ``cum_k = cum_{k-1} + floor_k*(mmr_k - mmr_{k-1})``.

    Source: Binance COIN-M FAQ worked example (level-5 amount = 50 x (5% - 2.5%) + 0.56 = 1.81
    BTC, https://www.binance.com/es/support/faq/ceccfcfb4e3a45e3b48b0b1bb1a8ae46) and the
    Hyperliquid margin-tiers page.
    """
    fl = np.asarray(list(floor_quote), dtype=np.float64)
    m = np.asarray(list(mmr), dtype=np.float64)
    cum = np.zeros(len(fl))
    for k in range(1, len(fl)):
        cum[k] = cum[k - 1] + fl[k] * (m[k] - m[k - 1])
    return cum


@dataclass(frozen=True, eq=False)
class VenueRules:
    """Margin rules of one instrument on one venue (see docs/venues.md).

    ``formula`` selects the liquidation-price family: ``binance`` (equity = MM at the
    liquidation price, MM tiered), ``hyperliquid`` (same equation, mmr = 1/(2*max_lev)),
    ``bybit`` (classic: MM valued at entry), ``okx`` (MM + taker fee at the liquidation
    price, also Gate), ``dydx`` (MM = N*IMF*maintenance fraction at oracle price).
    """

    venue: str
    symbol: str
    tiers: TierTable
    formula: str
    liquidation_fee_rate: float
    taker_fee_rate: float
    source_url: str
    effective_date: str
    version: str = ""
    quote: str = "USDT"
    price_basis: str = "mark"
    max_leverage_limit: float = math.inf
    source_note: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def max_leverage(self) -> float:
        """Highest leverage allowed (at the smallest tier)."""
        return float(self.tiers.max_leverage[0])

    @property
    def mm_fee_rate(self) -> float:
        """Fee rate added to the maintenance rate in the liquidation condition (OKX/Gate taker)."""
        return self.taker_fee_rate if self.formula == "okx" else 0.0

    def describe(self) -> dict[str, Any]:
        """Plain dict of the rules (for JSON output)."""
        return {
            "venue": self.venue,
            "symbol": self.symbol,
            "version": self.version,
            "formula": self.formula,
            "quote": self.quote,
            "price_basis": self.price_basis,
            "max_leverage": self.max_leverage,
            "liquidation_fee_rate": self.liquidation_fee_rate,
            "taker_fee_rate": self.taker_fee_rate,
            "source_url": self.source_url,
            "effective_date": self.effective_date,
            "tiers": self.tiers.rows(),
        }


def require_positive(name: str, value: Any) -> np.ndarray:
    """Return ``value`` as a float array, raising InputError naming ``name`` if any entry <= 0."""
    arr = np.asarray(value, dtype=np.float64)
    bad = ~(arr > 0)
    if np.any(bad):
        first = arr.reshape(-1)[np.argmax(bad.reshape(-1))] if arr.ndim else arr
        where = f" (first bad at index {int(np.argmax(bad.reshape(-1)))})" if arr.ndim else ""
        raise InputError(f"{name} must be > 0 and finite, got {first!r}{where}")
    if np.any(~np.isfinite(arr)):
        raise InputError(f"{name} must be finite")
    return arr
