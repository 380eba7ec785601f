"""Hyperliquid perps: margin tiers, liquidation price, funding.

Sources: https://hyperliquid.gitbook.io/hyperliquid-docs/trading/margin-tiers,
…/trading/liquidations ("Computing liquidation price"), …/trading/funding.

* ``mmr = 1/(2*max_leverage)`` (maintenance = half the initial margin at max leverage);
  ``deduction_k = deduction_{k-1} + lower_bound_k*(mmr_k - mmr_{k-1})``.
* ``liq_price = price - side*margin_available/size/(1 - l*side)`` with
  ``margin_available = margin - maintenance_margin_required`` and ``l`` the mmr of the tier
  containing ``liq_price*size`` (the tiered form solves equity = MM at the liquidation price).
* Funding: ``F_8h = premium + clamp(I - premium, -0.0005, 0.0005)``, paid hourly at F_8h/8,
  capped at 4 %/hour.

>>> round(liquidation_price_single_tier(1, 1.0, 100_000.0, 10_000.0, 40), 2)
91139.24
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from liqcascade.errors import InputError
from liqcascade.venues.base import TierTable, VenueRules

#: Hourly funding cap (fraction of notional per hour).
HOURLY_FUNDING_CAP = 0.04


def tiers_from_margin_table(
    lower_bounds_usd: Sequence[float], max_leverages: Sequence[float], name: str = ""
) -> TierTable:
    """Tier table (mmr, deduction) from Hyperliquid's (lower_bound, max_leverage) rows."""
    return TierTable.from_max_leverage(lower_bounds_usd, max_leverages, name)


def single_tier_rules(max_leverage: float, symbol: str = "?") -> VenueRules:
    """Rules for an asset with one margin tier (margin-table id < 50 means max leverage = id)."""
    if not max_leverage >= 1:
        raise InputError(f"max_leverage={max_leverage!r}: expected >= 1")
    return VenueRules(
        venue="hyperliquid",
        symbol=symbol,
        tiers=TierTable.from_max_leverage([0.0], [float(max_leverage)], f"hyperliquid:{symbol}"),
        formula="hyperliquid",
        liquidation_fee_rate=0.0,
        taker_fee_rate=0.00045,
        source_url="https://hyperliquid.gitbook.io/hyperliquid-docs/trading/margin-tiers",
        effective_date="single tier",
        quote="USDC",
    )


def liquidation_price_single_tier(
    side: int,
    size_base: float,
    price: float,
    margin_usdc: float,
    max_leverage: float,
    *,
    nonpositive_as_nan: bool = True,
) -> float:
    """The documented formula verbatim for one tier: ``l = 1/(2*max_leverage)``.

    ``price`` is the current mark; ``margin_usdc`` the isolated margin (or account value for
    cross) including UPnL at that mark.
    """
    if size_base <= 0 or price <= 0:
        raise InputError("size_base and price must be > 0")
    l_rate = 1.0 / (2.0 * max_leverage)
    available = margin_usdc - size_base * price * l_rate
    lp = price - side * available / size_base / (1.0 - l_rate * side)
    return lp if (lp > 0 or not nonpositive_as_nan) else float("nan")


def funding_rate_8h(
    impact_bid_px: float | None,
    impact_ask_px: float | None,
    oracle_px: float,
    interest_rate_8h: float = 0.0001,
    clamp: float = 0.0005,
) -> dict[str, float]:
    """Premium, 8-hour funding rate and the hourly rate paid (fractions).

    ``premium = [max(impact_bid - O, 0) - max(O - impact_ask, 0)]/O``; a missing impact price
    contributes 0. Source: Hyperliquid funding page (docs example: bid 10,100, oracle 10,000,
    interest 0.01 % -> F_8h = 0.95 %).
    """
    if not oracle_px > 0:
        raise InputError("oracle_px must be > 0")
    up = max((impact_bid_px or oracle_px) - oracle_px, 0.0)
    down = max(oracle_px - (impact_ask_px or oracle_px), 0.0)
    premium = (up - down) / oracle_px
    f8 = premium + float(np.clip(interest_rate_8h - premium, -clamp, clamp))
    hourly = float(np.clip(f8 / 8.0, -HOURLY_FUNDING_CAP, HOURLY_FUNDING_CAP))
    return {"premium": premium, "F_8h": f8, "hourly_rate_paid": hourly}
