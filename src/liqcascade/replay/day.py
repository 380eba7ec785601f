"""A replay of one day from the store, end to end: the engine run fitted on an event day, the
market model's ensemble replay beside it, and the HTML report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from liqcascade.replay.events import (
    _MS_DAY,
    _MS_MIN,
    Event,
    list_events,
    load_event,
    plain_day_event,
)
from liqcascade.replay.fit import fit_replay
from liqcascade.replay.frames import MarketFrames, load_frames
from liqcascade.replay.report import write_report
from liqcascade.replay.run import run_replay


def replay_day(
    date: str,
    *,
    symbol: str | None = None,
    db: Path | None = None,
    data: Path | None = None,
    prior: str = "default",
    fit_on: str = "2025-10-10",
    oi_base: float | None = None,
    report: Path | None = None,
    max_evals: int | None = None,
    params_file: str | Path | None = None,
    attribution: bool = False,
    n_paths: int = 1000,
    seed: int = 0,
    sensitivity: bool = True,
    progress: Any = None,
) -> Any:
    """Ingest ``data`` (optional) into the store, fit on ``fit_on`` when needed, replay ``date``.

    Returns the :class:`liqcascade.replay.ReplayResult` with ``report_path`` set.
    ``progress(done, total, stage)``, when given, is called as each of the four stages
    (ingest, engine replay, market-model ensembles, report) starts and when all are done.
    """

    def _stage(done: int, name: str) -> None:
        if progress is not None:
            progress(done, 4, name)

    from liqcascade.data import Store, default_db_path, ingest_paths
    from liqcascade.errors import InputError
    from liqcascade.timeutil import to_ms
    from liqcascade.venues import load_venue

    db_path = Path(db) if db else default_db_path()
    _stage(0, "ingest")
    if data is not None:
        if not Path(data).exists():
            raise InputError(f"data {data}: no such file or directory")
        ingest_paths([str(data)], db=str(db_path))
    lookback_ms = 168 * 3_600_000
    _stage(1, "engine replay")
    with Store(db_path, read_only=True) as store:
        ref = load_event(fit_on)
        ref_symbol = ref.default_symbol
        if date in list_events():
            event = load_event(date)
        else:
            day0 = to_ms(f"{date}T00:00:00Z")
            probe = load_frames(
                store, ref.venue, symbol or ref_symbol, day0 - lookback_ms, day0 + 86_400_000
            )
            event = plain_day_event(date, probe.klines, ref.venue, symbol or ref_symbol, ref)
        sym = symbol or event.default_symbol
        load_venue(event.venue, sym)  # fail before fitting when the venue rules lack the symbol
        frames = load_frames(
            store, event.venue, sym, event.news_ms - lookback_ms, event.window_end_ms
        )
        kw: dict[str, Any] = {} if max_evals is None else {"max_evals": max_evals}
        if event.is_defined and event.date == ref.date and sym == ref_symbol:
            result = run_replay(frames, event, sym, prior=prior, open_interest_base=oi_base, **kw)
        else:
            ref_frames = load_frames(
                store, ref.venue, ref_symbol, ref.news_ms - lookback_ms, ref.window_end_ms
            )
            params, info = fit_replay(ref_frames, ref, ref_symbol, prior=prior, **kw)
            result = run_replay(
                frames,
                event,
                sym,
                params=params,
                fit_info=info,
                prior=prior,
                open_interest_base=oi_base,
            )
    _stage(2, "market-model ensembles")
    result.market_model, result.sensitivity = market_model_replay(
        frames, event, sym, params=params_file, attribution=attribution,
        n_paths=n_paths, seed=seed, sensitivity=sensitivity,
    )  # fmt: skip
    out = report or Path(db_path).parent / "reports" / f"replay-{event.date}-{sym}.html"
    _stage(3, "report")
    write_report(result, out)
    _stage(4, "done")
    return result


def market_model_replay(
    frames: MarketFrames,
    event: Event,
    symbol: str,
    *,
    params: str | Path | None = None,
    attribution: bool = False,
    n_paths: int = 1000,
    seed: int = 0,
    sensitivity: bool = True,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The market model's ensemble replay of a day (liqcascade.market, shipped calibration).

    Trigger mode: the model sees the tape up to the news minute and the next
    ``liqcascade.validate.TRIGGER_BARS - 1`` minutes, then runs on its own. On a day without an
    event file the news minute is the first bar of the day's largest 60-minute fall (as
    ``liqcascade validate`` picks it). With ``attribution`` the tape-driven attribution
    (:func:`liqcascade.validate.attribute_event`) is reported beside it.
    """
    from liqcascade import validate as v
    from liqcascade.data.klines import largest_fall, tape_from_frame
    from liqcascade.market import load_params
    from liqcascade.observed import inputs_from_frames

    k = frames.klines.select(
        pl.col("open_time_ms").alias("open_time"), "open", "high", "low", "close",
        pl.col("volume_base").alias("volume"),
        pl.col("taker_buy_volume_base").alias("taker_buy_volume"),
    ).filter(pl.col("open_time") < event.window_end_ms + v.REPLAY_HORIZON * _MS_MIN)  # fmt: skip
    tape = tape_from_frame(k, f"store:{symbol}", symbol)
    pf = load_params(params)
    inputs = inputs_from_frames(
        tape.open_ms, frames.open_interest, frames.book_depth, source=frames.source
    )
    mt = v.ModelTape(tape, 0, pf, v.grid_prior(pf.book.venue, pf.book.symbol), inputs)
    day0 = int(tape.open_ms[0])
    if event.is_defined:
        first = int(np.searchsorted(tape.open_ms, event.news_ms))
        span = tape.low[first : first + v.EVENT_MINUTES]
        low_idx = first + int(np.argmin(span))
        picked = "event file news time"
    else:
        i, j = largest_fall(tape.slice(0, int(np.searchsorted(tape.open_ms, day0 + _MS_DAY))))
        first, low_idx = i, j
        picked = "largest 60-minute fall of the day"
    rep = v.replay_event(mt, first, low_idx=low_idx, seed=seed, n_paths=n_paths)
    model: dict[str, Any] = {
        "mode": "trigger",
        "event_first_bar": tape.iso(first),
        "event_picked_by": picked,
        "sees_tape_until": tape.iso(rep.origin),
        **{k2: rep.replay[k2] for k2 in ("low_p10", "low_p50", "low_p90", "low_time_p50")},
        "endogenous_share": rep.replay["endogenous_share"],
        "p_fall_beyond": rep.replay["p_fall_beyond"],
        "impact_only_low_p50": rep.impact_only["low_p50"],
        "inputs": inputs.describe(rep.origin),
        "observed": rep.observed,
        "n_paths": n_paths,
        "seed": seed,
        "params": str(params) if params else "shipped (liqcascade/market_params.toml)",
    }
    if attribution:
        model["attribution"] = v.attribute_event(mt, first, horizon=v.REPLAY_HORIZON)
    sens = v.replay_sensitivity(mt, first, seed=seed, n_paths=n_paths) if sensitivity else []
    return model, sens
