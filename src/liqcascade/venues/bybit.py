"""Bybit: USDT linear (classic isolated) and inverse (legacy) formulas.

Sources: https://testnet.bybit.com/en-US/help-center/s/article/Liquidation-Price-USDT-Contract
(linear), https://help.bybit.com/hc/en-us/articles/360039261334 (inverse, cross) and
https://help.bybit.com/hc/en-us/articles/900000031623 (ADL, inverse bankruptcy).

Linear isolated: ``LP = EP - s*(IM - MM)/Q - s*extra/Q`` with ``IM = Q*EP/lev`` and
``MM = Q*EP*MMR - MM_deduction`` (MM valued at entry). Bankruptcy ``EP*(1 - s/lev)``.

>>> round(linear_liquidation_price(1, 1.0, 20_000.0, 50, 0.005), 6)
19700.0
"""

from __future__ import annotations

import math

from liqcascade.errors import InputError

#: Tick of the inverse BTCUSD contract (USD).
BTCUSD_TICK = 0.5


def _pos(name: str, v: float) -> float:
    if not (v > 0 and math.isfinite(v)):
        raise InputError(f"{name} must be > 0 and finite, got {v!r}")
    return float(v)


def linear_liquidation_price(
    side: int,
    size_base: float,
    entry_price: float,
    leverage: float,
    mmr: float,
    mm_deduction_quote: float = 0.0,
    extra_margin_quote: float = 0.0,
    *,
    nonpositive_as_nan: bool = True,
) -> float:
    """Classic USDT-perpetual isolated liquidation price (quote per base)."""
    q = _pos("size_base", size_base)
    ep = _pos("entry_price", entry_price)
    lev = _pos("leverage", leverage)
    im = q * ep / lev
    mm = q * ep * mmr - mm_deduction_quote
    lp = ep - side * (im - mm) / q - side * extra_margin_quote / q
    return lp if (lp > 0 or not nonpositive_as_nan) else float("nan")


def linear_bankruptcy_price(side: int, entry_price: float, leverage: float) -> float:
    """``EP*(1 - s/lev)`` (isolated, margin = IM)."""
    return _pos("entry_price", entry_price) * (1.0 - side / _pos("leverage", leverage))


def inverse_bankruptcy_price_isolated(side: int, entry_price: float, leverage: float) -> float:
    """Inverse isolated bankruptcy price: long ``EP*lev/(lev+1)``, short ``EP*lev/(lev-1)``."""
    ep = _pos("entry_price", entry_price)
    lev = _pos("leverage", leverage)
    if side < 0 and lev <= 1:
        return float("inf")
    return ep * lev / (lev + side)


def inverse_cross_prices(
    contracts_usd: float,
    entry_price: float,
    wallet_coin: float,
    mmr: float,
    taker_fee: float,
    order_margin_coin: float = 0.0,
    side: int = 1,
) -> dict[str, float]:
    """Legacy inverse cross: bankruptcy and liquidation prices (USD per coin).

    Bankruptcy: ``Q*(1/EP - 1/BP) = -s*(WB - OM - Q*fee/BP)``; liquidation:
    ``Q*(1/EP - 1/LP) = -s*(WB - OM - Q*MMR/EP - Q*fee/BP)`` (Q in USD contracts, WB in coin).
    """
    q = _pos("contracts_usd", contracts_usd)
    ep = _pos("entry_price", entry_price)
    avail = wallet_coin - order_margin_coin
    # long: q/EP + avail = q*(1+fee)/BP ; short: q/EP - avail = q*(1-fee)/BP
    bp = q * (1 + side * taker_fee) / (q / ep + side * avail)
    lp = q / (q / ep + side * (avail - q * mmr / ep - q * taker_fee / bp))
    return {"bankruptcy_price": bp, "liquidation_price": lp}


def round_to_tick(price: float, tick: float, side: int) -> float:
    """Round a liquidation/bankruptcy price to the tick away from the trader (up for a long)."""
    steps = price / tick
    return (math.ceil(steps - 1e-9) if side > 0 else math.floor(steps + 1e-9)) * tick
