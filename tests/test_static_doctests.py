"""The Examples sections of the static-engine modules run as tests."""

from __future__ import annotations

import doctest
import importlib

import pytest

# liqcascade.book is a package: its examples live in the submodules it re-exports from
MODULES = [
    "liqcascade.book.positions",
    "liqcascade.book.accounts",
    "liqcascade.impact",
    "liqcascade.engine.static",
    "liqcascade.testing",
]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    if name != "liqcascade.testing":
        assert result.attempted > 0
