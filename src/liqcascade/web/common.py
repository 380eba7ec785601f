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
