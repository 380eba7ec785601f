"""The FastAPI application: JSON API, server-rendered pages, background jobs.

The web layer holds no domain logic. Each page's module (``pages_*.py`` beside this file)
validates its inputs with pydantic models, calls the library, and returns JSON; the pages
draw that JSON with plotly.js, which the app serves itself from the installed ``plotly``
package (``plotly.offline.get_plotlyjs()``), so nothing is fetched from a CDN.

Security (see docs/web.md): binds to 127.0.0.1 by default; request bodies are limited
(1 MiB JSON, 20 MiB uploads, 413 before the body is read when the length is declared);
every path from a request is resolved inside the data directory or refused; errors are JSON
``{"detail": ..., "field": ...}`` naming the field that was wrong.
"""

from __future__ import annotations

import contextlib
import functools
import html
import importlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from string import Template
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from liqcascade import __version__
from liqcascade.errors import DataError, InputError, LiqcascadeError, RuleError
from liqcascade.log import logger
from liqcascade.web.common import ApiError
from liqcascade.web.jobs import JobManager
from liqcascade.web.safety import (
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_UPLOAD_BYTES,
    BodyLimitMiddleware,
    PathOutsideDataDir,
    public_message,
)

WEB_DIR = Path(__file__).resolve().parent
STATIC_DIR = WEB_DIR / "static"
TEMPLATE_DIR = WEB_DIR / "templates"

#: Page modules in navigation order. A page whose library capability is missing is left out.
PAGE_MODULES: tuple[str, ...] = (
    "liqcascade.web.pages_map",
    "liqcascade.web.pages_cascade",
    "liqcascade.web.pages_replay",
    "liqcascade.web.pages_risk",
    "liqcascade.web.pages_policy",
)


@dataclass(frozen=True, kw_only=True)
class WebConfig:
    """Server settings.

    data_dir:
        The only directory requests may read from or write to (uploads go to ``uploads/``).
        Default: ``$LIQCASCADE_WEB_DATA`` or the user data directory + ``/web``.
    db_path:
        DuckDB market-data store used by the map and replay pages (None: the store's default).
    max_body_bytes / max_upload_bytes:
        Request size limits (JSON bodies / multipart uploads), bytes.
    job_workers:
        Threads running background jobs.
    """

    data_dir: Path
    db_path: Path | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    job_workers: int = 2
    pages: tuple[str, ...] = field(default=PAGE_MODULES)


def default_data_dir() -> Path:
    """``$LIQCASCADE_WEB_DATA`` or ``<user data dir>/liqcascade/web``."""
    env = os.environ.get("LIQCASCADE_WEB_DATA")
    if env:
        return Path(env)
    from platformdirs import user_data_dir

    return Path(user_data_dir("liqcascade")) / "web"


@dataclass
class AppState:
    """What routes share: the config, the job manager, and the loaded pages."""

    config: WebConfig
    jobs: JobManager
    pages: list[Any]
    cache: dict[str, Any] = field(default_factory=dict)

    @property
    def data_dir(self) -> Path:
        return self.config.data_dir


@functools.lru_cache(maxsize=1)
def plotly_js() -> str:
    """The plotly.js bundle shipped inside the installed plotly package (no CDN)."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def render_page(
    state: AppState, *, title: str, body: str, script: str | None = None, active: str = ""
) -> HTMLResponse:
    """Wrap a page body in the shared layout (navigation lists only the pages that exist)."""
    nav = "\n".join(
        f'<a href="{p.path}" class="{"active" if p.path == active else ""}" '
        f'data-testid="nav-{p.slug}">{html.escape(p.title)}</a>'
        for p in (mod.PAGE for mod in state.pages)
    )
    scripts = ""
    if script:
        scripts = (
            '<script src="/static/plotly.min.js"></script>\n'
            f'<script src="/static/app.js"></script>\n<script src="/static/{script}"></script>'
        )
    layout = Template((TEMPLATE_DIR / "base.html").read_text(encoding="utf-8"))
    return HTMLResponse(
        layout.substitute(
            title=html.escape(title), nav=nav, body=body, scripts=scripts, version=__version__
        )
    )


#: The status line and progress bar under a page's form (app.js writes to both by test id).
RUN_STATUS = (
    '<div class="status" data-testid="status"></div>\n'
    '<div class="progress" data-testid="progress"><div></div></div>'
)


def _page_route(state: AppState, mod: Any) -> Any:
    """The HTML route of page module ``mod``: its body in the shared layout, with its script."""
    info = mod.PAGE

    def page() -> HTMLResponse:
        body_of = getattr(mod, "page_body", None)
        body = body_of(state) if body_of else read_template(f"{info.slug}.html")
        return render_page(
            state, title=info.title, body=body, script=f"{info.slug}.js", active=info.path
        )

    return page


def read_template(name: str, **values: str) -> str:
    """A page fragment from ``templates/`` with ``$name`` placeholders filled (values are HTML;
    ``$run_status`` is the shared status line and progress bar)."""
    text = (TEMPLATE_DIR / name).read_text(encoding="utf-8")
    return Template(text).substitute({"run_status": RUN_STATUS, **values})


def _loc_to_field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header", "form"):
        parts = parts[1:] if len(parts) > 1 else parts
    return ".".join(parts)


async def _guess_field(request: Request, message: str) -> str | None:
    """The request field a library message names (``leverage=500 not allowed`` -> ``leverage``).

    Library errors name fields in their own words; when one of the request's own keys appears in
    the message as ``key=``, ``key:``, ``key must`` or ``unknown key``, report it as the field.
    """
    keys: list[str] = []
    try:
        body = await request.json()
    except Exception:
        body = None

    def walk(obj: Any, prefix: str) -> None:
        if isinstance(obj, dict):
            for k, v in obj.items():
                keys.append(f"{prefix}{k}")
                walk(v, f"{prefix}{k}.")

    walk(body, "")
    keys.extend(request.query_params.keys())
    best: tuple[int, str] | None = None
    for key in keys:
        leaf = key.rsplit(".", 1)[-1]
        for pat in (f"{leaf}=", f"{leaf}:", f"{leaf} must", f"unknown {leaf}"):
            pos = message.find(pat)
            if pat.startswith("unknown"):
                pos = pos + len("unknown ") if pos >= 0 else pos
            if pos >= 0 and (
                pos == 0 or not (message[pos - 1].isalnum() or message[pos - 1] == "_")
            ):
                if best is None or pos < best[0]:
                    best = (pos, key)
                break
    return best[1] if best else None


def create_app(config: WebConfig | None = None, **overrides: Any) -> FastAPI:
    """Build the application.

    ``create_app(data_dir=..., db_path=...)`` is a shortcut for ``create_app(WebConfig(...))``.
    """
    if config is None:
        overrides.setdefault("data_dir", default_data_dir())
        config = WebConfig(**overrides)
    data_dir = Path(config.data_dir).expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "uploads").mkdir(exist_ok=True)
    config = replace(config, data_dir=data_dir)

    pages: list[Any] = []
    for modname in config.pages:
        try:
            mod = importlib.import_module(modname)
        except ImportError as exc:
            logger.info("web page %s left out: %s", modname, exc)
            continue
        reason = mod.PAGE.missing()
        if reason is None and hasattr(mod, "missing_capability"):
            reason = mod.missing_capability()
        if reason:
            logger.info("web page %s left out: %s", modname, reason)
            continue
        pages.append(mod)

    jobs = JobManager(
        max_workers=config.job_workers, scrub=lambda msg: public_message(msg, data_dir)
    )

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        jobs.shutdown()

    app = FastAPI(
        lifespan=lifespan,
        title="liqcascade",
        version=__version__,
        description="Liquidation cascades in crypto perpetual futures: HTTP API behind the dashboard.",
        # FastAPI's Swagger/ReDoc pages load their scripts from a CDN; the dashboard works offline,
        # so only the schema itself is served (/openapi.json).
        docs_url=None,
        redoc_url=None,
    )
    state = AppState(config=config, jobs=jobs, pages=pages)
    app.state.lc = state
    app.add_middleware(
        BodyLimitMiddleware,
        max_body_bytes=config.max_body_bytes,
        max_upload_bytes=config.max_upload_bytes,
    )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        bad_json = [e for e in exc.errors() if e.get("type") == "json_invalid"]
        if bad_json:  # the body is not JSON at all: 400 (docs/web.md), not a field error
            e = bad_json[0]
            loc = e.get("loc", ())
            pos = loc[-1] if len(loc) > 1 and isinstance(loc[-1], int) else None
            why = (e.get("ctx") or {}).get("error") or e.get("msg", "")
            where = f" at character {pos}" if pos is not None else ""
            return JSONResponse(
                status_code=400,
                content={
                    "detail": f"body: malformed JSON{where} ({why}); expected a JSON object",
                    "field": "body",
                },
            )
        errors = []
        for e in exc.errors():
            errors.append(
                {
                    "field": _loc_to_field(e.get("loc", ())),
                    "message": e.get("msg", ""),
                    "type": e.get("type", ""),
                }
            )
        first = errors[0] if errors else {"field": None, "message": "invalid request"}
        return JSONResponse(
            status_code=422,
            content={
                "detail": f"{first['field']}: {first['message']}",
                "field": first["field"],
                "errors": errors,
            },
        )

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(
            status_code=exc.status_code,
            content={"detail": public_message(exc.detail, data_dir), "field": exc.field},
        )

    @app.exception_handler(PathOutsideDataDir)
    async def _path_error(_: Request, exc: PathOutsideDataDir) -> JSONResponse:
        field_name = str(exc).split(":", 1)[0]
        return JSONResponse(
            status_code=400,
            content={"detail": str(exc), "field": field_name, "error_type": "PathOutsideDataDir"},
        )

    @app.exception_handler(LiqcascadeError)
    async def _library_error(request: Request, exc: LiqcascadeError) -> JSONResponse:
        status = 422 if isinstance(exc, (InputError, RuleError, DataError)) else 400
        field_name = getattr(exc, "field", None) or await _guess_field(request, str(exc))
        return JSONResponse(
            status_code=status,
            content={
                "detail": public_message(str(exc), data_dir),
                "field": field_name,
                "error_type": type(exc).__name__,
            },
        )

    @app.exception_handler(Exception)
    async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
        # a bug, not bad input: the trace goes to the log, the client gets JSON without paths
        logger.error("%s %s crashed", request.method, request.url.path, exc_info=exc)
        return JSONResponse(
            status_code=500,
            content={
                "detail": f"internal error: {type(exc).__name__} (see the server log)",
                "field": None,
                "error_type": type(exc).__name__,
            },
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            status_code=exc.status_code,
            content={"detail": exc.detail, "field": None},
            headers=getattr(exc, "headers", None),
        )

    @app.get("/static/plotly.min.js", include_in_schema=False)
    def _plotly() -> Response:
        return Response(
            plotly_js(),
            media_type="application/javascript",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/api/health", tags=["server"])
    def health() -> dict[str, Any]:
        """Liveness and what the server offers (pages present, version, data directory)."""
        return {
            "status": "ok",
            "version": __version__,
            "pages": [p.PAGE.slug for p in state.pages],
            "data_dir": str(state.data_dir),
        }

    @app.get("/api/jobs", tags=["jobs"])
    def list_jobs() -> list[dict[str, Any]]:
        """Every remembered job (without results), oldest first."""
        return [j.as_dict(with_result=False) for j in state.jobs.list()]

    @app.get("/api/jobs/{job_id}", tags=["jobs"])
    def get_job(job_id: str) -> dict[str, Any]:
        """State, progress (0..1) and, once done, the result of a background job."""
        job = state.jobs.get(job_id)
        if job is None:
            raise ApiError(404, f"job_id: no job {job_id!r} (unknown or expired)", "job_id")
        return job.as_dict()

    @app.delete("/api/jobs/{job_id}", tags=["jobs"])
    def cancel_job(job_id: str) -> dict[str, Any]:
        """Ask a job to stop at its next progress report."""
        job = state.jobs.cancel(job_id)
        if job is None:
            raise ApiError(404, f"job_id: no job {job_id!r} (unknown or expired)", "job_id")
        return job.as_dict(with_result=False)

    from liqcascade.web import books

    books.register(app, state)

    for page in pages:
        page.register(app, state)
        app.get(page.PAGE.path, response_class=HTMLResponse, include_in_schema=False)(
            _page_route(state, page)
        )

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index() -> HTMLResponse:
        cards = "\n".join(
            f'<li><a href="{p.path}" data-testid="index-{p.slug}">{html.escape(p.title)}</a>'
            f" &mdash; {html.escape(p.blurb)}</li>"
            for p in (mod.PAGE for mod in pages)
        )
        body = read_template(
            "index.html", cards=cards or "<li>No pages: the library capabilities are missing.</li>"
        )
        return render_page(state, title="liqcascade", body=body, active="/")

    return app


def raise_http(status: int, detail: str, field: str | None = None) -> None:
    """Raise an ``ApiError`` (routes use this for 4xx with a named field)."""
    raise ApiError(status, detail, field)


__all__ = [
    "ApiError",
    "AppState",
    "HTTPException",
    "WebConfig",
    "create_app",
    "default_data_dir",
    "plotly_js",
    "raise_http",
    "read_template",
    "render_page",
]
