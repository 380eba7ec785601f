"""Behaviour rules: small, documented, switchable rules that act on the cascade each step.

The stress engine (:mod:`liqcascade.scenarios.cascade`) applies them as transformations of its
per-step inputs (depth, resting bids, positions, flow routing), so each one is a pure function
here, with its parameters in the scenario's ``[behaviours.*]`` tables (docs/stress.md):

* **retail_deleverage** -- while the realised volatility is above ``vol_threshold_annual``,
  retail close ``cut_fraction_per_step`` of their open size each step (at market: the volume
  hits the book like forced flow; the rest keeps its liquidation price, i.e. margin is
  withdrawn in proportion and leverage is unchanged);
* **dip_buying** -- institutions rest extra bids at fixed levels below the pre-shock price;
* **mm_withdrawal** -- market makers scale depth down as volatility rises, to ``depth_floor``;
* **arbitrage** -- a fraction ``linkage`` of each venue's net forced flow is carried to all
  venues in proportion to their depth.

Volatility is an EWMA of squared step log returns of the share-weighted mean price (relative to
the initial prices), with decay ``lambda = 0.5 ** (step_s / halflife_s)``, annualised on a
365-day year. Behaviours react to the volatility observed up to the previous step (they cannot
see the current step's cascade), so for a single instant jump only dip bids and arbitrage act.

The rules are numba functions (each is also callable from Python: the same code).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from liqcascade.scenarios import schema as S
from liqcascade.scenarios.shocks import YEAR_S

__all__ = [
    "BehaviourParams",
    "ewma_lambda",
    "ewma_update",
    "annualised_vol",
    "retail_keep_factor",
    "mm_depth_scale",
    "route_flows",
    "pack_behaviours",
]


@njit(cache=True)
def ewma_update(var: float, log_return: float, lam: float) -> float:
    """EWMA variance: ``lam * var + (1 - lam) * r^2`` (per step)."""
    return lam * var + (1.0 - lam) * log_return * log_return


@njit(cache=True)
def annualised_vol(var_per_step: float, step_s: float) -> float:
    """``sqrt(var / step_s * YEAR_S)`` (fraction per sqrt(year))."""
    if step_s <= 0.0:
        return 0.0
    return math.sqrt(var_per_step / step_s * YEAR_S)


def ewma_lambda(step_s: float, halflife_s: float) -> float:
    """Decay per step for a half-life in seconds: ``0.5 ** (step_s / halflife_s)``."""
    return 0.5 ** (step_s / halflife_s)


@njit(cache=True)
def retail_keep_factor(vol_annual: float, threshold_annual: float, cut_fraction: float) -> float:
    """Fraction of retail open size kept this step: ``1 - cut`` above the threshold, else 1."""
    if vol_annual > threshold_annual:
        return 1.0 - cut_fraction
    return 1.0


@njit(cache=True)
def mm_depth_scale(vol_annual: float, vol_low: float, vol_high: float, depth_floor: float) -> float:
    """Depth multiplier ``1 - (1 - floor) * clip((vol - low) / (high - low), 0, 1)``."""
    z = (vol_annual - vol_low) / (vol_high - vol_low)
    if z < 0.0:
        z = 0.0
    elif z > 1.0:
        z = 1.0
    return 1.0 - (1.0 - depth_floor) * z


@njit(cache=True)
def route_flows(net_flow: np.ndarray, weight: np.ndarray, linkage: float, out: np.ndarray) -> None:
    """Arbitrage routing: ``out_v = (1 - a) * net_v + a * w_v * sum(net)`` (base units).

    ``weight`` sums to 1 (depth shares); conserves total flow: ``sum(out) = sum(net)``.
    """
    total = 0.0
    for v in range(net_flow.shape[0]):
        total += net_flow[v]
    for v in range(net_flow.shape[0]):
        out[v] = (1.0 - linkage) * net_flow[v] + linkage * weight[v] * total


@dataclass(frozen=True)
class BehaviourParams:
    """Behaviour parameters packed for the kernel (a float64 vector; see :func:`pack_behaviours`)."""

    vector: np.ndarray
    dip_levels: tuple[float, ...]
    dip_notional_quote: tuple[float, ...]
    active: tuple[str, ...]


# index of each parameter in BehaviourParams.vector
B_RETAIL_ON, B_RETAIL_THR, B_RETAIL_CUT, B_RETAIL_LAM = 0, 1, 2, 3
B_MM_ON, B_MM_LO, B_MM_HI, B_MM_FLOOR, B_MM_LAM = 4, 5, 6, 7, 8
B_ARB_ON, B_ARB_LINK = 9, 10
B_DIP_ON = 11
B_SIZE = 12

#: Where each table's parameters go in the vector: the table, the index of its on-flag, the
#: (index, field) of each parameter copied as is, and the index of its EWMA decay per step
#: (from ``halflife_s``) where it has one. Dip buying's levels travel outside the vector.
_LAYOUT: tuple[tuple[str, int, tuple[tuple[int, str], ...], int | None], ...] = (
    (
        "retail_deleverage",
        B_RETAIL_ON,
        ((B_RETAIL_THR, "vol_threshold_annual"), (B_RETAIL_CUT, "cut_fraction_per_step")),
        B_RETAIL_LAM,
    ),
    (
        "mm_withdrawal",
        B_MM_ON,
        ((B_MM_LO, "vol_low_annual"), (B_MM_HI, "vol_high_annual"), (B_MM_FLOOR, "depth_floor")),
        B_MM_LAM,
    ),
    ("arbitrage", B_ARB_ON, ((B_ARB_LINK, "linkage"),), None),
)


def pack_behaviours(cfg: S.Behaviours, step_s: float) -> BehaviourParams:
    """Turn the ``[behaviours]`` tables into the kernel's parameter vector.

    ``step_s`` sets the EWMA decay per step (a jump uses 60 s).
    """
    vec = np.zeros(B_SIZE)
    step = step_s if step_s > 0 else 60.0
    for table, on, fields, lam in _LAYOUT:
        b = getattr(cfg, table)
        if b is None or not b.enabled:
            continue
        vec[on] = 1.0
        for i, name in fields:
            vec[i] = getattr(b, name)
        if lam is not None:
            vec[lam] = ewma_lambda(step, b.halflife_s)
    d = cfg.dip_buying
    levels: tuple[float, ...] = ()
    notionals: tuple[float, ...] = ()
    if d is not None and d.enabled:
        vec[B_DIP_ON] = 1.0
        levels = tuple(d.levels)
        notionals = tuple(d.notional_quote)
    return BehaviourParams(vec, levels, notionals, tuple(cfg.active()))
