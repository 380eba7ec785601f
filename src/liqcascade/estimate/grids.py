"""The liquidation map's book on the market model's log-price grid, bar by bar (rolling
forecasts and ensembles): the same cohort method as :func:`~liqcascade.estimate.estimate_map`,
restricted to what the tape holds."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit

from liqcascade.estimate.priors import LeveragePrior, _load_rules, capped_leverage, load_prior


def liquidation_ratios(
    prior: LeveragePrior, rules: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Liquidation price / entry price per leverage level of a prior, for longs and shorts.

    The venue's isolated-margin liquidation price (``liqcascade.margin.liquidation_price``) of a
    position of the prior's representative notional with margin = notional / leverage (the same
    cohort rule as :func:`estimate_map`); the ratio does not depend on the entry price because
    the representative notional fixes the tier. Returns (long_ratio, short_ratio, weights) after
    :func:`capped_leverage`.
    """
    from liqcascade import margin

    lev, w, _ = capped_leverage(prior, rules)
    rep = prior.representative_notional_quote
    entry = np.full(lev.shape, 100_000.0)
    out = []
    for side in (1, -1):
        lp = margin.liquidation_price(
            rules, np.full(lev.shape, side, dtype=np.int8), rep / entry, entry, rep / lev
        )
        out.append(np.asarray(lp, dtype=float) / entry)
    return out[0], out[1], w


@dataclass(frozen=True)
class GridPrior:
    """Two leverage priors on one level set, ready for :func:`book_grids`."""

    ratio_long: np.ndarray  # (2, L) liquidation / entry for longs, per prior
    ratio_short: np.ndarray
    weight: np.ndarray  # (2, L)
    open_fraction: float
    half_life_min: float
    names: tuple[str, str]


def grid_prior(venue: str, symbol: str, names: tuple[str, str] = ("default", "high")) -> GridPrior:
    """Load two shipped leverage priors and their liquidation ratios for a venue and symbol."""
    rules = _load_rules(venue, symbol)
    priors = [load_prior(n, venue=venue) for n in names]
    rl, rs, ws = zip(*(liquidation_ratios(p, rules) for p in priors), strict=True)
    size = max(len(r) for r in rl)

    def pad(a: tuple[np.ndarray, ...], fill: float) -> np.ndarray:
        return np.array([np.pad(x, (0, size - len(x)), constant_values=fill) for x in a])

    return GridPrior(
        ratio_long=pad(rl, 0.0),
        ratio_short=pad(rs, np.inf),
        weight=pad(ws, 0.0),
        open_fraction=priors[0].open_fraction,
        half_life_min=priors[0].half_life_hours * 60.0,
        names=(priors[0].name, priors[1].name),
    )


_OLD_Z = np.array([-2.0 + 4.0 * (i + 0.5) / 41 for i in range(41)])
_OLD_W = np.exp(-0.5 * _OLD_Z**2) / np.exp(-0.5 * _OLD_Z**2).sum()


def book_grids(
    typical: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    volume_base: np.ndarray,
    taker_buy_base: np.ndarray,
    close: np.ndarray,
    t: int,
    gp: GridPrior,
    oi_base: float,
    lookback: int,
    old_entry_log_sd: float,
    bin_log: float,
    n_bins: int,
) -> np.ndarray:
    """Cumulative liquidation size (base units) on a log-price grid at the close of bar ``t``.

    The same cohort method as :func:`estimate_map`, restricted to what the tape holds: bar j
    (``t - lookback <= j <= t``) opens ``open_fraction`` of its volume (taker buys open longs,
    taker sells shorts) at its typical price, spread over the prior's leverage levels, decayed
    with the prior's half-life, alive while no later low (high) crossed its liquidation price.
    The rest of the open interest ``oi_base`` per side was opened before the tape: entries
    lognormal around the first bar's price with ``old_entry_log_sd``, alive if their
    liquidation price lies beyond every low (high) the tape holds. Only bars ``<= t`` are read.

    Returns an array (4, n_bins + 1): cumulative long size below ``close[t]`` under prior 0 and
    prior 1, then short size above, by bin of width ``bin_log`` in log distance.
    """
    j0 = max(0, t - lookback)
    return _grids_kernel(
        typical, low, high, volume_base, taker_buy_base, float(close[t]), j0, t,
        gp.ratio_long, gp.ratio_short, gp.weight, gp.open_fraction, gp.half_life_min,
        float(oi_base), old_entry_log_sd, bin_log, n_bins, _OLD_Z, _OLD_W,
    )  # fmt: skip


@njit(cache=True, nogil=True)
def _grids_kernel(  # pragma: no cover - numba
    typ, low, high, vol, tb, c, j0, t, rl, rs, w, of, hl, oi, sd_old, g, nb, oz, ow
):
    out = np.zeros((4, nb + 1))
    dens = np.zeros((4, nb))
    recent = np.zeros((2, 2))  # [prior, side] alive recent size
    run_lo = np.inf
    run_hi = 0.0
    nl = rl.shape[1]
    for j in range(t, j0 - 1, -1):
        # survival uses bars after j (j+1..t)
        decay = 0.5 ** ((t - j) / hl)
        sl = of * tb[j] * decay
        ss = of * (vol[j] - tb[j]) * decay
        for pr in range(2):
            for li in range(nl):
                wt = w[pr, li]
                if wt <= 0.0:
                    continue
                liq = typ[j] * rl[pr, li]
                if liq > 0.0 and liq < run_lo and liq < c:
                    d = -math.log(liq / c)
                    k = int(d / g)
                    if k < nb:
                        dens[pr, k] += sl * wt
                    recent[pr, 0] += sl * wt
                liq = typ[j] * rs[pr, li]
                if liq > run_hi and liq > c and liq < np.inf:
                    d = math.log(liq / c)
                    k = int(d / g)
                    if k < nb:
                        dens[2 + pr, k] += ss * wt
                    recent[pr, 1] += ss * wt
        run_lo = min(run_lo, low[j])
        run_hi = max(run_hi, high[j])
    # positions opened before the tape
    p_old = typ[j0]
    for pr in range(2):
        od = np.zeros((2, nb))
        tot = np.zeros(2)
        for zi in range(oz.size):
            e = p_old * math.exp(sd_old * oz[zi])
            for li in range(nl):
                wt = w[pr, li] * ow[zi]
                if wt <= 0.0:
                    continue
                liq = e * rl[pr, li]
                if liq > 0.0 and liq < run_lo and liq < c:
                    k = int(-math.log(liq / c) / g)
                    if k < nb:
                        od[0, k] += wt
                    tot[0] += wt
                liq = e * rs[pr, li]
                if liq > run_hi and liq > c and liq < np.inf:
                    k = int(math.log(liq / c) / g)
                    if k < nb:
                        od[1, k] += wt
                    tot[1] += wt
        for sd in range(2):
            mass = max(oi - recent[pr, sd], 0.0)
            if tot[sd] > 0.0:
                for k in range(nb):
                    dens[2 * sd + pr, k] += mass * od[sd, k] / tot[sd]
    for r in range(4):
        acc = 0.0
        for k in range(nb):
            out[r, k] = acc
            acc += dens[r, k]
        out[r, nb] = acc
    return out
