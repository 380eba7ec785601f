"""The Examples in the margin/venue docstrings run as tests."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "liqcascade.venues",
    "liqcascade.margin",
    "liqcascade.venues.binance_usdm",
    "liqcascade.venues.hyperliquid",
    "liqcascade.venues.bybit",
    "liqcascade.venues.okx",
    "liqcascade.venues.dydx_v4",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
