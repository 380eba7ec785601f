"""Forecasts for traders from the calibrated market model (book and liquidity state included).

:func:`liquidation_probability` answers "what is the chance my liquidation price is touched
within the horizon?" with the calibrated ensemble of :mod:`liqcascade.market`, started from the
last bar of a kline tape: its volatility state, transient impact, flow and the position book
the tape implies. The same question under GBM and Merton jump-diffusion is
:func:`liqcascade.risk.prob_liquidation`; ``liqcascade risk prob --model ensemble`` prints them
side by side.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from liqcascade.data.klines import Tape, read_klines
from liqcascade.errors import InputError
from liqcascade.market import ParamsFile, load_params

__all__ = ["EnsembleProbability", "liquidation_probability"]

_MAX_MINUTES = 30 * 1440


@dataclass(frozen=True)
class EnsembleProbability:
    """P(touch) by the calibrated ensemble, with and without the position book."""

    probability: float
    probability_impact_only: float
    stderr: float
    price: float
    liq_price: float
    side: int
    horizon_minutes: int
    n_paths: int
    seed: int
    state_time: str
    model: str = "ensemble"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def liquidation_probability(
    klines: str | Path | Tape,
    price: float,
    liq_price: float,
    side: int | str,
    horizon_minutes: int,
    *,
    params: str | Path | ParamsFile | None = None,
    db: str | Path | None = None,
    n_paths: int = 2000,
    seed: int = 20251010,
) -> EnsembleProbability:
    """Probability that the price touches ``liq_price`` within ``horizon_minutes``.

    The ensemble starts at the close of the tape's last bar; the barrier is placed at the same
    log distance from that close as ``liq_price`` is from ``price`` (so ``price`` may be a
    current mark that differs slightly from the tape's last close). A long is hit when a path's
    bar low reaches the barrier, a short when a bar high does.
    """
    from liqcascade import validate as v
    from liqcascade.market import draw_ensemble
    from liqcascade.risk import parse_side

    sd = parse_side(side)
    if not (price > 0 and liq_price > 0):
        raise InputError(f"price={price!r}, liq_price={liq_price!r}: expected positive prices")
    if (sd == 1 and liq_price >= price) or (sd == -1 and liq_price <= price):
        raise InputError(
            f"liq_price={liq_price:g} is on the wrong side of price={price:g} for a "
            f"{'long' if sd == 1 else 'short'}"
        )
    if not (1 <= int(horizon_minutes) <= _MAX_MINUTES):
        raise InputError(f"horizon_minutes={horizon_minutes!r}: expected 1..{_MAX_MINUTES}")
    tape = klines if isinstance(klines, Tape) else read_klines(klines)
    pf = params if isinstance(params, ParamsFile) else load_params(params)
    mt = v.prepare(tape, pf, db)
    origin = len(mt.tape) - 1
    hz = int(horizon_minutes)
    draws = draw_ensemble(pf, n_paths, hz, seed)
    barrier = math.log(liq_price / price)
    out = []
    for book in (True, False):
        ens = mt.ensemble(origin, draws, book=book)
        ext = ens.low.min(axis=1) if sd == 1 else ens.high.max(axis=1)
        x = np.log(ext / ens.origin_close)
        out.append(float(np.mean(x <= barrier if sd == 1 else x >= barrier)))
    p = out[0]
    return EnsembleProbability(
        probability=p,
        probability_impact_only=out[1],
        stderr=math.sqrt(max(p * (1 - p), 1e-12) / n_paths),
        price=float(price),
        liq_price=float(liq_price),
        side=sd,
        horizon_minutes=hz,
        n_paths=n_paths,
        seed=seed,
        state_time=mt.tape.iso(origin),
    )
