"""One isolated position against the venue's rules: liquidation price, distance, what-if."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from liqcascade.errors import InputError, RuleError
from liqcascade.jsonutil import AsDict
from liqcascade.risk._checks import _finite, _positive, parse_side
from liqcascade.risk.models import gbm_touch


def _margin_module():
    try:
        from liqcascade import margin
    except ImportError as exc:  # pragma: no cover - only while the margin module is missing
        raise RuleError("liqcascade.margin is not available: venue margin rules needed") from exc
    return margin


def _scalar(x: Any) -> float:
    return float(np.asarray(x, dtype=np.float64).reshape(-1)[0])


def _liq_price(rules: Any, side: int, size_base: float, entry_price: float, margin_quote: float):
    m = _margin_module()
    return _scalar(m.liquidation_price(rules, np.int8(side), size_base, entry_price, margin_quote))


def _mm(rules: Any, notional_quote: float) -> float:
    """Maintenance margin (quote) incl. the OKX/Gate taker-fee term of the liquidation test."""
    n = float(notional_quote)
    mm = _scalar(_margin_module().maintenance_margin(rules, np.asarray([n])))
    return mm + float(getattr(rules, "mm_fee_rate", 0.0)) * n


def _loss_at_liquidation(
    rules: Any, size_base: float, liq_price: float, margin_quote: float
) -> float:
    """Trader's loss when liquidated exactly at ``liq_price`` (no slippage).

    At the liquidation price equity equals maintenance margin; the venue's clearance fee
    (``rules.liquidation_fee_rate`` x notional) comes out of what is left, and the trader keeps
    the rest. Slippage below the liquidation price, or a backstop takeover (Hyperliquid keeps
    the maintenance margin), raise the loss up to the whole margin.
    """
    if not liq_price > 0:
        return 0.0
    n_liq = size_base * liq_price
    left = _mm(rules, n_liq) - float(rules.liquidation_fee_rate) * n_liq
    return float(margin_quote - max(0.0, min(left, margin_quote)))


@dataclass(frozen=True)
class PositionRisk(AsDict):
    """Risk figures of one isolated position at ``mark_price`` (quote currency, fractions).

    The last four fields are ``None`` unless :func:`position_risk` was given ``vol_annual``.
    """

    venue: str
    symbol: str
    side: int
    size_base: float
    entry_price: float
    mark_price: float
    margin_quote: float
    notional_quote: float
    unrealised_pnl_quote: float
    equity_quote: float
    maintenance_margin_quote: float
    margin_ratio: float
    """Maintenance margin over equity (Binance's convention: liquidation at 1.0 or above)."""
    effective_leverage: float
    liquidation_price: float
    """The venue's liquidation price, quote per base (<= 0: a long that cannot be liquidated)."""
    distance_frac: float
    """``side*(mark - liq)/mark``: > 0 while safe (1.0 when there is no liquidation price)."""
    loss_at_liquidation_quote: float
    """What the trader loses when liquidated exactly at the liquidation price (no slippage)."""
    liquidatable_now: bool
    vol_annual: float | None = None
    horizon_days: float | None = None
    distance_sigma: float | None = None
    """``|ln(liq/mark)| / (vol*sqrt(horizon))``: the distance in volatility units."""
    liquidation_probability_gbm: float | None = None
    """GBM probability of touching the liquidation price within ``horizon_days``."""


def position_risk(
    rules: Any,
    side: int | str,
    size_base: float,
    entry_price: float,
    margin_quote: float,
    *,
    mark_price: float | None = None,
    vol_annual: float | None = None,
    horizon_days: float = 1.0,
    drift_annual: float = 0.0,
) -> PositionRisk:
    """Liquidation price, distance, margin ratio of an isolated position on ``rules``' venue.

    The liquidation price is :func:`liqcascade.margin.liquidation_price` (the venue's own
    formula, tier at the liquidation price). With ``vol_annual`` the distance is also given in
    volatility units over ``horizon_days`` and the GBM probability of touching it.

    Examples
    --------
    >>> from liqcascade.venues import load_venue
    >>> r = position_risk(load_venue("binance_usdm", "BTCUSDT"), "long", 0.85, 60_000, 2_550)
    >>> round(r.liquidation_price, 2), round(r.distance_frac, 4)   # Binance FAQ example
    (57228.92, 0.0462)
    """
    sd = parse_side(side)
    size_base = _positive("size_base", size_base)
    entry_price = _positive("entry_price", entry_price)
    margin_quote = _positive("margin_quote", margin_quote)
    mark = entry_price if mark_price is None else _positive("mark_price", mark_price)
    notional = size_base * mark
    upnl = sd * size_base * (mark - entry_price)
    equity = margin_quote + upnl
    mm = _mm(rules, notional)
    ratio = mm / equity if equity > 0 else math.inf
    liq = _liq_price(rules, sd, size_base, entry_price, margin_quote)
    if sd == 1 and not liq > 0:
        dist = 1.0  # a long whose liquidation price is <= 0 cannot be liquidated
    else:
        dist = sd * (mark - liq) / mark
    out: dict[str, Any] = dict(
        venue=str(rules.venue),
        symbol=str(rules.symbol),
        side=sd,
        size_base=size_base,
        entry_price=entry_price,
        mark_price=mark,
        margin_quote=margin_quote,
        notional_quote=notional,
        unrealised_pnl_quote=upnl,
        equity_quote=equity,
        maintenance_margin_quote=mm,
        margin_ratio=ratio,
        effective_leverage=notional / equity if equity > 0 else math.inf,
        liquidation_price=liq,
        distance_frac=dist,
        loss_at_liquidation_quote=_loss_at_liquidation(rules, size_base, liq, margin_quote),
        liquidatable_now=bool(equity < mm) or dist <= 0,
    )
    if vol_annual is not None:
        vol = _positive("vol_annual", vol_annual)
        h = _positive("horizon_days", horizon_days)
        out["vol_annual"] = vol
        out["horizon_days"] = h
        if dist > 0 and liq > 0:
            dsig, prob = gbm_touch(math.log(liq / mark), vol, h, drift_annual)
            out["distance_sigma"] = float(dsig)
            out["liquidation_probability_gbm"] = float(prob)
        elif dist > 0:
            out["distance_sigma"] = math.inf
            out["liquidation_probability_gbm"] = 0.0
        else:
            out["distance_sigma"] = 0.0
            out["liquidation_probability_gbm"] = 1.0
    return PositionRisk(**out)


@dataclass(frozen=True)
class MoveOutcome(AsDict):
    """What a price move does to a position (quote currency)."""

    move_frac: float
    new_price: float
    pnl_change_quote: float
    unrealised_pnl_quote: float
    equity_quote: float
    maintenance_margin_quote: float
    margin_ratio: float
    liquidated: bool
    realised_loss_if_liquidated_quote: float | None


def move_what_if(
    rules: Any,
    side: int | str,
    size_base: float,
    entry_price: float,
    margin_quote: float,
    move_frac: float,
    *,
    mark_price: float | None = None,
) -> MoveOutcome:
    """Apply a relative price move (``-0.1`` = 10% down) to an isolated position.

    ``liquidated`` is true when the new price is at or beyond the liquidation price (the
    move passes through it; a position is liquidated once equity < maintenance margin).
    ``realised_loss_if_liquidated_quote`` then assumes the fill at the liquidation price.
    """
    sd = parse_side(side)
    move = _finite("move_frac", move_frac)
    if move <= -1.0:
        raise InputError(f"move_frac={move_frac!r}: a price cannot fall by 100% or more")
    base = position_risk(rules, sd, size_base, entry_price, margin_quote, mark_price=mark_price)
    new_price = base.mark_price * (1.0 + move)
    upnl = sd * base.size_base * (new_price - base.entry_price)
    equity = base.margin_quote + upnl
    mm = _mm(rules, base.size_base * new_price)
    liq = base.liquidation_price
    crossed = (sd * (new_price - liq) <= 0) if (liq > 0 or sd == -1) else False
    liquidated = bool(crossed or equity < mm)
    return MoveOutcome(
        move_frac=move,
        new_price=new_price,
        pnl_change_quote=sd * base.size_base * (new_price - base.mark_price),
        unrealised_pnl_quote=upnl,
        equity_quote=equity,
        maintenance_margin_quote=mm,
        margin_ratio=mm / equity if equity > 0 else math.inf,
        liquidated=liquidated,
        realised_loss_if_liquidated_quote=base.loss_at_liquidation_quote if liquidated else None,
    )
