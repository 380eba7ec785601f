"""Score the market model against what markets did, beside simple baselines.

For each 1m kline file (a day or a window; history before it may come from the store):

- **event replay** (:func:`replay_event`): the event is the file's largest 60-minute fall (from
  a bar's high to the lowest low of that bar and the next 59). The model sees the bars from the
  start of the tape up to the fall's first bar and the ``TRIGGER_BARS - 1`` bars after it (five
  minutes of tape from the first bar's open), then runs on its own for ``REPLAY_HORIZON`` bars.
  Beside it the same model and trigger with an empty position book (impact-only).
- **rolling tail forecast** (:func:`rolling_forecast`): from the 60th bar on, at every bar's
  close, using only bars up to that close, the 5 % and 1 % quantiles of the lowest low of the
  next 30 bars, by the model, by impact-only, and by the vol-only RiskMetrics EWMA baseline.
- **skill** (:func:`skill_table`): breach rates and pinball losses against the baselines.
- **map check** (:func:`map_score`): density of the liquidation grid near price against where
  the fall accelerated, beside placebo grids shifted by +-3 %.

Random draws: ``SeedSequence(seed).spawn(n_files)``, one child per file, then one child per
use (replay, forecast) so a file's results do not depend on the other files.
"""

from __future__ import annotations

import html
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from liqcascade import jsonutil, scoring
from liqcascade.data.klines import Tape, history_from_store, join_history, largest_fall, read_klines
from liqcascade.errors import InputError
from liqcascade.estimate import GridPrior, book_grids, grid_prior
from liqcascade.log import logger
from liqcascade.market import (
    BOOK_BIN_LOG,
    BOOK_BINS,
    Ensemble,
    MarketState,
    ParamsFile,
    PathDraws,
    child_seed,
    crossed_size,
    depth_profile,
    draw_ensemble,
    empty_book,
    filter_state,
    load_params,
    run_ensemble,
)
from liqcascade.observed import OI_OBSERVED_LOG_SD, ObservedInputs, inputs_from_store
from liqcascade.timeutil import ms_to_iso

__all__ = [
    "EVENT_MINUTES",
    "FORECAST_HORIZON",
    "REPLAY_HORIZON",
    "TRIGGER_BARS",
    "WARMUP_BARS",
    "EventReplay",
    "FileValidation",
    "ModelTape",
    "ValidationResult",
    "map_score",
    "replay_event",
    "rolling_forecast",
    "skill_table",
    "validate_files",
]

EVENT_MINUTES = 60
TRIGGER_BARS = 5
REPLAY_HORIZON = 120
FORECAST_HORIZON = 30
WARMUP_BARS = 60
PROBS = (0.05, 0.01)


# --------------------------------------------------------------------------------------------
# a tape prepared for the model


@dataclass
class ModelTape:
    """A tape (with any stored history before it) and its model state, computed once.

    ``k0`` is the index of the file's first bar in the joined tape. ``inputs``: open interest and
    depth observed in the store (:mod:`liqcascade.observed`), used where present.
    """

    tape: Tape
    k0: int
    pf: ParamsFile
    gp: GridPrior
    inputs: ObservedInputs = field(default_factory=ObservedInputs)
    state: MarketState = field(init=False)
    typical: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        t = self.tape
        self.state = filter_state(t.close, t.net_flow_base, self.pf.market)
        self.typical = (t.high + t.low + t.close) / 3.0

    def oi_base(self, t: int) -> float:
        """Open interest at bar ``t``: the stored value when there is one, else the prior median."""
        oi = self.inputs.oi_at(t)
        return oi if oi is not None else self.pf.book.oi_median_base

    def book(self, t: int, oi_base: float | None = None) -> np.ndarray:
        """Cumulative liquidation grids at the close of bar ``t`` (reads bars <= t only)."""
        b = self.pf.book
        tp = self.tape
        return book_grids(
            self.typical, tp.low, tp.high, tp.volume_base, tp.taker_buy_base, tp.close, t,
            self.gp, oi_base if oi_base is not None else self.oi_base(t), b.lookback_minutes,
            b.old_entry_log_sd, BOOK_BIN_LOG, BOOK_BINS,
        )  # fmt: skip

    def draws_at(self, origin: int, draws: PathDraws) -> PathDraws:
        """The draws with the open interest observed at ``origin`` applied (same random numbers):
        observed open interest narrows the OI spread to ``OI_OBSERVED_LOG_SD``."""
        sd = self.pf.book.oi_log_sd
        if self.inputs.oi_at(origin) is None or sd <= 0:
            return draws
        return replace(draws, oi_mult=np.exp(np.log(draws.oi_mult) * (OI_OBSERVED_LOG_SD / sd)))

    def lam_profile(self, origin: int, horizon: int) -> np.ndarray | None:
        """Impact-scale multipliers from the depth ratio observed at ``origin`` (or None)."""
        ratio = self.inputs.depth_at(origin)
        if ratio == 1.0:
            return None
        return depth_profile(ratio, self.pf.market.vol_decay, horizon)

    def ensemble(self, origin: int, draws: PathDraws, book: bool) -> Ensemble:
        """The ensemble from bar ``origin`` with the tape's book (or an empty one)."""
        cum = self.book(origin) if book else empty_book()
        t = self.tape
        return run_ensemble(
            self.pf, t.close, t.net_flow_base, origin, cum, self.draws_at(origin, draws),
            state=self.state, lam_profile=self.lam_profile(origin, draws.horizon),
        )  # fmt: skip


def prepare(
    tape: Tape, pf: ParamsFile, db: str | Path | None = None, gp: GridPrior | None = None
) -> ModelTape:
    """Join stored history (at most the book look-back) before ``tape`` and set up the model.

    With a store, open interest and bookDepth stored for the tape's bars become the model's
    inputs (:mod:`liqcascade.observed`); without, the stated priors are used.
    """
    hist = None
    if db is not None and tape.symbol:
        hist = history_from_store(db, tape.symbol, int(tape.open_ms[0]), pf.book.lookback_minutes)
    joined, k0 = join_history(hist, tape)
    inputs = ObservedInputs()
    if db is not None and tape.symbol:
        inputs = inputs_from_store(db, pf.book.venue, tape.symbol, joined.open_ms)
    return ModelTape(joined, k0, pf, gp or grid_prior(pf.book.venue, pf.book.symbol), inputs)


# --------------------------------------------------------------------------------------------
# event replay


@dataclass(frozen=True)
class EventReplay:
    """One event replay: observed fall, the model's ensemble low, impact-only beside it."""

    file: str
    first: int
    origin: int
    observed: dict[str, Any]
    replay: dict[str, Any]
    impact_only: dict[str, Any]
    seed: int
    ensemble: Ensemble | None = None

    def to_json(self) -> dict[str, Any]:
        """The replay as written to ``validation.json`` (without bar indices and ensemble)."""
        return jsonutil.fields_dict(self, omit={"first", "origin", "ensemble"})


def ensemble_low_summary(mt: ModelTape, ens: Ensemble, first: int, origin: int) -> dict[str, Any]:
    """Low quantiles (10/50/90 %), median time of the low and the endogenous share."""
    tp = mt.tape
    seen_low = float(tp.low[first : origin + 1].min())
    seen_j = first + int(np.argmin(tp.low[first : origin + 1]))
    mins = ens.low.min(axis=1)
    arg = ens.low.argmin(axis=1)
    low = np.minimum(mins, seen_low)
    t_ms = np.where(
        mins < seen_low, tp.open_ms[origin] + (arg + 1) * 60_000, tp.open_ms[seen_j]
    ).astype(np.int64)
    # endogenous share: the forced orders' part of the log fall from the origin close to the low
    endo = ens.endogenous[np.arange(arg.size), arg]
    fall = np.log(np.maximum(mins, 1e-300) / ens.origin_close)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(fall < -1e-9, np.clip(endo / fall, 0.0, 1.0), 0.0)
    p10, p50, p90 = (float(x) for x in np.quantile(low, [0.1, 0.5, 0.9]))
    return {
        "low_p10": p10,
        "low_p50": p50,
        "low_p90": p90,
        "low_time_p50": ms_to_iso(int(np.median(t_ms) // 60_000 * 60_000)),
        "endogenous_share": float(np.median(share)),
        "p_fall_beyond": {
            f"{x:g}%": float(np.mean(low <= ens.origin_close * (1 - x / 100)))
            for x in (2, 5, 10, 20)
        },
    }


def replay_event(
    mt: ModelTape,
    first: int,
    *,
    low_idx: int | None = None,
    seed: np.random.SeedSequence | int = 0,
    n_paths: int = 1000,
    horizon: int = REPLAY_HORIZON,
    trigger_bars: int = TRIGGER_BARS,
    label: str | None = None,
    keep_ensemble: bool = False,
) -> EventReplay:
    """Replay the event whose first bar is ``first`` (index in ``mt.tape``), trigger mode.

    The model sees bars up to ``first + trigger_bars - 1`` and runs ``horizon`` bars on its
    own. ``low_idx`` is the observed low (default: the lowest low of the 60 bars from first).
    """
    tp = mt.tape
    n = len(tp)
    origin = min(first + trigger_bars - 1, n - 1)
    if low_idx is None:
        span = tp.low[first : min(first + EVENT_MINUTES, n)]
        low_idx = first + int(np.argmin(span))
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    draws = draw_ensemble(mt.pf, n_paths, horizon, ss)
    ens = mt.ensemble(origin, draws, book=True)
    ens0 = mt.ensemble(origin, draws, book=False)
    model = ensemble_low_summary(mt, ens, first, origin)
    imp = ensemble_low_summary(mt, ens0, first, origin)
    end = min(origin + horizon, n - 1)
    observed = {
        "high": float(tp.high[first]),
        "high_time": tp.iso(first),
        "low": float(tp.low[low_idx]),
        "low_time": tp.iso(low_idx),
        "origin_close": float(tp.close[origin]),
        "origin_time": tp.iso(origin),
        "low_over_replay": float(tp.low[first : end + 1].min()),
    }
    return EventReplay(
        file=label or tp.source,
        first=first,
        origin=origin,
        observed=observed,
        replay=model,
        impact_only={
            "low_p50": imp["low_p50"],
            "low_p10": imp["low_p10"],
            "low_p90": imp["low_p90"],
        },
        seed=int(ss.entropy) if isinstance(ss.entropy, int) else 0,
        ensemble=ens if keep_ensemble else None,
    )


# --------------------------------------------------------------------------------------------
# rolling tail forecast


def rolling_forecast(
    mt: ModelTape,
    *,
    seed: np.random.SeedSequence | int = 0,
    n_paths: int = 1000,
    horizon: int = FORECAST_HORIZON,
    warmup: int = WARMUP_BARS,
) -> pl.DataFrame:
    """Quantiles of the lowest low of the next ``horizon`` bars at every bar's close.

    Starts at the file's ``warmup``-th bar. Every forecast reads bars up to its own bar only
    (state filter, book grid and EWMA are causal) and uses the same draws (common random
    numbers), so a file cut short gives the same forecasts for the bars it still holds.
    Columns: time, close, q05_low, q01_low, q05_low_impact_only, q01_low_impact_only,
    q05_low_ewma, q01_low_ewma, future_low (NaN where fewer than ``horizon`` bars follow).
    """
    tp = mt.tape
    n = len(tp)
    start = mt.k0 + warmup - 1
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    draws = draw_ensemble(mt.pf, n_paths, horizon, ss)
    rows = max(n - start, 0)
    out = {k: np.full(rows, np.nan) for k in ("q05", "q01", "q05i", "q01i")}
    for idx, t in enumerate(range(start, n)):
        m = mt.ensemble(t, draws, book=True).min_low()
        m0 = mt.ensemble(t, draws, book=False).min_low()
        out["q05"][idx], out["q01"][idx] = np.quantile(m, PROBS)
        out["q05i"][idx], out["q01i"][idx] = np.quantile(m0, PROBS)
    var = scoring.ewma_variance(tp.close, lam=0.94, warmup=warmup)
    sl = slice(start, n)
    fut = scoring.future_min_low(tp.low, horizon)
    return pl.DataFrame(
        {
            "time": [tp.iso(i) for i in range(start, n)],
            "close": tp.close[sl],
            "q05_low": out["q05"],
            "q01_low": out["q01"],
            "q05_low_impact_only": out["q05i"],
            "q01_low_impact_only": out["q01i"],
            "q05_low_ewma": scoring.reflection_min_quantile(tp.close, var, horizon, 0.05)[sl],
            "q01_low_ewma": scoring.reflection_min_quantile(tp.close, var, horizon, 0.01)[sl],
            "future_low": fut[sl],
        }
    )


FORECAST_COLUMNS = (
    "time",
    "close",
    "q05_low",
    "q01_low",
    "q05_low_impact_only",
    "q01_low_impact_only",
)


def forecast_scores(fc: pl.DataFrame) -> dict[str, dict[str, float]]:
    """Breach rates and pinball losses (relative to the close) per forecaster and quantile."""
    y = fc["future_low"].to_numpy()
    ref = fc["close"].to_numpy()
    ok = np.isfinite(y)
    res: dict[str, dict[str, float]] = {}
    cols = {
        "model": ("q05_low", "q01_low"),
        "impact_only": ("q05_low_impact_only", "q01_low_impact_only"),
        "ewma": ("q05_low_ewma", "q01_low_ewma"),
        "no_change": ("close", "close"),
    }
    for name, (c5, c1) in cols.items():
        d: dict[str, float] = {"n": float(ok.sum())}
        for prob, c in ((0.05, c5), (0.01, c1)):
            q = fc[c].to_numpy()
            tag = "q05" if prob == 0.05 else "q01"
            d[f"{tag}_breach"] = scoring.breach_rate(y[ok], q[ok]) if ok.any() else float("nan")
            d[f"{tag}_pinball"] = (
                scoring.pinball_loss_rel(y[ok], q[ok], prob, ref[ok]) if ok.any() else float("nan")
            )
        res[name] = d
    return res


# --------------------------------------------------------------------------------------------
# map check


def map_score(mt: ModelTape, first: int, low_idx: int, shift: float = 0.03) -> dict[str, float]:
    """Is the book dense where the fall accelerated and volume spiked?

    At the close before the event (bar ``first - 1``) take the model's long-liquidation grid.
    The acceleration levels are the closes of the bars between the event's first bar and its low
    whose volume exceeds twice the median volume of the 60 bars before the event. The score is
    the mean grid density (base units per 0.1 % bin, both priors averaged) at those levels; the
    placebo scores are the same with the grid shifted by +-``shift`` in log price. Returns the
    score, the two placebo scores and their ratio (> 1: the map points where the cascade ran).
    """
    tp = mt.tape
    t = max(first - 1, 0)
    cum = mt.book(t)
    dens = 0.5 * (np.diff(cum[0]) + np.diff(cum[1]))
    pre = tp.volume_base[max(0, t - 60) : t + 1]
    thresh = 2.0 * float(np.median(pre)) if pre.size else 0.0
    idx = np.arange(first, max(low_idx, first) + 1)
    hot = idx[tp.volume_base[idx] > thresh]
    if hot.size == 0:
        return {"score": float("nan"), "placebo_up": float("nan"), "placebo_down": float("nan"),
                "ratio": float("nan"), "levels": 0.0}  # fmt: skip
    dist = -np.log(tp.close[hot] / tp.close[t])

    def at(shift_log: float) -> float:
        k = np.floor((dist + shift_log) / BOOK_BIN_LOG).astype(int)
        ok = (k >= 0) & (k < dens.size)
        vals = np.where(ok, dens[np.clip(k, 0, dens.size - 1)], 0.0)
        return float(vals.mean())

    s = at(0.0)
    up, down = at(shift), at(-shift)
    placebo = 0.5 * (up + down)
    return {"score": s, "placebo_up": up, "placebo_down": down,
            "ratio": s / placebo if placebo > 0 else float("inf"), "levels": float(hot.size)}  # fmt: skip


# --------------------------------------------------------------------------------------------
# a whole validation run


@dataclass
class FileValidation:
    file: str
    event: EventReplay | None
    forecast: pl.DataFrame | None
    scores: dict[str, dict[str, float]]
    map: dict[str, float]
    notes: list[str]

    def plot(self) -> Any:
        """The file's close, the lowest low of the next bars, the model's and the EWMA
        baseline's forecast quantiles of it and, for an event file, the replay's low band
        against the observed low."""
        from liqcascade import plotting

        go = plotting.graph_objects("the validation plots")
        fig = go.Figure()
        if self.forecast is not None:
            fc = self.forecast
            t = fc["time"].to_list()
            for col, name, line in (
                ("close", "close", {"color": "black"}),
                ("future_low", "lowest low of next 30 bars", {"color": "grey", "dash": "dot"}),
                ("q05_low", "model q05", {"color": "crimson"}),
                ("q01_low", "model q01", {"color": "darkred"}),
                ("q05_low_ewma", "EWMA q05", {"color": "royalblue", "dash": "dash"}),
            ):
                fig.add_scatter(x=t, y=fc[col].to_list(), name=name, line=line)
        if self.event is not None:
            e = self.event
            for key, name, dash in (
                ("low_p10", "replay low p10", "dot"),
                ("low_p50", "replay low p50", "solid"),
                ("low_p90", "replay low p90", "dot"),
            ):
                fig.add_hline(
                    y=e.replay[key], line_dash=dash, line_color="darkorange", annotation_text=name
                )
            fig.add_hline(
                y=e.observed["low"], line_color="green", annotation_text="observed event low"
            )
        return plotting.styled(fig, self.file, height=420)


@dataclass
class ValidationResult:
    params_source: str
    files: list[FileValidation]
    seed: int
    n_paths: int
    seconds: float

    def to_json(self) -> dict[str, Any]:
        """The run as written to ``validation.json``: its settings, then per-file results."""
        settings = jsonutil.fields_dict(
            self, omit={"files", "seconds"}, rename={"params_source": "params"}
        )
        return {
            **settings,
            "events": [f.event.to_json() for f in self.files if f.event is not None],
            "forecast_scores": {f.file: f.scores for f in self.files if f.scores},
            "map_scores": {f.file: f.map for f in self.files if f.map},
            "notes": {f.file: f.notes for f in self.files if f.notes},
            "summary": self.summary(),
        }

    def summary(self) -> dict[str, Any]:
        return skill_table(self)

    def to_polars(self) -> pl.DataFrame:
        """The rolling forecasts of every file, one row per bar: ``file`` then the columns of
        :func:`rolling_forecast` (``time``, ``close``, ``q05_low``, ... ``future_low``)."""
        frames = [
            f.forecast.select(pl.lit(f.file).alias("file"), pl.all())
            for f in self.files
            if f.forecast is not None and f.forecast.height
        ]
        if not frames:
            return pl.DataFrame(schema={"file": pl.String, "time": pl.String, "close": pl.Float64})
        return pl.concat(frames, how="vertical_relaxed")

    def plot(self, file: str | None = None) -> Any:
        """:meth:`FileValidation.plot` of ``file`` (default: the first file with a forecast or
        an event replay)."""
        drawn = [f for f in self.files if f.forecast is not None or f.event is not None]
        if file is not None:
            drawn = [f for f in drawn if f.file == file]
        if not drawn:
            names = [f.file for f in self.files]
            raise InputError(f"file {file!r}: no forecast or replay to plot (files: {names})")
        return drawn[0].plot()


def _fc_pooled(files: Sequence[FileValidation]) -> pl.DataFrame | None:
    frames = [f.forecast for f in files if f.forecast is not None and f.forecast.height]
    return pl.concat(frames) if frames else None


def skill_table(res: ValidationResult) -> dict[str, Any]:
    """Event and forecast skill pooled over the files, beside the baselines."""
    ev = [f.event for f in res.files if f.event is not None]
    out: dict[str, Any] = {"n_events": len(ev)}
    if ev:
        err, err0, nc, cover, closer = [], [], [], [], []
        for e in ev:
            o = e.observed
            fall = o["high"] - o["low"]

            def frac(x: float, o: dict[str, Any] = o, fall: float = fall) -> float:
                return abs(x - o["low"]) / fall if fall > 0 else math.nan

            err.append(frac(e.replay["low_p50"]))
            err0.append(frac(e.impact_only["low_p50"]))
            nc.append(frac(o["origin_close"]))  # no change: the price stays at the origin close
            cover.append(e.replay["low_p10"] <= o["low"] <= e.replay["low_p90"])
            closer.append(
                abs(e.replay["low_p50"] - o["low"]) < abs(e.impact_only["low_p50"] - o["low"])
            )
        out["event_median_error_frac_of_fall"] = float(np.nanmedian(err))
        out["event_median_error_frac_of_fall_impact_only"] = float(np.nanmedian(err0))
        out["event_median_error_frac_of_fall_no_change"] = float(np.nanmedian(nc))
        out["event_band_cover_rate"] = float(np.mean(cover))
        out["event_closer_than_impact_only_rate"] = float(np.mean(closer))
    fc = _fc_pooled(res.files)
    if fc is not None:
        out["forecast"] = forecast_scores(fc)
    return out


def validate_files(
    paths: Sequence[str | Path],
    *,
    db: str | Path | None = None,
    params: str | Path | ParamsFile | None = None,
    n_paths: int = 1000,
    seed: int = 0,
    out_dir: str | Path | None = None,
    forecast: bool = True,
    progress: Any = None,
) -> ValidationResult:
    """Validate on each kline file (see the module docstring); writes CSVs/JSON/HTML to out_dir."""
    if not paths:
        raise InputError("validate: give at least one kline file")
    t0 = time.perf_counter()
    pf = params if isinstance(params, ParamsFile) else load_params(params)
    src = (
        "shipped"
        if params is None
        else ("given" if isinstance(params, ParamsFile) else str(params))
    )
    gp = grid_prior(pf.book.venue, pf.book.symbol)
    tapes = [read_klines(p) for p in paths]  # refuse bad files before any work
    children = np.random.SeedSequence(seed).spawn(len(tapes))
    files: list[FileValidation] = []
    od = Path(out_dir) if out_dir is not None else None
    if od is not None:
        od.mkdir(parents=True, exist_ok=True)
    for tape, ss in zip(tapes, children, strict=True):
        name = Path(tape.source).name
        notes: list[str] = []
        mt = prepare(tape, pf, db, gp)
        s_rep, s_fc = child_seed(ss, 0), child_seed(ss, 1)
        ev = None
        mscore: dict[str, float] = {}
        if len(tape) < TRIGGER_BARS + 2:
            notes.append(
                f"{len(tape)} bars: too short for an event replay (needs {TRIGGER_BARS + 2})"
            )
        else:
            i, j = largest_fall(tape, EVENT_MINUTES)
            ev = replay_event(
                mt, mt.k0 + i, low_idx=mt.k0 + j, seed=s_rep, n_paths=n_paths, label=name
            )
            mscore = map_score(mt, mt.k0 + i, mt.k0 + j)
        fc = None
        scores: dict[str, dict[str, float]] = {}
        if forecast:
            if len(tape) < WARMUP_BARS + 1:
                notes.append(
                    f"{len(tape)} bars: shorter than the forecast warm-up ({WARMUP_BARS} bars); "
                    "no rolling forecast"
                )
            else:
                fc = rolling_forecast(mt, seed=s_fc, n_paths=n_paths)
                scores = forecast_scores(fc)
                if od is not None:
                    fc.select(FORECAST_COLUMNS).write_csv(od / f"{Path(name).stem}.forecast.csv")
        for nt in notes:
            logger.warning("%s: %s", name, nt)
        files.append(FileValidation(name, ev, fc, scores, mscore, notes))
        if progress is not None:
            progress(name)
    res = ValidationResult(src, files, seed, n_paths, time.perf_counter() - t0)
    if od is not None:
        (od / "validation.json").write_text(jsonutil.dumps(res.to_json(), indent=2))
        write_report(res, od / "validation.html")
    return res


def table_rows(res: ValidationResult) -> list[tuple[str, ...]]:
    """Rows of the terminal skill table: (measure, model, impact-only, EWMA, no change)."""
    s = res.summary()
    rows: list[tuple[str, ...]] = []

    def pct(v: Any) -> str:
        return (
            "-"
            if v is None or (isinstance(v, float) and not math.isfinite(v))
            else f"{100 * v:.1f} %"
        )

    if s.get("n_events"):
        rows.append(("event: median |low error| / fall", pct(s["event_median_error_frac_of_fall"]),
                     pct(s["event_median_error_frac_of_fall_impact_only"]), "-",
                     pct(s["event_median_error_frac_of_fall_no_change"])))  # fmt: skip
        rows.append(
            ("event: observed low in 10-90 % band", pct(s["event_band_cover_rate"]), "-", "-", "-")
        )
        rows.append(
            (
                "event: closer than impact-only",
                pct(s["event_closer_than_impact_only_rate"]),
                "-",
                "-",
                "-",
            )
        )
    f = s.get("forecast")
    if f:
        for tag, label in (("q05", "5 %"), ("q01", "1 %")):
            rows.append(
                (
                    f"forecast {label} quantile breached",
                    *(
                        pct(f[k][f"{tag}_breach"])
                        for k in ("model", "impact_only", "ewma", "no_change")
                    ),
                )
            )
            rows.append((f"forecast {label} pinball (bp of price)", *(f"{1e4 * f[k][f'{tag}_pinball']:.2f}" for k in ("model", "impact_only", "ewma", "no_change"))))  # fmt: skip
    return rows


def write_report(res: ValidationResult, path: str | Path) -> Path:
    """Self-contained HTML report (plotly inlined): per file the price, the forecast bands of
    the model and the EWMA baseline, and the event replay band; the skill table on top."""
    from liqcascade._optional import require

    require("the validation HTML report", "plotly", extra="plot")

    parts = []
    first = True
    for f in res.files:
        if f.forecast is None and f.event is None:
            continue
        parts.append(f.plot().to_html(include_plotlyjs=first, full_html=False))
        first = False
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in table_rows(res)
    )
    ev_rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in (
            f.file, f"{f.event.observed['high']:,.1f}", f"{f.event.observed['low']:,.1f}",
            f.event.observed["low_time"], f"{f.event.replay['low_p10']:,.1f}",
            f"{f.event.replay['low_p50']:,.1f}", f"{f.event.replay['low_p90']:,.1f}",
            f.event.replay["low_time_p50"], f"{100 * f.event.replay['endogenous_share']:.1f} %",
            f"{f.event.impact_only['low_p50']:,.1f}")) + "</tr>"
        for f in res.files if f.event is not None
    )  # fmt: skip
    doc = f"""<!doctype html><html><head><meta charset="utf-8"><title>liqcascade validation</title>
<style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:2px 8px;border-bottom:1px solid #ddd}}</style></head>
<body><h1>Market model validation</h1>
<p>Parameters: {html.escape(res.params_source)}; {res.n_paths} paths per ensemble; seed {res.seed}.</p>
<h2>Skill</h2><table><tr><th>measure</th><th>model</th><th>impact-only</th><th>EWMA (vol only)</th><th>no change</th></tr>{rows}</table>
<h2>Event replays (trigger mode)</h2><table><tr><th>file</th><th>high</th><th>observed low</th><th>time</th>
<th>low p10</th><th>low p50</th><th>low p90</th><th>time p50</th><th>endogenous share</th><th>impact-only p50</th></tr>{ev_rows}</table>
<h2>Paths and bands</h2>{"".join(parts)}</body></html>"""
    p = Path(path)
    p.write_text(doc, encoding="utf-8")
    return p


# --------------------------------------------------------------------------------------------
# sensitivity of a replay to each fitted parameter


def scaled_params(pf: ParamsFile, name: str, factor: float) -> ParamsFile:
    """``pf`` with one market parameter multiplied by ``factor`` (fractions kept at most 1).

    For ``vol_decay`` the factor scales the state's memory ``1 / (1 - a)`` instead, so that
    0.9 and 1.1 stay inside (0, 1).
    """
    import msgspec

    m = msgspec.to_builtins(pf.market)
    if name not in m:
        raise InputError(f"unknown market parameter {name!r}; expected one of {sorted(m)}")
    if name == "vol_decay":  # the factor scales the memory 1 / (1 - a) of the EWMA state
        v = 1.0 - (1.0 - m[name]) / factor
    else:
        v = m[name] * factor
    if name == "impact_permanent_frac":
        v = min(v, 1.0)
    m[name] = v
    return msgspec.structs.replace(pf, market=msgspec.convert(m, type(pf.market)))


def replay_sensitivity(
    mt: ModelTape,
    first: int,
    *,
    seed: np.random.SeedSequence | int = 0,
    n_paths: int = 1000,
    factors: Sequence[float] = (0.9, 1.1),
    names: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """Median replayed low with each fitted parameter scaled by each factor (same draws)."""
    from liqcascade.calibrate import FIT_NAMES

    rows = []
    # volume_log_sd only shapes simulated tapes (simulate_tape); the ensemble does not read it
    for name in names or [n for n in FIT_NAMES if n != "volume_log_sd"]:
        for f in factors:
            pf2 = scaled_params(mt.pf, name, f)
            mt2 = ModelTape(mt.tape, mt.k0, pf2, mt.gp, mt.inputs)
            ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
            r = replay_event(mt2, first, seed=ss, n_paths=n_paths)
            rows.append({"param": name, "factor": float(f), "low_p50": r.replay["low_p50"]})
    return rows


# --------------------------------------------------------------------------------------------
# tape-driven attribution (reported beside the trigger-mode replay, never in its place)


def attribute_event(mt: ModelTape, first: int, *, horizon: int = REPLAY_HORIZON) -> dict[str, Any]:
    """Split an observed fall into forced (modelled liquidations) and exogenous flow.

    The price path is the observed one. The book is the model's grid at the close before the
    event (median open interest, leverage priors mixed half and half). Each bar, the levels the
    observed running low has crossed join the forced queue; the forced sell executed in a bar
    is at most that bar's traded taker-sell volume (``volume - taker_buy``), so modelled forced
    volume never exceeds the volume traded. The exogenous flow is the observed net taker flow
    minus the forced flow (``q_obs + forced``). The endogenous share is the forced flow's
    impact level (the model's propagator and liquidity state along the observed tape, times the
    observed depth ratio of each bar where bookDepth is stored) at the low, divided by the
    observed log fall from the event's first high to the low.
    """
    tp = mt.tape
    m = mt.pf.market
    n = len(tp)
    t_pre = max(first - 1, 0)
    cum = mt.book(t_pre)
    ref = float(tp.close[t_pre])
    end = min(first + horizon, n)
    rho, perm = m.rho, m.impact_permanent_frac
    lam = mt.state.lam * mt.inputs.depth_factors(n)
    queue = 0.0
    crossed = 0.0
    sf = tf = 0.0
    run_low = ref
    forced = np.zeros(end - first)
    endo = np.zeros(end - first)
    for idx, t in enumerate(range(first, end)):
        sell_cap = max(float(tp.volume_base[t] - tp.taker_buy_base[t]), 0.0)
        f = min(queue, sell_cap)
        queue -= f
        forced[idx] = f
        sf += lam[t] * (-f)
        tf = rho * tf + lam[t] * (-f)
        endo[idx] = perm * sf + (1.0 - perm) * tf
        run_low = min(run_low, float(tp.low[t]))
        d = math.log(run_low / ref)
        now = 0.5 * (crossed_size(cum[0], d) + crossed_size(cum[1], d))
        queue += now - crossed
        crossed = now
    j = first + int(np.argmin(tp.low[first:end]))
    fall = math.log(float(tp.low[j]) / float(tp.high[first]))
    share = float(np.clip(endo[j - first] / fall, 0.0, 1.0)) if fall < 0 else 0.0
    vol = tp.volume_base[first:end]
    q_obs = tp.net_flow_base[first:end]
    return {
        "mode": "attribution",
        "forced_base_total": float(forced.sum()),
        "exogenous_flow_base_total": float((q_obs + forced).sum()),
        "observed_net_flow_base_total": float(q_obs.sum()),
        "max_forced_share_of_volume": float(np.max(forced / np.maximum(vol, 1e-12))),
        "endogenous_share": share,
        "forced_base_per_minute": forced.tolist(),
        "inputs": mt.inputs.describe(t_pre),
    }
