"""A replay run of one day: the engine run with fitted (or given) parameters and its comparison,
metric by metric, with what happened and with the reported figures of the event file."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from liqcascade.estimate import LiquidationMap
from liqcascade.replay.engine_run import ModelPath, ReplayParams, cohort_positions
from liqcascade.replay.events import _MS_MIN, Event
from liqcascade.replay.fit import _prepare, fit_replay, simulate_event
from liqcascade.replay.frames import MarketFrames, Observed
from liqcascade.timeutil import ms_to_iso


@dataclass
class ReplayResult:
    """Everything a replay produced; ``table`` is the model-versus-observed comparison."""

    event: Event
    symbol: str
    params: ReplayParams
    fitted: bool
    fit_info: dict[str, Any]
    liq_map: LiquidationMap
    observed: Observed
    model: ModelPath
    table: pl.DataFrame
    inputs: dict[str, Any]
    report_path: str = ""
    market_model: dict[str, Any] | None = None
    sensitivity: list[dict[str, Any]] | None = None

    def summary(self) -> dict[str, Any]:
        """JSON-friendly summary (inputs, parameters, comparison rows)."""
        return {
            "date": self.event.date,
            "symbol": self.symbol,
            "params": asdict(self.params),
            "fitted": self.fitted,
            "fit": self.fit_info,
            "inputs": self.inputs,
            "table": self.table.to_dicts(),
            "report": self.report_path,
            "model": self.market_model,
            "sensitivity": self.sensitivity,
        }

    def to_polars(self) -> pl.DataFrame:
        """The model-versus-observed comparison: one row per metric (``metric``, ``model``,
        ``observed``, ``error``, ``unit``, ``source`` and the text columns)."""
        return self.table

    def plot(self) -> Any:
        """Model and observed price paths and depth (plotly figure, the report's chart)."""
        from liqcascade.replay.report import replay_figure

        return replay_figure(result=self)


def _model_metrics(model: ModelPath, depth_pre: float | None) -> dict[str, float]:
    i = int(np.argmin(model.price))
    return {
        "low": float(model.price[i]),
        "low_time_ms": int(model.time_ms[i]),
        "end": float(model.price[-1]),
        "depth_decline": float(model.depth_factor.min() - 1.0),
        "liq_long": float(model.liq_long_quote.sum()),
        "liq_short": float(model.liq_short_quote.sum()),
    }


def _row(
    metric: str, model: float | None, observed: float | None, unit: str, error: str, source: str
) -> dict[str, Any]:
    return {
        "metric": metric,
        "model": model,
        "observed": observed,
        "unit": unit,
        "error": error,
        "source": source,
    }


def _price_rows(mm: dict[str, float], obs: Observed, kl: str) -> list[dict[str, Any]]:
    """Pre-shock price, low, time of the low, drop and end price: model against the klines."""
    rows = [
        _row(
            "pre-shock price",
            obs.pre_price,
            obs.pre_price,
            "quote",
            "input",
            kl + " (close before the news minute)",
        ),
        _row(
            "price low",
            mm["low"],
            obs.low_price,
            "quote",
            f"{mm['low'] / obs.low_price - 1:+.2%}",
            kl,
        ),
        _row(
            "time of low",
            None,
            None,
            "UTC",
            f"{(mm['low_time_ms'] - obs.low_time_ms) / _MS_MIN:+.1f} min",
            kl + " (1-minute resolution)",
        ),
        _row(
            "drop to low",
            mm["low"] / obs.pre_price - 1,
            obs.drop_frac,
            "fraction",
            f"{(mm['low'] / obs.pre_price - 1) - obs.drop_frac:+.2%} pts",
            kl,
        ),
        _row(
            "price at window end",
            mm["end"],
            obs.end_price,
            "quote",
            f"{mm['end'] / obs.end_price - 1:+.2%}",
            kl,
        ),
    ]
    rows[2]["model_text"] = ms_to_iso(int(mm["low_time_ms"]))[11:]
    rows[2]["observed_text"] = ms_to_iso(obs.low_time_ms)[11:]
    return rows


def _depth_row(
    mm: dict[str, float], obs: Observed, event: Event, frames: MarketFrames
) -> dict[str, Any]:
    """Depth decline within 1%: model against the bookDepth ask side (when observed)."""
    dd = obs.depth_decline_frac
    return _row(
        "depth decline within 1%",
        mm["depth_decline"],
        dd,
        "fraction",
        f"{mm['depth_decline'] - dd:+.2%} pts" if dd is not None else "no bookDepth",
        f"{Path(frames.source).name}: bookDepth ask side +1% (mean of {event.pre_minutes} min before the news vs minimum in the window)"
        if dd is not None
        else "not observed on this day",
    )


def _liquidation_rows(mm: dict[str, float], obs: Observed) -> list[dict[str, Any]]:
    """Liquidated notional per side, and the model against each reported total of the event."""
    total = mm["liq_long"] + mm["liq_short"]
    rows = [
        _row("liquidated notional, longs", mm["liq_long"], None, "quote", "", "model"),
        _row("liquidated notional, shorts", mm["liq_short"], None, "quote", "", "model"),
    ]
    for rep in obs.reported:
        if rep["quantity"] == "liquidated_notional_quote":
            ratio_txt = f"model/reported {total / float(rep['value']):.2f}"
            if rep.get("comparable") == "upper_bound":
                ratio_txt += " (upper bound)"
            elif rep.get("comparable") == "context":
                ratio_txt += " (other scope)"
            rows.append(
                _row(
                    f"liquidated vs {rep.get('label', rep['scope'])}",
                    total,
                    float(rep["value"]),
                    "quote",
                    ratio_txt,
                    f"{rep['scope']}: {rep['source']} [{rep['reliability']}]",
                )
            )
        elif rep["quantity"] == "long_share_of_liquidations":
            share = mm["liq_long"] / total if total > 0 else float("nan")
            rows.append(
                _row(
                    f"long share vs {rep.get('label', rep['scope'])}",
                    share,
                    float(rep["value"]),
                    "fraction",
                    f"{share - float(rep['value']):+.2%} pts",
                    f"{rep['scope']}: {rep['source']} [{rep['reliability']}]",
                )
            )
    return rows


def _comparison_table(
    mm: dict[str, float], obs: Observed, event: Event, frames: MarketFrames, symbol: str
) -> pl.DataFrame:
    """The model-versus-observed table (metric, model, observed, unit, error, source)."""
    kl = f"{Path(frames.source).name}: {symbol} 1m klines"
    rows = _price_rows(mm, obs, kl)
    rows.append(_depth_row(mm, obs, event, frames))
    rows.extend(_liquidation_rows(mm, obs))
    return pl.DataFrame(
        rows,
        schema_overrides={"model": pl.Float64, "observed": pl.Float64},
        infer_schema_length=None,
    )


def run_replay(
    frames: MarketFrames,
    event: Event,
    symbol: str | None = None,
    *,
    params: ReplayParams | None = None,
    fit_info: dict[str, Any] | None = None,
    prior: Any = "default",
    open_interest_base: float | None = None,
    lookback_hours: float = 168.0,
    max_evals: int = 80,
) -> ReplayResult:
    """Replay ``event`` for ``symbol`` with ``params`` (default: fit them on this day first).

    On a day without a stated open interest, ``fit_info['open_interest_to_volume']`` (from the
    fitted event day) sets it. Returns a :class:`ReplayResult` whose ``table`` lists model,
    observed and error for: price low, time of the low, drop, end price, depth decline within 1%,
    liquidated notional (long, short, total) and each reported total of the event file.
    """
    symbol = symbol or event.default_symbol
    fitted = False
    if params is None:
        params, fit_info = fit_replay(
            frames,
            event,
            symbol,
            prior=prior,
            open_interest_base=open_interest_base,
            lookback_hours=lookback_hours,
            max_evals=max_evals,
        )
        fitted = True
    fit_info = dict(fit_info or {})
    ratio = fit_info.get("open_interest_to_volume")
    lmap, obs, impact, inputs = _prepare(
        frames, event, symbol, prior, open_interest_base, ratio, lookback_hours, params.sqrt_y
    )
    model = simulate_event(cohort_positions(lmap), obs, event, impact, params)
    mm = _model_metrics(model, obs.depth_pre_1pct_base)
    table = _comparison_table(mm, obs, event, frames, symbol)
    inputs["model_time_of_low"] = ms_to_iso(int(mm["low_time_ms"]))
    inputs["observed_time_of_low"] = ms_to_iso(obs.low_time_ms)
    inputs["rng_seed"] = model.summary.get("seed", 0)
    inputs["engine"] = "liqcascade.engine.dynamic.simulate"
    return ReplayResult(event, symbol, params, fitted, fit_info, lmap, obs, model, table, inputs)
