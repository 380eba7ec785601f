"""Forecasts for traders from the calibrated market model (book and liquidity state included).

:func:`liquidation_probability` answers "what is the chance my liquidation price is touched
within the horizon?" with the calibrated ensemble of :mod:`liqcascade.market`, started from the
last bar of a kline tape: its volatility state, transient impact, flow and the position book
the tape implies. The same question under GBM and Merton jump-diffusion is
:func:`liqcascade.risk.prob_liquidation`; :func:`compare_models` puts the three side by side
(GBM and Merton fitted to the same kline file), as ``liqcascade risk prob --model ensemble``
prints them and the risk page draws them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

import numpy as np

from liqcascade.data.klines import Tape, read_klines
from liqcascade.errors import InputError
from liqcascade.jsonutil import AsDict, frame_schema
from liqcascade.market import ParamsFile, load_params

if TYPE_CHECKING:
    import polars as pl

    from liqcascade.risk import LiquidationProbability

__all__ = [
    "ComparisonRow",
    "EnsembleProbability",
    "ModelComparison",
    "compare_models",
    "liquidation_probability",
]

_MAX_MINUTES = 30 * 1440


@dataclass(frozen=True)
class EnsembleProbability(AsDict):
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

    def to_polars(self) -> pl.DataFrame:
        """One row per ensemble variant: ``variant`` (``book`` or ``impact_only``),
        ``probability`` and ``standard_error`` (binomial, ``sqrt(p(1-p)/n_paths)``)."""
        import polars as pl

        p = (self.probability, self.probability_impact_only)
        return pl.DataFrame(
            {
                "variant": ["book", "impact_only"],
                "probability": list(p),
                "standard_error": [_binomial_se(x, self.n_paths) for x in p],
            }
        )

    def plot(self) -> Any:
        """Bar chart of P(touch) with and without the book (error bars: one standard error)."""
        from liqcascade import plotting

        go = plotting.graph_objects("EnsembleProbability.plot")
        df = self.to_polars()
        fig = go.Figure(
            go.Bar(
                x=["with the position book", "impact only (no book)"],
                y=df["probability"].to_list(),
                error_y={"type": "data", "array": df["standard_error"].to_list()},
                name="P(liquidation)",
            )
        )
        return plotting.styled(
            fig,
            f"P(liquidation) within {self.horizon_minutes} min, calibrated ensemble "
            f"({self.n_paths} paths, seed {self.seed})",
            yaxis={"title": {"text": "probability"}, "tickformat": ".1%"},
        )


def _binomial_se(p: float, n: int) -> float:
    """Standard error of a proportion ``p`` over ``n`` paths (floored so p = 0 is not 0)."""
    return math.sqrt(max(p * (1 - p), 1e-12) / n)


#: (model key, label) of each row of :class:`ModelComparison`, in order.
COMPARISON_MODELS: tuple[tuple[str, str], ...] = (
    ("ensemble", "calibrated ensemble (book + liquidity state)"),
    ("ensemble_impact_only", "ensemble, impact only (no book)"),
    ("gbm", "GBM, vol fitted to the klines"),
    ("jump", "Merton jump-diffusion"),
)


class ComparisonRow(TypedDict):
    """One model of :meth:`ModelComparison.rows`."""

    model: str
    label: str
    probability: float
    standard_error: float | None
    """``None`` for closed-form GBM."""
    vol_annual: float | None
    """``None`` for the ensemble."""


@dataclass(frozen=True)
class ModelComparison:
    """P(liquidation) of one position by the calibrated ensemble, GBM and Merton, the last two
    fitted to the same kline file (:func:`compare_models`)."""

    ensemble: EnsembleProbability
    gbm: LiquidationProbability
    merton: LiquidationProbability
    klines_file: str
    horizon_days: float

    def rows(self) -> list[ComparisonRow]:
        """One dict per model: ``model``, ``label``, ``probability``, ``standard_error``
        (``None`` for closed-form GBM), ``vol_annual`` (``None`` for the ensemble)."""
        e = self.ensemble
        values = (
            (e.probability, e.stderr, None),
            (e.probability_impact_only, _binomial_se(e.probability_impact_only, e.n_paths), None),
            (self.gbm.probability, self.gbm.standard_error, self.gbm.vol_annual),
            (self.merton.probability, self.merton.standard_error, self.merton.vol_annual),
        )
        return [
            ComparisonRow(model=key, label=label, probability=p, standard_error=se, vol_annual=vol)
            for (key, label), (p, se, vol) in zip(COMPARISON_MODELS, values, strict=True)
        ]

    def to_polars(self) -> pl.DataFrame:
        """:meth:`rows` as a DataFrame (columns ``model``, ``label``, ``probability``,
        ``standard_error``, ``vol_annual``)."""
        import polars as pl

        return pl.DataFrame(self.rows(), schema=frame_schema(ComparisonRow))

    def as_dict(self) -> dict[str, Any]:
        return {
            "ensemble": {**self.ensemble.as_dict(), "klines_file": self.klines_file},
            "gbm": self.gbm.as_dict(),
            "merton": self.merton.as_dict(),
            "rows": self.rows(),
        }

    def plot(self) -> Any:
        """Bar chart of P(liquidation) model by model (error bars: one standard error where the
        model is simulated)."""
        from liqcascade import plotting

        go = plotting.graph_objects("ModelComparison.plot")
        rows = self.rows()
        fig = go.Figure(
            go.Bar(
                x=[r["label"] for r in rows],
                y=[r["probability"] for r in rows],
                error_y={
                    "type": "data",
                    "array": [r["standard_error"] or 0.0 for r in rows],
                },
                text=[f"{100 * r['probability']:.2f}%" for r in rows],
                textposition="auto",
                name="P(liquidation)",
            )
        )
        return plotting.styled(
            fig,
            f"P(liquidation) within {self.horizon_days:g} days, model by model "
            f"({self.klines_file})",
            xaxis={"automargin": True},
            yaxis={"title": {"text": "probability"}, "tickformat": ".1%"},
        )


def compare_models(
    klines: str | Path,
    price: float,
    liq_price: float,
    side: int | str,
    horizon_days: float,
    *,
    params: str | Path | ParamsFile | None = None,
    db: str | Path | None = None,
    ensemble_paths: int = 2000,
    jump_paths: int | None = None,
    seed: int = 20251010,
) -> ModelComparison:
    """P(liquidation) within ``horizon_days`` by the calibrated ensemble
    (:func:`liquidation_probability`, started from the last bar of the 1m kline file
    ``klines``) beside GBM and Merton jump-diffusion fitted to the same file
    (:func:`liqcascade.risk.fit_from_klines`, :func:`liqcascade.risk.prob_liquidation`).

    The ensemble's horizon is ``horizon_days`` in whole minutes; ``ensemble_paths`` ensemble
    paths and ``jump_paths`` Merton paths (default: the risk tools' default) share ``seed``.
    """
    from liqcascade import risk

    minutes = round(float(horizon_days) * 1440)
    if not (1 <= minutes <= _MAX_MINUTES):
        raise InputError(
            f"horizon_days={horizon_days!r}: expected 1 minute to {_MAX_MINUTES // 1440} days "
            "for the calibrated ensemble"
        )
    path = Path(klines)
    ens = liquidation_probability(
        path,
        price,
        liq_price,
        side,
        minutes,
        params=params,
        db=db,
        n_paths=ensemble_paths,
        seed=seed,
    )
    gbm_fit = risk.fit_from_klines(path, jumps=False)
    gbm = risk.prob_liquidation(
        price, liq_price, side, gbm_fit.model.vol_annual, horizon_days, model="gbm"
    )
    fit = risk.fit_from_klines(path, jumps=True)
    merton = risk.prob_liquidation(
        price,
        liq_price,
        side,
        fit.model.vol_annual,
        horizon_days,
        model="jump",
        jump_intensity_annual=fit.model.jump_intensity_annual,
        jump_mean_log=fit.model.jump_mean_log,
        jump_std_log=fit.model.jump_std_log,
        n_paths=risk.DEFAULT_N_PATHS if jump_paths is None else int(jump_paths),
        seed=seed,
    )
    return ModelComparison(
        ensemble=ens,
        gbm=gbm,
        merton=merton,
        klines_file=path.name,
        horizon_days=float(horizon_days),
    )


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
        stderr=_binomial_se(p, n_paths),
        price=float(price),
        liq_price=float(liq_price),
        side=sd,
        horizon_minutes=hz,
        n_paths=n_paths,
        seed=seed,
        state_time=mt.tape.iso(origin),
    )
