"""Synthetic trader populations: a seeded generator of :class:`~liqcascade.book.PositionBook`.

For each position (one position per account; formulas in docs/stress.md):

1. segment: exactly ``round(n * share)`` positions per segment (largest remainder), in a
   seeded random order;
2. venue: drawn with probabilities ``[[venues]].share``;
3. side: long with probability ``long_fraction`` of the segment;
4. entry price: a candle of the price history drawn with probability proportional to its quote
   volume, then a price uniform on [low, high] of that candle; rescaled to the venue's initial
   price by ``entry_v = price * P0_v / last_close`` (venues quote the same underlying);
5. notional at entry (quote) from the segment's ``size`` distribution; ``size_base = notional /
   entry``;
6. leverage from the segment's ``leverage`` distribution (heavy-tailed: truncated Pareto or
   lognormal up to 1001x), then capped at the venue tier's maximum for that notional and at
   ``[[venues]].max_leverage``: ``min(draw, cap)``;
7. margin: isolated margin = notional / leverage; a cross account's wallet =
   notional / leverage * (1 + cross_excess);
8. liquidation and bankruptcy prices from the venue's rules (:mod:`liqcascade.margin`).

Positions already past their liquidation price at the initial price would have been
liquidated during the history; they are removed (survivorship) and counted in the report.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import special

from liqcascade import margin
from liqcascade.book import PositionBook
from liqcascade.errors import ConfigError, DataError
from liqcascade.log import logger
from liqcascade.scenarios import schema as S
from liqcascade.scenarios.shocks import read_klines

__all__ = ["VenueSpec", "PopulationReport", "draw", "generate_population", "population_rng"]

#: Distinguishes the population's seed stream from the per-path streams (spawn keys).
POPULATION_STREAM = 0x706F70


@dataclass(frozen=True)
class VenueSpec:
    """A resolved venue: rules from :func:`liqcascade.venues.load_venue` and scenario values."""

    name: str
    symbol: str
    rules: Any
    initial_price: float
    share: float
    max_leverage: float


@dataclass(frozen=True)
class PopulationReport:
    """What the generator did: counts requested, kept and dropped (already liquidated)."""

    seed: int
    requested: int
    kept: int
    dropped_already_liquidated: int
    capped_leverage: int
    last_close: float


def population_rng(seed: int) -> np.random.Generator:
    """The population's generator: ``SeedSequence([seed, POPULATION_STREAM])``."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), POPULATION_STREAM]))


def draw(dist: Any, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` draws from a schema distribution (exact inverse-CDF truncation).

    Pareto on [a, b] with index alpha: ``x = a * (1 - u (1 - (a/b)^alpha))^(-1/alpha)``.
    Lognormal(median m, sigma) truncated to [lo, hi]: ``x = m * exp(sigma * Phi^-1(u'))`` with
    ``u'`` uniform on [Phi(ln(lo/m)/sigma), Phi(ln(hi/m)/sigma)].
    """
    if isinstance(dist, S.FixedDist):
        return np.full(n, float(dist.value))
    if isinstance(dist, S.UniformDist):
        return rng.uniform(dist.low, dist.high, size=n)
    u = rng.random(n)
    if isinstance(dist, S.ParetoDist):
        a, b, al = dist.x_min, dist.x_max, dist.alpha
        return a * (1.0 - u * (1.0 - (a / b) ** al)) ** (-1.0 / al)
    if isinstance(dist, S.LognormalDist):
        m, s = dist.median, dist.sigma
        lo = special.ndtr(math.log(dist.x_min / m) / s) if dist.x_min > 0 else 0.0
        hi = special.ndtr(math.log(dist.x_max / m) / s) if math.isfinite(dist.x_max) else 1.0
        uu = np.clip(lo + u * (hi - lo), 1e-300, 1.0 - 1e-16)
        return np.clip(m * np.exp(s * special.ndtri(uu)), dist.x_min, dist.x_max)
    raise ConfigError(f"unknown distribution {type(dist).__name__}")


def _segment_counts(n: int, shares: list[float]) -> np.ndarray:
    raw = np.asarray(shares) * n
    counts = np.floor(raw).astype(np.int64)
    rest = n - counts.sum()
    order = np.argsort(-(raw - counts), kind="stable")
    counts[order[:rest]] += 1
    return counts


def generate_population(
    cfg: S.SyntheticBook, venues: list[VenueSpec], seed: int, base_dir: Path | None = None
) -> tuple[PositionBook, PopulationReport]:
    """Draw a synthetic book for ``venues`` (see module docstring); deterministic in ``seed``."""
    rng = population_rng(seed)
    kl = read_klines(cfg.price_history, base_dir, cfg.history_start, cfg.history_end)
    qv = kl["quote_volume"].to_numpy()
    if not qv.sum() > 0:
        raise DataError(
            f"{cfg.price_history}: quote_volume is 0 in every candle (price-only klines); "
            "entries are weighted by volume, so give trade klines"
        )
    last_close = float(kl["close"][-1])
    lows, highs = kl["low"].to_numpy(), kl["high"].to_numpy()

    seg_names = list(cfg.segments)
    counts = _segment_counts(cfg.n_positions, [cfg.segments[s].share for s in seg_names])
    n = int(counts.sum())
    seg = np.repeat(np.array([S.SEGMENTS.index(s) for s in seg_names], dtype=np.int8), counts)
    seg = seg[rng.permutation(n)]

    vshares = np.array([v.share for v in venues])
    venue_code = rng.choice(len(venues), size=n, p=vshares / vshares.sum()).astype(np.int16)

    side = np.empty(n, dtype=np.int8)
    notional = np.empty(n)
    lev = np.empty(n)
    cross = np.zeros(n, dtype=bool)
    excess = np.zeros(n)
    for name in seg_names:
        sc = cfg.segments[name]
        idx = np.flatnonzero(seg == S.SEGMENTS.index(name))
        k = len(idx)
        side[idx] = np.where(rng.random(k) < sc.long_fraction, 1, -1)
        notional[idx] = draw(sc.size, k, rng)
        lev[idx] = draw(sc.leverage, k, rng)
        cross[idx] = rng.random(k) < sc.cross_fraction
        excess[idx] = sc.cross_excess
    bad = ~(notional > 0) | ~(lev >= 1.0)
    if bad.any():
        i = int(np.argmax(bad))
        raise ConfigError(
            f"[book.segments.{S.SEGMENTS[seg[i]]}]: drew notional={notional[i]:g}, leverage={lev[i]:g}; "
            "size must be > 0 and leverage >= 1 (check the distributions' bounds)"
        )

    candle = rng.choice(len(qv), size=n, p=qv / qv.sum())
    price_hist = lows[candle] + rng.random(n) * (highs[candle] - lows[candle])

    entry = np.empty(n)
    size = np.empty(n)
    margin_q = np.full(n, np.nan)
    wallet = np.zeros(n)
    liq = np.full(n, np.nan)
    bkr = np.full(n, np.nan)
    capped = 0
    for vc, v in enumerate(venues):
        idx = np.flatnonzero(venue_code == vc)
        if not len(idx):
            continue
        entry[idx] = price_hist[idx] * (v.initial_price / last_close)
        size[idx] = notional[idx] / entry[idx]
        tiers = v.rules.tiers
        cap = np.minimum(np.asarray(tiers.max_leverage)[tiers.index(notional[idx])], v.max_leverage)
        over = lev[idx] > cap
        capped += int(over.sum())
        lev[idx] = np.minimum(lev[idx], cap)
        im = notional[idx] / lev[idx]
        eff = np.where(cross[idx], im * (1.0 + excess[idx]), im)
        margin_q[idx] = np.where(cross[idx], np.nan, im)
        wallet[idx] = np.where(cross[idx], eff, 0.0)
        liq[idx] = margin.liquidation_price(v.rules, side[idx], size[idx], entry[idx], eff)
        bkr[idx] = margin.bankruptcy_price(v.rules, side[idx], size[idx], entry[idx], eff)

    p0 = np.array([v.initial_price for v in venues])[venue_code]
    with np.errstate(invalid="ignore"):
        gone = ((side == 1) & (liq >= p0)) | ((side == -1) & (liq <= p0))
    keep = ~gone
    account = np.arange(n, dtype=np.int64)
    sym_names = tuple(dict.fromkeys(v.symbol for v in venues))
    sym_of_venue = np.array([sym_names.index(v.symbol) for v in venues], dtype=np.int16)
    coll = {
        int(a): float(w) for a, w in zip(account[keep & cross], wallet[keep & cross], strict=True)
    }
    book = PositionBook(
        account_id=account[keep],
        venue_code=venue_code[keep],
        symbol_code=sym_of_venue[venue_code[keep]],
        venues=tuple(v.name for v in venues),
        symbols=sym_names,
        side=side[keep],
        size_base=size[keep],
        entry_price=entry[keep],
        margin_mode=cross[keep].astype(np.int8),
        margin_quote=margin_q[keep],
        leverage=lev[keep],
        liquidation_price=liq[keep],
        bankruptcy_price=bkr[keep],
        segment=seg[keep],
        account_collateral_quote=coll,
        source=f"synthetic(seed={seed}, n={cfg.n_positions})",
    )
    report = PopulationReport(
        seed=int(seed),
        requested=n,
        kept=int(keep.sum()),
        dropped_already_liquidated=int(gone.sum()),
        capped_leverage=capped,
        last_close=last_close,
    )
    logger.info("synthetic population: %s", report)
    return book, report
