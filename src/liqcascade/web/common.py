"""Small shared pieces of the web layer."""

from __future__ import annotations

import html
import importlib
import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from liqcascade.jsonutil import dumps
from liqcascade.jsonutil import to_jsonable as clean_json


def options_html(values: Any, selected: str | None = None) -> str:
    """``<option>`` elements for ``values`` (``(value, label)`` pairs or plain values), escaped."""
    out = []
    for item in values:
        value, label = item if isinstance(item, tuple) else (item, item)
        sel = " selected" if selected is not None and value == selected else ""
        out.append(f'<option value="{html.escape(value)}"{sel}>{html.escape(label)}</option>')
    return "".join(out)


@dataclass(frozen=True)
class PageInfo:
    """What a page module declares: its URL, navigation name, title, index blurb and the library
    names it needs (``"module"`` or ``"module:name"``); the app leaves a page out, with the reason
    in the log, when one of them cannot be imported. The page is ``templates/<slug>.html`` (or the
    module's ``page_body(state)``) with ``static/<slug>.js``."""

    path: str
    slug: str
    title: str
    blurb: str
    needs: tuple[str, ...]
    capability: str

    def missing(self) -> str | None:
        """None when every name in ``needs`` imports, else why the page is left out."""
        for need in self.needs:
            module, _, name = need.partition(":")
            try:
                mod = importlib.import_module(module)
                if name:
                    getattr(mod, name)
            except (ImportError, AttributeError) as exc:
                return f"{self.capability} not installed ({exc})"
        return None


class ApiError(Exception):
    """An error a route raises to return ``{"detail", "field"}`` with a status code."""

    def __init__(self, status_code: int, detail: str, field: str | None = None) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail
        self.field = field


def frame_records(df: Any) -> dict[str, list[Any]]:
    """A polars frame as column lists (the form pages and plotly use)."""
    return {name: clean_json(df.get_column(name).to_list()) for name in df.columns}


def _finite_list(arr: Any) -> list[Any]:
    """A numpy array as a list with NaN/inf as None (fast path when all are finite)."""
    import numpy as np

    a = np.asarray(arr)
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        return [x if math.isfinite(x) else None for x in a.tolist()]
    return a.tolist()


def arrays_to_lists(d: dict[str, Any]) -> dict[str, list[Any]]:
    """A dict of numpy arrays (e.g. ``StaticCascade.solve_arrays``) as JSON-ready lists."""
    return {k: _finite_list(v) for k, v in d.items()}


def json_response(obj: Any, status_code: int = 200) -> Any:
    """A JSON response encoded in one pass (orjson when installed), NaN/inf as null.

    FastAPI's default path re-walks returned dicts with ``jsonable_encoder``; for the hot cascade
    endpoint the result is already plain Python, so it is serialised directly.
    """
    from fastapi.responses import Response

    try:
        import orjson
    except ImportError:  # pragma: no cover - orjson is optional
        body = dumps(obj).encode()
    else:
        body = orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY)  # NaN/inf -> null
    return Response(content=body, media_type="application/json", status_code=status_code)


def sample_store_files() -> list[Path]:
    """The shipped files a store needs for the map and replay pages' default examples: BTCUSDT
    1m klines of the shipped days, the bookDepth of 10 Oct 2025, and the 5m price klines of the
    week before (the replay's look-back)."""
    from liqcascade.resources import sample_data_dir

    root = sample_data_dir() / "binance" / "um"
    files = sorted((root / "klines").glob("BTCUSDT-1m-*.csv"))
    files += sorted((root / "bookDepth").glob("BTCUSDT-bookDepth-*.csv"))
    files += [
        p
        for p in sorted((root / "priceKlines").glob("BTCUSDT-5m-2025-10-*.zip"))
        if p.name < "BTCUSDT-5m-2025-10-12"
    ]
    return files


_SAMPLE_STORE_LOCK = threading.Lock()
#: The store built from :func:`sample_store_files`, inside the data directory.
SAMPLE_STORE_NAME = "sample-market.duckdb"


def market_store(state: Any, *, build: bool = True) -> tuple[Path, bool]:
    """The DuckDB store the map and replay pages read, and whether it is the shipped sample.

    The configured store (``--db``) when one is configured, whether or not it exists (a missing
    one is reported by the caller); else the default store when it exists; else a store built
    once in the data directory from the shipped sample data (``liqcascade.data.ingest_paths``),
    so the pages' default examples work on a fresh install.
    """
    from liqcascade.data import default_db_path, ingest_paths
    from liqcascade.errors import DataError

    if state.config.db_path is not None:
        return Path(state.config.db_path), False
    db = default_db_path()
    if db.is_file():
        return db, False
    sample = state.data_dir / SAMPLE_STORE_NAME
    if not build or sample.is_file():
        return sample, True
    with _SAMPLE_STORE_LOCK:
        if not sample.is_file():
            tmp = sample.with_suffix(".building.duckdb")
            tmp.unlink(missing_ok=True)
            report = ingest_paths([str(p) for p in sample_store_files()], db=str(tmp))
            if not report.ok:
                tmp.unlink(missing_ok=True)
                raise DataError(
                    f"db: the shipped sample data could not be stored ({report.failed})"
                )
            tmp.rename(sample)
    return sample, True
