"""Replay page and API: the model against what happened for a stored event
(``liqcascade.replay``; the orchestration of ``liqcascade replay`` is reused as is). Fitting and
simulating take tens of seconds, so a replay is a background job. The HTML report the library
writes goes to ``<data dir>/reports/`` and is served from there.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field

from liqcascade.errors import InputError
from liqcascade.timeutil import ms_to_iso
from liqcascade.web.common import ApiError, PageInfo, clean_json, frame_records
from liqcascade.web.safety import safe_path

PAGE = PageInfo(
    path="/replay",
    slug="replay",
    title="Replay",
    blurb="model against observed for a stored event (price path, depth, liquidated notional).",
    needs=(
        "liqcascade.data:Store",
        "liqcascade.replay:list_events",
        "liqcascade.replay:replay_day",
        "liqcascade.replay:run_replay",
    ),
    capability="replay",
)


class ReplayRequest(BaseModel):
    """Replay ``date`` (a shipped event, or any day with stored data) for ``symbol``; parameters
    are fitted on ``fit_on`` (an event day) when the day is not the fitted one."""

    model_config = ConfigDict(extra="forbid")
    date: str = Field(default="2025-10-10", pattern=r"^\d{4}-\d{2}-\d{2}$")
    symbol: str | None = Field(default=None, max_length=40, pattern=r"^[A-Za-z0-9_\-/:]+$")
    prior: str = Field(default="default", max_length=40, pattern=r"^[A-Za-z0-9_\-]+$")
    fit_on: str = Field(default="2025-10-10", pattern=r"^\d{4}-\d{2}-\d{2}$")
    max_evals: int = Field(
        default=150, ge=5, le=1000, description="fit budget (objective evaluations)"
    )


def run_replay_job(state: Any, req: ReplayRequest, progress: Any) -> dict[str, Any]:
    """Job body: ``liqcascade.replay.replay_day`` with the server's store and report folder."""
    from liqcascade.replay import list_events, replay_day
    from liqcascade.web.common import market_store

    if req.fit_on not in list_events():
        raise InputError(
            f"fit_on: no shipped event {req.fit_on!r} (expected one of {list_events()})"
        )
    progress(0.0, "opening the market-data store")
    db, _ = market_store(state)
    if not Path(db).is_file():
        raise InputError(
            f"db: no market-data store at {Path(db).name} (ingest data with `liqcascade data ingest`)"
        )
    reports = state.data_dir / "reports"
    reports.mkdir(exist_ok=True)
    name = f"replay-{req.date}-{req.symbol or 'default'}.html"
    progress(0.05, "fitting and replaying (tens of seconds)")
    res = replay_day(
        req.date,
        symbol=req.symbol,
        db=Path(db),
        prior=req.prior,
        fit_on=req.fit_on,
        report=reports / name,
        max_evals=req.max_evals,
    )
    progress(0.95, "collecting results")
    obs = res.observed
    model = res.model.per_minute()
    summary = res.summary()
    summary["report"] = name
    out: dict[str, Any] = {
        "summary": summary,
        "table": frame_records(res.table),
        "observed": {
            "pre_price": obs.pre_price,
            "low_price": obs.low_price,
            "low_time": ms_to_iso(obs.low_time_ms),
            "end_price": obs.end_price,
            "drop_frac": obs.drop_frac,
            "depth_decline_frac": obs.depth_decline_frac,
            "path": {
                "time": [ms_to_iso(t) for t in obs.path["time_ms"].to_list()],
                "low": obs.path["low"].to_list(),
                "close": obs.path["close"].to_list(),
            },
        },
        "model": {
            "time": [ms_to_iso(t) for t in model["time_ms"].to_list()],
            "low": model["low"].to_list(),
            "close": model["close"].to_list(),
            "depth_factor": model["depth_factor"].to_list(),
            "liq_long_quote": model["liq_long_quote"].to_list(),
            "liq_short_quote": model["liq_short_quote"].to_list(),
        },
        "report": name,
    }
    if obs.depth_path is not None and obs.depth_path.height:
        dp = obs.depth_path
        out["observed"]["depth"] = {
            "time": [ms_to_iso(t) for t in dp["time_ms"].to_list()],
            **{c: dp[c].to_list() for c in dp.columns if c != "time_ms"},
        }
        out["observed"]["depth_pre_1pct_base"] = obs.depth_pre_1pct_base
    return clean_json(out)


def register(app: FastAPI, state: Any) -> None:

    @app.get("/api/replay/events", tags=["replay"])
    def replay_events() -> dict[str, Any]:
        """Shipped event days (each with its sourced figures)."""
        from liqcascade.replay import list_events, load_event

        events = []
        for d in list_events():
            ev = load_event(d)
            events.append(
                {"date": ev.date, "title": ev.title, "venue": ev.venue, "symbol": ev.default_symbol}
            )
        return {"events": events}

    @app.post("/api/replay", tags=["replay"])
    def replay(req: ReplayRequest) -> dict[str, Any]:
        """Start a replay as a background job; poll ``/api/jobs/{id}`` (result: model vs observed)."""
        job = state.jobs.submit("replay", req.model_dump(), lambda p: run_replay_job(state, req, p))
        return {"job_id": job.id, "status": job.status}

    @app.get("/api/replay/reports/{name}", tags=["replay"], response_model=None)
    def replay_report(name: str) -> FileResponse:
        """The HTML report of a finished replay (file name from the job result)."""
        if not re.fullmatch(r"replay-[A-Za-z0-9_\-]+\.html", name):
            raise ApiError(400, f"name: {name!r} is not a replay report name", "name")
        path = safe_path(state.data_dir, f"reports/{name}", field="name")
        if not path.is_file():
            raise ApiError(404, f"name: no report {name!r}", "name")
        return FileResponse(path, media_type="text/html")
