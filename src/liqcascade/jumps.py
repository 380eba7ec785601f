"""The one estimator of Merton jump-diffusion parameters from log-returns (threshold method).

Used by :func:`liqcascade.risk.fit_from_klines` (risk tools) and by the ``jump_diffusion``
shock of :mod:`liqcascade.scenarios.shocks`, so both fit the same numbers to the same bars.

Method (threshold jump detection, Mancini 2009): a log-return is a jump when it lies more than
``threshold_sigmas`` robust standard deviations (1.4826 x MAD of the returns not yet flagged)
from their median; the filter is repeated until the set of jumps no longer changes. The
diffusion volatility is the standard deviation of the other returns; the jump intensity is the
number of jumps over the time covered; a jump's size is its return less the median (the
diffusive part of the bar), and the jump law is the mean and standard deviation of the sizes.
The drift is not estimated (days of data say nothing about it).

Units: volatilities annualised over a 365-day year, intensity in jumps per year (per day
through :attr:`JumpFit.jump_intensity_per_day`), jump sizes in log-price.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from liqcascade.errors import DataError, InputError

#: Seconds in a 365-day year (crypto trades every day).
SECONDS_PER_YEAR = 365.0 * 86400.0
#: Fewest returns the estimator accepts.
MIN_RETURNS = 30
#: Most passes of the jump filter before it stops (it is usually stable after 2-4).
MAX_FILTER_PASSES = 20

__all__ = ["MIN_RETURNS", "SECONDS_PER_YEAR", "JumpFit", "fit_threshold_jumps"]


@dataclass(frozen=True)
class JumpFit:
    """Merton parameters fitted to ``n_returns`` log-returns of ``bar_seconds`` each."""

    vol_annual: float
    jump_intensity_per_year: float
    jump_mean_log: float
    jump_std_log: float
    realised_vol_annual: float
    n_returns: int
    n_jumps: int
    bar_seconds: float
    threshold_sigmas: float

    @property
    def jump_intensity_per_day(self) -> float:
        """Expected number of jumps per day (``jump_intensity_per_year / 365``)."""
        return self.jump_intensity_per_year * 86400.0 / SECONDS_PER_YEAR


def _flag_jumps(r: np.ndarray, threshold_sigmas: float) -> tuple[np.ndarray, float]:
    """Iterated threshold filter: the jump mask and the median of the diffusive returns."""
    jumps = np.zeros(r.size, dtype=bool)
    med = float(np.median(r))
    for _ in range(MAX_FILTER_PASSES):
        base = r[~jumps]
        med = float(np.median(base))
        scale = 1.4826 * float(np.median(np.abs(base - med)))
        if scale <= 0.0:  # more than half the bars unchanged: fall back to the plain deviation
            scale = float(np.std(base, ddof=1))
        if scale <= 0.0:
            return np.zeros(r.size, dtype=bool), med
        new = np.abs(r - med) > threshold_sigmas * scale
        if np.array_equal(new, jumps):
            break
        jumps = new
    return jumps, med


def fit_threshold_jumps(
    returns: np.ndarray,
    bar_seconds: float,
    *,
    threshold_sigmas: float = 4.0,
    jumps: bool = True,
    source: str = "returns",
) -> JumpFit:
    """Fit diffusion volatility and Merton jumps to log-returns of ``bar_seconds`` each.

    With ``jumps=False`` no return is a jump: the volatility is the realised volatility.
    ``source`` names the data in error messages.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> r = 0.5 * math.sqrt(60 / SECONDS_PER_YEAR) * rng.standard_normal(50_000)
    >>> r[::1000] -= 0.02  # 50 crashes of 2% in 50,000 one-minute bars (34.7 days)
    >>> f = fit_threshold_jumps(r, 60.0, threshold_sigmas=5.0)
    >>> f.n_jumps, round(f.vol_annual, 2), round(f.jump_mean_log, 3)
    (50, 0.5, -0.02)
    >>> round(f.jump_intensity_per_day, 2), round(f.jump_intensity_per_year, 1)
    (1.44, 525.6)
    """
    r = np.asarray(returns, dtype=np.float64)
    if not (math.isfinite(bar_seconds) and bar_seconds > 0.0):
        raise InputError(f"bar_seconds={bar_seconds!r}: expected a finite number > 0")
    if not (math.isfinite(threshold_sigmas) and threshold_sigmas > 0.0):
        raise InputError(f"threshold_sigmas={threshold_sigmas!r}: expected a finite number > 0")
    if r.size < MIN_RETURNS:
        raise DataError(
            f"{source}: {r.size} returns; expected at least {MIN_RETURNS} to fit a volatility"
        )
    if not np.all(np.isfinite(r)):
        raise DataError(f"{source}: returns must be finite (a price <= 0 or missing?)")
    dt_years = bar_seconds / SECONDS_PER_YEAR
    if jumps:
        is_jump, med = _flag_jumps(r, threshold_sigmas)
    else:
        is_jump, med = np.zeros(r.size, dtype=bool), float(np.median(r))
    n_jumps = int(is_jump.sum())
    sizes = r[is_jump] - med
    return JumpFit(
        vol_annual=float(np.std(r[~is_jump], ddof=1) / math.sqrt(dt_years)),
        jump_intensity_per_year=n_jumps / (r.size * dt_years),
        jump_mean_log=float(sizes.mean()) if n_jumps else 0.0,
        jump_std_log=float(sizes.std(ddof=1)) if n_jumps > 1 else 0.0,
        realised_vol_annual=float(np.std(r, ddof=1) / math.sqrt(dt_years)),
        n_returns=int(r.size),
        n_jumps=n_jumps,
        bar_seconds=float(bar_seconds),
        threshold_sigmas=float(threshold_sigmas),
    )
