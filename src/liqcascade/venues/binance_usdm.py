"""Binance USDⓈ-M perpetuals: the general liquidation-price formula (one-way and hedge mode).

Source: Binance FAQ "How to Calculate Liquidation Price of USDⓈ-M Futures Contracts"
(https://www.binance.com/en/support/faq/b3c689c1f50a44cabb3a84e663b81d93)::

    LP = [WB - TMM1 + UPNL1 + cum_B + cum_L + cum_S - Side_B*Q_B*EP_B - Q_L*EP_L + Q_S*EP_S]
         / [Q_B*MMR_B + Q_L*MMR_L + Q_S*MMR_S - Side_B*Q_B - Q_L + Q_S]

WB: cross wallet balance (isolated: the position's isolated wallet, TMM1 = UPNL1 = 0).
TMM1/UPNL1: maintenance margin and unrealised PnL of all *other* contracts. Each leg's MMR
and cum are those of the bracket containing the leg's notional valued at LP (iterated until
stable; MM is continuous so the fixed point is unique). Isolated hedge mode: call once per
leg with the other leg omitted.

>>> from liqcascade.venues import load_venue
>>> r = load_venue("binance_usdm", "BTCUSDT")
>>> round(general_liquidation_price(2550.0, [(1, 0.85, 60000.0)], r), 6)
57228.915663
"""

from __future__ import annotations

from collections.abc import Sequence

from liqcascade.errors import InputError
from liqcascade.venues.base import VenueRules

Leg = tuple[int, float, float]  # (side +1/-1, size_base > 0, entry_price)


def general_liquidation_price(
    wallet_quote: float,
    legs: Sequence[Leg],
    rules: VenueRules,
    other_mm_quote: float = 0.0,
    other_upnl_quote: float = 0.0,
) -> float:
    """Liquidation price (USDT) shared by the legs of one symbol (one-way: one leg; hedge: two).

    Returns NaN when the solution is <= 0 (Binance shows "--").
    """
    if not legs:
        raise InputError("Binance liquidation price: at least one leg (side, size, entry) needed")
    for s, q, ep in legs:
        if s not in (1, -1):
            raise InputError(f"leg side={s!r}: expected +1 or -1")
        if not (q > 0 and ep > 0):
            raise InputError(f"leg size_base={q!r}, entry_price={ep!r}: both must be > 0")
    t = rules.tiers
    ks = [int(t.index(q * ep)) for _, q, ep in legs]
    lp = float("nan")
    for _ in range(len(t) * len(legs) + 1):
        num = wallet_quote - other_mm_quote + other_upnl_quote
        den = 0.0
        for (s, q, ep), k in zip(legs, ks, strict=True):
            num += float(t.cum_quote[k]) - s * q * ep
            den += q * float(t.mmr[k]) - s * q
        if den == 0.0:
            return float("nan")
        lp = num / den
        new = [int(t.index(q * lp)) for _, q, _ in legs]
        if new == ks:
            break
        ks = new
    return lp if lp > 0 else float("nan")


def other_positions_terms(
    positions: Sequence[dict[str, float]],
) -> tuple[float, float]:
    """(TMM1, UPNL1) of other cross positions: ``sum(Q*mark*mmr - cum)``, ``sum(s*Q*(mark - EP))``.

    Each dict has ``size_base``, ``entry_price``, ``mark_price``, ``mmr``, ``cum`` and optional
    ``side`` (+1/-1 or 'long'/'short'; default long, or the sign of ``size_base``).
    """
    tmm = upnl = 0.0
    for i, p in enumerate(positions):
        try:
            q = float(p["size_base"])
            mark = float(p["mark_price"])
            ep = float(p["entry_price"])
            mmr = float(p["mmr"])
            cum = float(p.get("cum", 0.0))
        except KeyError as exc:
            raise InputError(f"other position {i}: missing field {exc.args[0]!r}") from exc
        side = p.get("side", 1 if q >= 0 else -1)
        s = -1 if str(side).lower() in ("short", "-1", "sell") else 1
        q = abs(q)
        tmm += q * mark * mmr - cum
        upnl += s * q * (mark - ep)
    return tmm, upnl
