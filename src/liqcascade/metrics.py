"""Systemic indicators of a position book in a market state (one underlying asset).

For a book of one underlying (possibly spread over several venues) at one price:

* ``leverage_ratio`` -- estimated leverage ratio, open interest over the collateral backing it
  (``open_interest_quote / collateral_quote``; CryptoQuant's "estimated leverage ratio" uses
  exchange OI over exchange reserves). ``open_interest_quote`` counts each contract once:
  ``(long notional + short notional) / 2`` at the price, which equals the exchange's OI for a
  complete book. ``collateral_quote`` = isolated margins + each cross account's collateral once.
  ``gross_leverage`` = gross notional / collateral is the average leverage of the positions.
* ``oi_over_depth_1pct_bid`` / ``_ask`` -- open interest over the quote volume the book
  absorbs within a 1% move (``impact.volume_for_move(0.01) * price``, bid or ask side).
* ``liq_notional_within_5pct_long_quote`` / ``_short_quote`` -- notional (size x liquidation
  price) of longs liquidated within 5% below the price and of shorts within 5% above;
  ``liq_density_5pct`` = their sum over the open interest.
* ``venue_hhi`` -- Herfindahl-Hirschman index of open interest by venue (sum of squared
  shares; 1 = one venue, 1/n = n equal venues).
* ``critical_shock_down`` / ``_up`` -- the smallest shock (fraction) at which the static
  cascade multiplier ``(P0 - P_final)/(P0 - P1)`` exceeds ``multiplier_threshold`` (2):
  first crossing on a ladder of shocks (:class:`liqcascade.engine.static.StaticCascade`),
  refined by bisection between the bracketing ladder points. ``None`` when no shock on the
  ladder reaches it. Positions already liquidatable at the price are left out of this search
  (``n_already_liquidatable`` counts them).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict, Unpack

import numpy as np

from liqcascade.errors import InputError
from liqcascade.jsonutil import AsDict

__all__ = [
    "IndicatorOptions",
    "SystemicIndicators",
    "aggregate_impact",
    "indicators_from_arrays",
    "critical_shock",
    "venue_hhi",
    "systemic_indicators",
]

#: Default ladder of shock magnitudes searched for the critical shock (0.1% to 60%).
DEFAULT_SHOCK_LADDER = tuple(float(x) for x in np.round(np.geomspace(0.001, 0.6, 80), 6))


@dataclass(frozen=True)
class SystemicIndicators(AsDict):
    """Systemic indicators of one book at one price (quote currency; fractions)."""

    price: float
    n_positions: int
    n_already_liquidatable: int
    long_notional_quote: float
    short_notional_quote: float
    open_interest_quote: float
    collateral_quote: float
    leverage_ratio: float
    gross_leverage: float
    depth_1pct_bid_quote: float | None
    depth_1pct_ask_quote: float | None
    oi_over_depth_1pct_bid: float | None
    oi_over_depth_1pct_ask: float | None
    liq_notional_within_5pct_long_quote: float
    liq_notional_within_5pct_short_quote: float
    liq_density_5pct: float
    venue_hhi: float
    venue_shares: dict[str, float]
    multiplier_threshold: float
    critical_shock_down: float | None
    critical_shock_up: float | None
    notes: list[str] = field(default_factory=list)


def venue_hhi(notional_by_venue: dict[str, float]) -> float:
    """Herfindahl-Hirschman index ``sum(s_i^2)`` of shares ``s_i`` (1 = one venue).

    >>> venue_hhi({"a": 50.0, "b": 50.0})
    0.5
    """
    vals = np.array([v for v in notional_by_venue.values()], dtype=np.float64)
    if vals.size == 0 or np.any(vals < 0) or vals.sum() <= 0:
        raise InputError(
            f"venue_hhi: need non-negative notionals with a positive sum, got {notional_by_venue}"
        )
    s = vals / vals.sum()
    return float(np.sum(s * s))


def critical_shock(
    cascade: Any,
    initial_price: float,
    direction: int,
    *,
    threshold: float = 2.0,
    ladder: Sequence[float] = DEFAULT_SHOCK_LADDER,
    tol: float = 1e-6,
) -> float | None:
    """Smallest shock magnitude with cascade multiplier > ``threshold`` (signed: < 0 down).

    ``cascade`` is a :class:`~liqcascade.engine.static.StaticCascade`. The ladder (shock
    magnitudes, fractions) is solved in one call; the first rung above the threshold and the
    rung before it bracket the crossing, which bisection narrows to ``tol``. The multiplier is
    not monotone in the shock in general (it jumps up when a cluster is reached and decays
    after), so this is the first crossing on the ladder's resolution.
    """
    if direction not in (1, -1):
        raise InputError(f"direction={direction!r}: expected -1 (down) or +1 (up)")
    mags = np.sort(np.asarray(ladder, dtype=np.float64))
    if mags.size == 0 or np.any(~(mags > 0)) or (direction == -1 and mags[-1] >= 1.0):
        raise InputError("ladder: expected shock magnitudes in (0, 1)")
    res = cascade.solve_arrays(direction * mags, initial_price)
    mult = np.nan_to_num(res["cascade_multiplier"], nan=0.0, posinf=np.inf)
    over = np.flatnonzero(mult > threshold)
    if over.size == 0:
        return None
    i = int(over[0])
    hi = float(mags[i])
    lo = float(mags[i - 1]) if i > 0 else 0.0
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        m = float(cascade.solve_arrays([direction * mid], initial_price)["cascade_multiplier"][0])
        if m > threshold:
            hi = mid
        else:
            lo = mid
    return direction * hi


def aggregate_impact(impacts: Sequence[Any]) -> Any:
    """One impact model for several venues' books (arbitrage keeps their prices together, so
    forced flow is absorbed by their combined depth).

    Linear models add their 1% depths exactly. Other mixes are approximated, on each side
    separately, by a linear model whose 1% depth is the sum of the venues'
    ``volume_for_move(0.01)``.
    """
    from liqcascade.impact import LinearImpact

    if not impacts:
        raise InputError("aggregate_impact: no impact models")
    if len(impacts) == 1:
        return impacts[0]
    if all(isinstance(m, LinearImpact) for m in impacts):
        return LinearImpact(sum(m.depth_1pct_base for m in impacts))
    return _SidedLinear(
        LinearImpact(sum(float(_side(m, "bid").volume_for_move(0.01)) for m in impacts)),
        LinearImpact(sum(float(_side(m, "ask").volume_for_move(0.01)) for m in impacts)),
    )


def _side(m: Any, side: str) -> Any:
    return m.for_side(side) if hasattr(m, "for_side") else m


@dataclass(frozen=True)
class _SidedLinear:
    """Linear impact with its own 1% depth on each side (bid: sells, ask: buys)."""

    bid: Any
    ask: Any

    def for_side(self, side: str) -> Any:
        return self.bid if side == "bid" else self.ask

    def describe(self) -> str:
        return f"bid {self.bid.describe()}, ask {self.ask.describe()}"


class IndicatorOptions(TypedDict, total=False):
    """How the indicators are measured, as keywords of :func:`indicators_from_arrays` and
    :func:`systemic_indicators` (defaults: :func:`indicators_from_arrays`).

    ``multiplier_threshold``: the cascade multiplier the critical shock must exceed;
    ``ladder``: the shock magnitudes searched (fractions in (0, 1)); ``band_frac``: the band
    below/above the price whose liquidation notional is counted (fraction of the price).
    """

    multiplier_threshold: float
    ladder: Sequence[float]
    band_frac: float


def indicators_from_arrays(
    *,
    side: np.ndarray,
    size_base: np.ndarray,
    liquidation_price: np.ndarray,
    venue: np.ndarray,
    collateral_quote: float,
    price: float,
    impact: Any | None = None,
    multiplier_threshold: float = 2.0,
    ladder: Sequence[float] = DEFAULT_SHOCK_LADDER,
    band_frac: float = 0.05,
    notes: list[str] | None = None,
) -> SystemicIndicators:
    """Systemic indicators from position arrays (side +1/-1, size in base units, liquidation
    price, venue name per row), the total collateral backing them (quote) and a price.

    See the module docstring for every definition; :func:`systemic_indicators` is the
    :class:`~liqcascade.book.PositionBook` front end.
    """
    from liqcascade.engine.static import StaticCascade

    try:
        p = float(price)
    except (TypeError, ValueError) as exc:
        raise InputError(f"price={price!r}: expected a number") from exc
    if not (math.isfinite(p) and p > 0):
        raise InputError(f"price={price!r}: expected a finite number > 0")
    if not (0 < band_frac < 1):
        raise InputError(f"band_frac={band_frac!r}: expected a fraction in (0, 1)")
    side = np.asarray(side)
    size = np.asarray(size_base, dtype=np.float64)
    liq = np.asarray(liquidation_price, dtype=np.float64)
    n = len(size)
    if n == 0:
        raise InputError("systemic indicators: no positions")
    coll = float(collateral_quote)
    if not coll > 0:
        raise InputError(f"total collateral is {coll}; expected > 0")
    notes = list(notes or [])
    notional = size * p
    long_n = float(notional[side == 1].sum())
    short_n = float(notional[side == -1].sum())
    oi = 0.5 * (long_n + short_n)
    with np.errstate(invalid="ignore"):
        dead = ((side == 1) & (liq >= p)) | ((side == -1) & (liq <= p))
    if dead.any():
        notes.append(
            f"{int(dead.sum())} positions are already liquidatable at {p}; they are left out of "
            "the critical-shock search (they would have been liquidated already)"
        )
    with np.errstate(invalid="ignore"):
        near_long = (side == 1) & (liq < p) & (liq >= p * (1 - band_frac))
        near_short = (side == -1) & (liq > p) & (liq <= p * (1 + band_frac))
    liq_long = float(np.sum(size[near_long] * liq[near_long]))
    liq_short = float(np.sum(size[near_short] * liq[near_short]))
    by_venue: dict[str, float] = {}
    for v, x in zip(np.asarray(venue, dtype=object), notional, strict=True):
        by_venue[str(v)] = by_venue.get(str(v), 0.0) + float(x)
    total = sum(by_venue.values())
    shares = {k: v / total for k, v in sorted(by_venue.items())}
    d_bid = d_ask = r_bid = r_ask = None
    cs_down = cs_up = None
    if impact is not None:
        d_bid = float(_side(impact, "bid").volume_for_move(0.01)) * p
        d_ask = float(_side(impact, "ask").volume_for_move(0.01)) * p
        r_bid = oi / d_bid if d_bid > 0 else math.inf
        r_ask = oi / d_ask if d_ask > 0 else math.inf
        live = ~dead
        cascade = StaticCascade(
            (side[live].astype(np.int8), size[live], liq[live]), impact, initial_price=p
        )
        cs_down = critical_shock(cascade, p, -1, threshold=multiplier_threshold, ladder=ladder)
        cs_up = critical_shock(cascade, p, 1, threshold=multiplier_threshold, ladder=ladder)
    else:
        notes.append("no impact model: depth ratio and critical shock not computed")
    return SystemicIndicators(
        price=p,
        n_positions=n,
        n_already_liquidatable=int(dead.sum()),
        long_notional_quote=long_n,
        short_notional_quote=short_n,
        open_interest_quote=oi,
        collateral_quote=coll,
        leverage_ratio=oi / coll,
        gross_leverage=(long_n + short_n) / coll,
        depth_1pct_bid_quote=d_bid,
        depth_1pct_ask_quote=d_ask,
        oi_over_depth_1pct_bid=r_bid,
        oi_over_depth_1pct_ask=r_ask,
        liq_notional_within_5pct_long_quote=liq_long,
        liq_notional_within_5pct_short_quote=liq_short,
        liq_density_5pct=(liq_long + liq_short) / oi if oi > 0 else 0.0,
        venue_hhi=venue_hhi(by_venue),
        venue_shares=shares,
        multiplier_threshold=multiplier_threshold,
        critical_shock_down=cs_down,
        critical_shock_up=cs_up,
        notes=notes,
    )


def systemic_indicators(
    book: Any,
    price: float,
    impact: Any | None = None,
    **options: Unpack[IndicatorOptions],
) -> SystemicIndicators:
    """Systemic indicators of ``book`` (a :class:`~liqcascade.book.PositionBook` of one
    underlying, any number of venues) at ``price`` (quote per base).

    ``impact`` (a :mod:`liqcascade.impact` model of the aggregate book, e.g. from
    :func:`aggregate_impact`) is needed for the depth ratio and the critical shock; without it
    those fields are ``None``. The critical shock pools every venue's liquidation prices into
    one static cascade (arbitrage keeps the venues' prices together). Collateral: isolated
    margins plus each cross account's collateral once. ``options``: :class:`IndicatorOptions`.
    """
    n = len(book)
    if n == 0:
        raise InputError(f"{getattr(book, 'source', 'book')}: no positions")
    notes: list[str] = []
    if len(set(book.symbols)) > 1:
        notes.append(
            f"book holds symbols {list(book.symbols)}; treated as one underlying at price {price}"
        )
    iso = book.margin_mode == 0
    coll = float(np.nansum(book.margin_quote[iso]))
    for a in np.unique(book.account_id[~iso]):
        c = book.account_collateral_quote.get(int(a))
        if c is None or not math.isfinite(c):
            raise InputError(
                f"{book.source}: cross account {book.account_label(a)} has no collateral"
            )
        coll += float(c)
    if coll <= 0:
        raise InputError(f"{book.source}: total collateral is {coll}; expected > 0")
    return indicators_from_arrays(
        side=book.side,
        size_base=book.size_base,
        liquidation_price=book.liquidation_price,
        venue=np.asarray(book.venues, dtype=object)[book.venue_code],
        collateral_quote=coll,
        price=price,
        impact=impact,
        notes=notes,
        **options,
    )
