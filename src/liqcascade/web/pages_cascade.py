"""Cascade simulator page and API: static mode (``liqcascade.engine.static``) and, when the
dynamic engine is installed, the time-stepped mode (``liqcascade.engine.dynamic``) as a job.

The web only validates, picks the book and impact model, and calls the library. Indexed books
(``StaticCascade``) are cached by (book file, mtime, venue, symbol, impact), so repeated shocks on
a 100k-position book cost microseconds (the load benchmark measures this path).
"""

from __future__ import annotations

import html
import importlib.resources
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.concurrency import run_in_threadpool

from liqcascade.errors import InputError
from liqcascade.funds import LOSS_FIELDS
from liqcascade.web.books import BookRef
from liqcascade.web.common import arrays_to_lists, clean_json, frame_records, json_response
from liqcascade.web.safety import safe_path

PATH = "/cascade"
SLUG = "cascade"
TITLE = "Cascade simulator"
BLURB = "shock a position book: final price, liquidations, cascade multiplier, shock ladder."


def missing_capability() -> str | None:
    """None when the static engine, book and impact modules are importable."""
    try:
        from liqcascade.book import PositionBook  # noqa: F401
        from liqcascade.engine.static import StaticCascade  # noqa: F401
        from liqcascade.impact import DepthCurveImpact, LinearImpact, SqrtImpact  # noqa: F401
    except ImportError as exc:
        return f"static cascade engine not installed ({exc})"
    return None


def dynamic_available() -> bool:
    try:
        from liqcascade.engine.dynamic import simulate_shock  # noqa: F401
    except ImportError:
        return False
    return True


def sample_bookdepth_files() -> dict[str, Path]:
    """Shipped Binance bookDepth snapshots by file name."""
    root = Path(str(importlib.resources.files("liqcascade") / "sample_data"))
    return {p.name: p for p in sorted(root.rglob("*bookDepth*.csv"))}


class ImpactSpec(BaseModel):
    """How forced orders move the price (``liqcascade.impact``).

    * ``linear``: ``depth_1pct_base`` base units move the price 1%.
    * ``sqrt``: ``x = y * sigma_daily * sqrt(V / adv_base)``.
    * ``depth``: a Binance bookDepth snapshot: ``depth_file`` is a shipped sample name
      (``depth_source="sample"``) or a data-directory relative path (``"data"``); ``depth_at`` the
      snapshot time (``HH:MM`` or ISO), default the first.
    """

    model_config = ConfigDict(extra="forbid")
    model: Literal["linear", "sqrt", "depth"] = "linear"
    depth_1pct_base: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    y: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    sigma_daily: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    adv_base: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    depth_source: Literal["sample", "data"] = "sample"
    depth_file: str | None = Field(default=None, max_length=400)
    depth_at: str | None = Field(default=None, max_length=40)

    @model_validator(mode="after")
    def _needs(self) -> ImpactSpec:
        need = {
            "linear": ("depth_1pct_base",),
            "sqrt": ("y", "sigma_daily", "adv_base"),
            "depth": ("depth_file",),
        }
        for name in need[self.model]:
            if getattr(self, name) is None:
                raise ValueError(f"impact model {self.model!r} needs {name}")
        return self

    def key(self) -> tuple[Any, ...]:
        return tuple(self.model_dump().values())


def build_impact(spec: ImpactSpec, data_dir: Path) -> Any:
    """The library impact model for ``spec`` (depth files resolved inside allowed folders only)."""
    from liqcascade.impact import DepthCurveImpact, LinearImpact, SqrtImpact

    # ImpactSpec._needs has checked that the chosen model's fields are set
    if spec.model == "linear":
        assert spec.depth_1pct_base is not None
        return LinearImpact(float(spec.depth_1pct_base))
    if spec.model == "sqrt":
        assert spec.y is not None and spec.sigma_daily is not None and spec.adv_base is not None
        return SqrtImpact(
            y=float(spec.y), sigma_daily=float(spec.sigma_daily), adv_base=float(spec.adv_base)
        )
    assert spec.depth_file is not None
    if spec.depth_source == "sample":
        files = sample_bookdepth_files()
        if spec.depth_file not in files:
            raise InputError(
                f"impact.depth_file: no shipped bookDepth file {spec.depth_file!r} (expected one of {sorted(files)})"
            )
        path = files[spec.depth_file]
    else:
        path = safe_path(data_dir, spec.depth_file, field="impact.depth_file")
        if not path.is_file():
            raise InputError(
                f"impact.depth_file: no file {spec.depth_file!r} in the data directory"
            )
    return DepthCurveImpact.from_bookdepth(path, at=spec.depth_at or None)


def describe_impact(model: Any, spec: ImpactSpec) -> str:
    """The model's own description, without server paths for depth files."""
    if spec.model == "depth":
        return f"depth:{Path(spec.depth_file or '').name}@{getattr(model, 'timestamp', '')}"
    return model.describe() if hasattr(model, "describe") else spec.model


class CascadeRequest(BaseModel):
    """One static shock on one venue/symbol of a book, plus a shock ladder for the chart."""

    model_config = ConfigDict(extra="forbid")
    book: BookRef
    venue: str | None = Field(
        default=None, max_length=40, description="venue to select from the book"
    )
    symbol: str | None = Field(
        default=None, max_length=40, description="symbol to select from the book"
    )
    initial_price: float = Field(gt=0, allow_inf_nan=False, description="P0, quote per base")
    shock: float = Field(
        gt=-1, le=10, allow_inf_nan=False, description="fraction: -0.1 is a 10% drop"
    )
    impact: ImpactSpec
    ladder: bool = Field(
        default=False,
        description="also solve a shock ladder (21 shocks from 0 to twice ``shock``) for the chart",
    )
    ladder_shocks: list[float] | None = Field(
        default=None,
        max_length=401,
        description="solve the ladder at these shocks (fractions) instead of the default grid",
    )

    @model_validator(mode="after")
    def _ladder(self) -> CascadeRequest:
        for i, s in enumerate(self.ladder_shocks or []):
            if not (-1 < s <= 10):
                raise ValueError(f"ladder_shocks[{i}] = {s}: expected a fraction in (-1, 10]")
        return self


class DynamicRequest(CascadeRequest):
    """A time-stepped run (``liqcascade.engine.dynamic.simulate``) as a background job."""

    steps: int = Field(
        default=600,
        ge=1,
        le=100_000,
        description="number of time steps (the run stops a minute after the last event)",
    )
    dt_s: float = Field(
        default=1.0, gt=0, le=3600, allow_inf_nan=False, description="step, seconds"
    )
    seed: int = Field(default=0, ge=0, le=2**63 - 1)


def default_ladder(shock: float) -> list[float]:
    """21 shocks from 0 to twice ``shock`` (capped at -0.95 below)."""
    end = max(2.0 * shock, -0.95) if shock < 0 else min(2.0 * shock, 10.0)
    return [round(end * k / 20, 12) + 0.0 for k in range(0, 21)]


class CascadeService:
    """Caches indexed books (``StaticCascade``) so a shock costs microseconds."""

    def __init__(self, state: Any, max_entries: int = 8) -> None:
        self.state = state
        self.max_entries = max_entries
        self._cache: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._lock = threading.Lock()
        self._building: dict[tuple[Any, ...], threading.Lock] = {}

    def key_of(self, req: CascadeRequest) -> tuple[Any, ...] | None:
        store = self.state.cache["books"]
        try:
            path = store.path_of(req.book)
        except Exception:
            return None
        return (store.key_of(path), req.venue, req.symbol, req.impact.key())

    def cached(self, req: CascadeRequest) -> Any | None:
        """The indexed book for ``req`` if it is already cached (no file parsing), else None."""
        key = self.key_of(req)
        with self._lock:
            return self._cache.get(key) if key is not None else None

    def index(self, req: CascadeRequest) -> Any:
        """The cached ``StaticCascade`` for this book/venue/symbol/impact (built on a miss)."""
        from liqcascade.engine.static import StaticCascade

        key = self.key_of(req)
        with self._lock:
            hit = self._cache.get(key) if key is not None else None
            if hit is not None and key is not None:
                self._cache.move_to_end(key)
                return hit
        book, book_key = self.state.cache["books"].load(req.book)
        key = (book_key, req.venue, req.symbol, req.impact.key())
        with self._lock:
            build_lock = self._building.setdefault(key, threading.Lock())
        with build_lock:  # concurrent first requests index the book once
            with self._lock:
                hit = self._cache.get(key)
            if hit is not None:
                return hit
            impact = build_impact(req.impact, self.state.data_dir)
            idx = StaticCascade(book, impact, venue=req.venue or None, symbol=req.symbol or None)
            with self._lock:
                self._cache[key] = idx
                while len(self._cache) > self.max_entries:
                    self._cache.popitem(last=False)
                self._building.pop(key, None)
        return idx

    def run(self, req: CascadeRequest, idx: Any | None = None) -> dict[str, Any]:
        """Solve ``req`` on its indexed book (``idx`` when the caller already has it)."""
        idx = idx if idx is not None else self.index(req)
        result = idx.solve(req.shock, req.initial_price)
        if req.ladder_shocks is not None:
            shocks = req.ladder_shocks
        else:
            shocks = default_ladder(req.shock) if req.ladder else []
        ladder = arrays_to_lists(idx.solve_arrays(shocks, req.initial_price)) if shocks else None
        venue, symbol = idx.venue_symbol if idx.venue_symbol else (req.venue, req.symbol)
        return {
            "mode": "static",
            "venue": venue,
            "symbol": symbol,
            "positions": int(idx.n_positions),
            "impact": describe_impact(idx.impact, req.impact),
            "result": clean_json(result.as_dict()),
            "ladder": ladder,
        }


class CascadeResponse(BaseModel):
    """Shape of ``POST /api/cascade`` (documentation; NaN is returned as null)."""

    mode: Literal["static"]
    venue: str | None
    symbol: str | None
    positions: int
    impact: str
    result: dict[str, float | int | bool | None]
    ladder: dict[str, list[float | int | bool | None]] | None


def run_dynamic(state: Any, req: DynamicRequest, progress: Any) -> dict[str, Any]:
    """Job body: ``liqcascade.engine.dynamic.simulate_shock`` (the CLI's ``--mode dynamic`` call)."""
    from liqcascade.engine.dynamic import simulate_shock

    progress(0.05, "loading book")
    book, _ = state.cache["books"].load(req.book)
    impact = build_impact(req.impact, state.data_dir)
    progress(0.2, "simulating")
    res = simulate_shock(
        book,
        req.initial_price,
        req.shock,
        impact,
        venue=req.venue or None,
        symbol=req.symbol or None,
        steps=req.steps,
        dt_s=req.dt_s,
        seed=req.seed,
    )
    progress(0.95, "collecting results")
    losses = res.losses.select(["venue", *[c for c in LOSS_FIELDS if c in res.losses.columns]])
    tl = res.timeline.select(
        [
            c
            for c in (
                "step",
                "time_s",
                "venue",
                "price",
                "liquidated_notional_long",
                "liquidated_notional_short",
                "liquidated_count",
                "depth_scale",
                "insurance_fund_quote",
            )
            if c in res.timeline.columns
        ]
    )
    return {
        "mode": "dynamic",
        "seed": res.seed,
        "impact": describe_impact(impact, req.impact),
        "summary": clean_json(res.summary()),
        "timeline": frame_records(tl),
        "losses": frame_records(losses),
    }


def page_body(dynamic_ok: bool) -> str:
    from liqcascade.web.app import read_template

    depth_files = "".join(
        f'<option value="{html.escape(n)}">{html.escape(n)}</option>'
        for n in sample_bookdepth_files()
    )
    mode_opts = '<option value="static">static (fixed point)</option>'
    if dynamic_ok:
        mode_opts += '<option value="dynamic">dynamic (time steps, job)</option>'
    return read_template("cascade.html", depth_files=depth_files, mode_options=mode_opts)


def register(app: FastAPI, state: Any) -> None:
    from liqcascade.web.app import render_page

    service = CascadeService(state)
    state.cache["cascade"] = service
    dyn = dynamic_available()

    @app.post(
        "/api/cascade",
        tags=["cascade"],
        response_model=None,
        responses={200: {"model": CascadeResponse}},
    )
    async def cascade(req: CascadeRequest) -> Response:
        """Static cascade (issue 3 definition): the result of ``shock`` and a shock ladder.

        Returns ``result`` with ``shock, initial_price, shocked_price, final_price,
        liquidated_count, liquidated_base, liquidated_notional, cascade_multiplier,
        book_exhausted, rounds, direction`` and ``ladder`` (the same keys as column lists).

        Runs on the event loop: once the book is indexed (first request; cached by file, venue,
        symbol and impact) a request costs well under a millisecond of library time. The first
        request for a book parses and indexes it in a worker thread.
        """
        idx = service.cached(req)
        if idx is None:
            idx = await run_in_threadpool(service.index, req)
        return json_response(service.run(req, idx))

    @app.get("/api/cascade/options", tags=["cascade"])
    def cascade_options() -> dict[str, Any]:
        """Venues with rulebooks, shipped bookDepth files, and whether the dynamic mode exists."""
        try:
            from liqcascade.venues import list_venues

            venues = list_venues()
        except ImportError:
            venues = []
        return {
            "venues": venues,
            "bookdepth_files": sorted(sample_bookdepth_files()),
            "dynamic": dyn,
        }

    if dyn:

        @app.post("/api/cascade/dynamic", tags=["cascade"])
        def cascade_dynamic(req: DynamicRequest) -> dict[str, Any]:
            """Start a dynamic run as a background job; poll ``/api/jobs/{id}``."""
            job = state.jobs.submit(
                "cascade-dynamic", req.model_dump(), lambda p: run_dynamic(state, req, p)
            )
            return {"job_id": job.id, "status": job.status}

    @app.get(PATH, response_class=HTMLResponse, include_in_schema=False)
    def page() -> HTMLResponse:
        return render_page(
            state, title=TITLE, body=page_body(dyn), script="cascade.js", active=PATH
        )
