"""The Examples sections of the risk, metrics and policy modules run as tests."""

from __future__ import annotations

import doctest

import pytest

from liqcascade import metrics, policy, risk


@pytest.mark.parametrize("module", [risk, metrics, policy])
def test_docstring_examples(module):
    res = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert res.attempted > 0
    assert res.failed == 0
