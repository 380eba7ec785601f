"""The one NaN-to-null rule for JSON written by liqcascade (CLI ``--json``, web responses,
result files).

JSON has no NaN or infinity; a missing or unbounded figure is written as ``null``. numpy scalars
and arrays become plain Python values, tuples become lists and dict keys become strings.

Examples
--------
>>> import numpy as np
>>> to_jsonable({"p": np.float64("nan"), "x": (1, float("inf")), 2: np.arange(2)})
{'p': None, 'x': [1, None], '2': [0, 1]}
>>> dumps({"a": float("nan")})
'{"a": null}'
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from typing import Any

import numpy as np

__all__ = ["AsDict", "dumps", "to_jsonable"]


def to_jsonable(obj: Any) -> Any:
    """``obj`` with NaN/inf as ``None``, numpy values as Python ones, tuples as lists."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def dumps(obj: Any, **kwargs: Any) -> str:
    """:func:`json.dumps` of :func:`to_jsonable` (``allow_nan=False``: nothing slips through)."""
    return json.dumps(to_jsonable(obj), allow_nan=False, **kwargs)


class AsDict:
    """Base of the frozen result dataclasses: :meth:`as_dict` gives their fields as plain values."""

    def as_dict(self) -> dict[str, Any]:
        """Plain dict of the fields, nested dataclasses as dicts (:func:`dataclasses.asdict`)."""
        return asdict(self)  # type: ignore[call-overload]
