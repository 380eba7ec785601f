"""The Examples sections of the dynamic-engine modules run as tests."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["liqcascade.engine.dynamic", "liqcascade.adl"]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    assert result.attempted > 0
