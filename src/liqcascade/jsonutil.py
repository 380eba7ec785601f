"""How results write themselves out: the one NaN-to-null rule for JSON written by liqcascade
(CLI ``--json``, web responses, result files), and the dicts and polars schemas derived from a
result's declared fields.

JSON has no NaN or infinity; a missing or unbounded figure is written as ``null``. numpy scalars
and arrays become plain Python values, tuples become lists and dict keys become strings.
:func:`fields_dict` gives a result's fields as the dict it writes out (declared order, some
fields renamed or left out) and :func:`frame_schema` the polars schema of rows declared as a
``TypedDict``, so neither list of names is written again by hand.

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
import types
import typing
from collections.abc import Collection, Mapping
from dataclasses import asdict, fields
from typing import Any

import numpy as np

__all__ = ["AsDict", "dumps", "fields_dict", "frame_schema", "to_jsonable"]


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


def fields_dict(
    obj: Any, *, omit: Collection[str] = (), rename: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The fields of the dataclass ``obj`` in declared order, as the dict it writes out.

    ``omit`` names fields left out, ``rename`` maps a field to the key it is written under, and
    a polars frame becomes its list of row dicts; other values are kept as they are (not copied).

    Examples
    --------
    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Run:
    ...     source: str
    ...     seed: int
    ...     seconds: float
    >>> fields_dict(Run("a.toml", 7, 1.5), omit={"seconds"}, rename={"source": "params"})
    {'params': 'a.toml', 'seed': 7}
    """
    import polars as pl

    names = rename or {}
    out: dict[str, Any] = {}
    for f in fields(obj):
        if f.name in omit:
            continue
        value = getattr(obj, f.name)
        out[names.get(f.name, f.name)] = (
            value.to_dicts() if isinstance(value, pl.DataFrame) else value
        )
    return out


def frame_schema(row_type: type) -> dict[str, Any]:
    """The polars schema of rows of ``row_type`` (a ``TypedDict``): its fields in order, ``str``
    as String, ``float`` as Float64, ``int`` as Int64, ``bool`` as Boolean; ``X | None`` as X.

    Examples
    --------
    >>> from typing import TypedDict
    >>> class Row(TypedDict):
    ...     name: str
    ...     p: float | None
    >>> frame_schema(Row)
    {'name': String, 'p': Float64}
    """
    import polars as pl

    dtypes: dict[Any, Any] = {str: pl.String, float: pl.Float64, int: pl.Int64, bool: pl.Boolean}
    schema: dict[str, Any] = {}
    for name, hint in typing.get_type_hints(row_type).items():
        if isinstance(hint, types.UnionType):
            kept = [a for a in hint.__args__ if a is not type(None)]
            hint = kept[0] if len(kept) == 1 else hint
        if hint not in dtypes:
            raise TypeError(f"{row_type.__name__}.{name}: {hint!r} has no polars dtype here")
        schema[name] = dtypes[hint]
    return schema
