"""The Examples sections of the risk, metrics and policy modules run as tests."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

from liqcascade import metrics, policy, risk

# risk is a package: its examples live in the submodules it re-exports from
_RISK_MODULES = [
    importlib.import_module(f"liqcascade.risk.{m.name}")
    for m in pkgutil.iter_modules(risk.__path__)
]


def _attempted_failed(module) -> tuple[int, int]:
    res = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    return res.attempted, res.failed


@pytest.mark.parametrize("module", [metrics, policy])
def test_docstring_examples(module):
    attempted, failed = _attempted_failed(module)
    assert attempted > 0
    assert failed == 0


@pytest.mark.parametrize("module", _RISK_MODULES, ids=lambda m: m.__name__)
def test_risk_docstring_examples(module):
    _, failed = _attempted_failed(module)
    assert failed == 0


def test_risk_examples_are_found():
    # prob_liquidation, position_risk and safe_size keep their Examples sections (8 examples)
    assert sum(_attempted_failed(m)[0] for m in _RISK_MODULES) >= 8
