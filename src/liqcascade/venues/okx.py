"""OKX swap (and Gate futures) isolated linear liquidation price with the taker-fee term.

``LP_long = (EP - M/Q)/(1 - MMR - taker)``, ``LP_short = (EP + M/Q)/(1 + MMR + taker)``:
the OKX condition margin ratio = (fixed margin + UPL)/(MM + liquidation fee) = 1 with the
liquidation fee = taker x notional (venues.md §4; freqtrade base-class formula for Gate/OKX).
In ``margin.liquidation_price`` this is the tiered solve with ``mmr_k + taker``.

>>> round(isolated_liquidation_price(1, 1.0, 10.0, 10.0 / 3, 0.01, 0.0006), 9)
6.738090425
"""

from __future__ import annotations

from liqcascade.errors import InputError


def isolated_liquidation_price(
    side: int,
    size_base: float,
    entry_price: float,
    margin_quote: float,
    mmr: float,
    taker_fee_rate: float,
    *,
    nonpositive_as_nan: bool = True,
) -> float:
    """Isolated liquidation price (quote per base) at a given MMR and taker fee."""
    if not (size_base > 0 and entry_price > 0):
        raise InputError("size_base and entry_price must be > 0")
    lp = (entry_price - side * margin_quote / size_base) / (1.0 - side * (mmr + taker_fee_rate))
    return lp if (lp > 0 or not nonpositive_as_nan) else float("nan")
