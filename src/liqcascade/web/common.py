"""Small shared pieces of the web layer."""

from __future__ import annotations

import math
from typing import Any


class ApiError(Exception):
    """An error a route raises to return ``{"detail", "field"}`` with a status code."""

    def __init__(self, status_code: int, detail: str, field: str | None = None) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail
        self.field = field


def clean_json(obj: Any) -> Any:
    """Make library results JSON-safe: numpy scalars/arrays to Python, NaN/inf to None."""
    try:
        import numpy as np
    except ImportError:  # pragma: no cover
        np = None
    if isinstance(obj, dict):
        return {str(k): clean_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean_json(v) for v in obj]
    if np is not None:
        if isinstance(obj, np.ndarray):
            return clean_json(obj.tolist())
        if isinstance(obj, np.generic):
            obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


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
        import json

        body = json.dumps(clean_json(obj), allow_nan=False).encode()
    else:
        body = orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY)  # NaN/inf -> null
    return Response(content=body, media_type="application/json", status_code=status_code)
