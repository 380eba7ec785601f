"""Replay of a real liquidation cascade, checked against what happened (docs/replay.md).

1. The book before the event is the liquidation map (:mod:`liqcascade.estimate`) at the news time,
   scaled to a stated open-interest level (event file) or, on days without one, to the
   open-interest / volume ratio of the fitted event day times that day's volume.
2. An exogenous sell impulse hits at the news time: the net taker sell volume of the first minutes
   after it (event file states how many minutes; the size is read from the klines).
3. The cascade runs in time steps: forced orders of cohorts whose liquidation price is crossed
   and the impulse move the price through the pre-event depth curve (bookDepth snapshot, or the
   square-root law with sigma and ADV from klines when no bookDepth is stored); market makers
   withdraw depth as the price moves; impact decays with a resilience half-life, leaving a
   permanent fraction.
4. The model is compared with the observed price path (low and its time), depth within 1% and
   the reported liquidation totals; an HTML report shows both price paths on one chart.

The three dynamic parameters (depth withdrawal, resilience half-life, permanent fraction) are
fitted by :func:`fit_replay` on the event day; :func:`run_replay` runs any day with the fitted
(or given) parameters.

Layout: :mod:`~liqcascade.replay.events` (event files), :mod:`~liqcascade.replay.frames` (market
data, bookDepth curves, what was observed), :mod:`~liqcascade.replay.engine_run` (parameters and
one engine run), :mod:`~liqcascade.replay.fit` (inputs of a run and the fit),
:mod:`~liqcascade.replay.run` (a run and its comparison table), :mod:`~liqcascade.replay.report`
(HTML report) and :mod:`~liqcascade.replay.day` (a day from the store, end to end). Every name
below is importable from ``liqcascade.replay``.
"""

from __future__ import annotations

from liqcascade.file_schemas import EVENT_SCHEMA
from liqcascade.replay.day import market_model_replay, replay_day
from liqcascade.replay.engine_run import (
    ModelPath,
    ReplayParams,
    cohort_positions,
    simulate_replay,
    sqrt_impact_from_klines,
)
from liqcascade.replay.events import Event, list_events, load_event, plain_day_event
from liqcascade.replay.fit import FIT_BOUNDS, FIT_NAMES, fit_replay, simulate_event
from liqcascade.replay.fit import _prepare as _prepare
from liqcascade.replay.frames import (
    BOOKDEPTH_BANDS,
    DepthSeries,
    MarketFrames,
    Observed,
    depth_series,
    load_frames,
    observe,
)
from liqcascade.replay.report import table_rows_text, write_report
from liqcascade.replay.run import ReplayResult, run_replay

__all__ = [
    "BOOKDEPTH_BANDS",
    "EVENT_SCHEMA",
    "FIT_BOUNDS",
    "FIT_NAMES",
    "DepthSeries",
    "Event",
    "MarketFrames",
    "ModelPath",
    "Observed",
    "ReplayParams",
    "ReplayResult",
    "cohort_positions",
    "depth_series",
    "fit_replay",
    "list_events",
    "load_event",
    "load_frames",
    "market_model_replay",
    "observe",
    "plain_day_event",
    "replay_day",
    "run_replay",
    "simulate_event",
    "simulate_replay",
    "sqrt_impact_from_klines",
    "table_rows_text",
    "write_report",
]
