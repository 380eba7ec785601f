"""The one NaN-to-null JSON rule."""

from __future__ import annotations

import doctest
import json
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from liqcascade import jsonutil
from liqcascade.jsonutil import dumps, to_jsonable

_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=5))
_tree = st.recursive(
    _leaf,
    lambda kids: (
        st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=4), kids, max_size=4)
    ),
    max_leaves=20,
)


def test_examples_run():
    res = doctest.testmod(jsonutil)
    assert res.attempted > 0 and res.failed == 0


@given(_tree)
def test_every_finite_value_survives_and_no_nan_is_written(obj):
    text = dumps(obj)  # would raise ValueError on a NaN or inf left behind
    back = json.loads(text)

    def same(a, b):
        if isinstance(a, float) and not math.isfinite(a):
            return b is None
        if isinstance(a, dict):
            return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
        if isinstance(a, list):
            return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
        return a == b

    assert same(obj, back)


def test_numpy_values():
    out = to_jsonable({"a": np.array([1.0, np.nan]), "b": np.int32(3), "c": np.float32(np.inf)})
    assert out == {"a": [1.0, None], "b": 3, "c": None}
    assert type(out["b"]) is int


def test_fields_dict_keeps_declared_order_renames_omits_and_writes_frames_as_rows():
    from dataclasses import dataclass

    import polars as pl

    @dataclass
    class Result:
        source: str
        rows: pl.DataFrame
        extra: dict
        seconds: float

    extra = {"a": 1}
    r = Result("x", pl.DataFrame({"p": [0.5, 1.0]}), extra, 2.0)
    out = jsonutil.fields_dict(r, omit={"seconds"}, rename={"source": "params"})
    assert list(out) == ["params", "rows", "extra"]
    assert out["rows"] == [{"p": 0.5}, {"p": 1.0}]
    assert out["extra"] is extra  # kept as it is, not copied


def test_frame_schema_follows_the_row_type_and_rejects_what_polars_cannot_hold():
    from typing import TypedDict

    import polars as pl

    class Row(TypedDict):
        name: str
        n: int
        ok: bool
        p: float | None

    assert list(jsonutil.frame_schema(Row).items()) == [
        ("name", pl.String),
        ("n", pl.Int64),
        ("ok", pl.Boolean),
        ("p", pl.Float64),
    ]

    class Bad(TypedDict):
        tags: list

    with pytest.raises(TypeError, match="Bad.tags"):
        jsonutil.frame_schema(Bad)
