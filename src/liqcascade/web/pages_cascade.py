"""Cascade simulator page and API: static mode (``liqcascade.engine.static``) and, when the
dynamic engine is installed, the time-stepped mode (``liqcascade.engine.dynamic``) as a job.

The web only validates, picks the book and impact model, and calls the library. Indexed books
(``StaticCascade``) are cached by (book file, mtime, venue, symbol, impact), so repeated shocks on
a 100k-position book cost microseconds (the load benchmark measures this path).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
from fastapi import FastAPI
from fastapi.responses import Response
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    model_validator,
)
from starlette.concurrency import run_in_threadpool

from liqcascade.config import json_schema
from liqcascade.errors import ConfigError, InputError
from liqcascade.funds import LOSS_FIELDS
from liqcascade.impact_config import (
    DepthImpactConfig,
    ImpactConfig,
    impact_config,
    sample_bookdepth_files,
)
from liqcascade.impact_config import build_impact as build_library_impact
from liqcascade.web.books import BookRef
from liqcascade.web.common import (
    ApiError,
    PageInfo,
    arrays_to_lists,
    clean_json,
    frame_records,
    json_response,
    options_html,
)
from liqcascade.web.safety import safe_path

PAGE = PageInfo(
    path="/cascade",
    slug="cascade",
    title="Cascade simulator",
    blurb="shock a position book: final price, liquidations, cascade multiplier, shock ladder.",
    needs=(
        "liqcascade.book:PositionBook",
        "liqcascade.engine.static:StaticCascade",
        "liqcascade.impact_config:build_impact",
    ),
    capability="static cascade engine",
)


def dynamic_available() -> bool:
    try:
        from liqcascade.engine.dynamic import simulate_shock  # noqa: F401
    except ImportError:
        return False
    return True


def impact_from_body(raw: Any) -> ImpactConfig:
    """The request's ``impact`` as the library's impact config (:mod:`liqcascade.impact_config`).

    The request uses the config's own field names (or the CLI's short form, ``"linear:500"``); an
    error names the field inside ``impact``.
    """
    if isinstance(raw, msgspec.Struct):  # a config already (a request built in Python)
        raw = msgspec.to_builtins(raw)
    if not isinstance(raw, dict | str):
        raise ApiError(422, f"impact: expected an object with 'model', got {raw!r}", "impact")
    try:
        return impact_config(raw, name="impact")
    except ConfigError as exc:
        where = str(exc).split(": ", 2)
        field = "impact." + where[1] if len(where) == 3 else "impact"
        raise ApiError(422, str(exc), field) from None
    except InputError as exc:
        raise ApiError(422, str(exc), "impact") from None


#: The request's ``impact``: validated by the library config, described in OpenAPI by its schema.
ImpactField = Annotated[
    Any,
    BeforeValidator(impact_from_body),
    PlainSerializer(lambda cfg: msgspec.to_builtins(cfg), return_type=dict),
    WithJsonSchema(json_schema(ImpactConfig)),
]


def build_impact(spec: ImpactConfig, data_dir: Path) -> Any:
    """The library impact model for ``spec``; ``depth_source="file"`` paths stay inside ``data_dir``."""

    def inside_data_dir(name: str) -> Path:
        path = safe_path(data_dir, name, field="impact.depth_file")
        if not path.is_file():
            raise InputError(f"impact.depth_file: no file {name!r} in the data directory")
        return path

    return build_library_impact(spec, resolve_file=inside_data_dir)


def describe_impact(model: Any, spec: ImpactConfig) -> str:
    """The model's own description, without server paths for depth files."""
    if isinstance(spec, DepthImpactConfig):
        return f"depth:{Path(spec.depth_file).name}@{getattr(model, 'timestamp', '')}"
    return str(model.describe())


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
    impact: ImpactField = Field(description="impact model config (liqcascade.impact_config)")
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
        return (store.key_of(path), req.venue, req.symbol, req.impact)

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
        key = (book_key, req.venue, req.symbol, req.impact)
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
        venue, symbol = idx.venue_symbol if idx.venue_symbol else (req.venue, req.symbol)
        impact = describe_impact(idx.impact, req.impact)
        out: dict[str, Any] = {
            "mode": "static",
            "venue": venue,
            "symbol": symbol,
            "positions": int(idx.n_positions),
            "impact": impact,
            "result": clean_json(result.as_dict()),
            "ladder": None,
        }
        if shocks:
            arrays = idx.solve_arrays(shocks, req.initial_price)
            out["ladder"] = arrays_to_lists(arrays)
            import polars as pl

            from liqcascade.engine.static import CascadeLadder
            from liqcascade.plotting import figure_json

            lad = CascadeLadder(pl.DataFrame(arrays), label=f"{venue} {symbol}, {impact}")
            out["figures"] = {k: figure_json(lad.plot(k)) for k in ("price", "liquidations")}
        return out


class CascadeResponse(BaseModel):
    """Shape of ``POST /api/cascade`` (documentation; NaN is returned as null)."""

    mode: Literal["static"]
    venue: str | None
    symbol: str | None
    positions: int
    impact: str
    result: dict[str, float | int | bool | None]
    ladder: dict[str, list[float | int | bool | None]] | None
    figures: dict[str, dict[str, Any]] | None = Field(
        default=None,
        description="with a ladder: the library's figures (CascadeLadder.plot 'price' and "
        "'liquidations') as plotly JSON",
    )


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
    from liqcascade.plotting import figure_json

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
        "figures": {k: figure_json(res.plot(k)) for k in ("path", "losses")},
    }


def page_body(state: Any) -> str:
    from liqcascade.web.app import read_template

    modes = [("static", "static (fixed point)")]
    if dynamic_available():
        modes.append(("dynamic", "dynamic (time steps, job)"))
    return read_template(
        "cascade.html",
        depth_files=options_html(sorted(sample_bookdepth_files())),
        mode_options=options_html(modes),
    )


def register(app: FastAPI, state: Any) -> None:
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
