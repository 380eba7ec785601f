"""The one NaN-to-null JSON rule."""

from __future__ import annotations

import doctest
import json
import math

import numpy as np
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
