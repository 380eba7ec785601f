"""Numbers as people read them (liqcascade.fmt): the module's examples, and the rules they
follow for any value."""

from __future__ import annotations

import doctest
import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from liqcascade import fmt

finite = st.floats(min_value=-1e13, max_value=1e13, allow_nan=False, allow_infinity=False)


def test_module_examples_run() -> None:
    res = doctest.testmod(fmt)
    assert res.attempted >= 8 and res.failed == 0


def test_the_issue_example() -> None:
    assert fmt.money(43_635_070.9272, "USDT") == "43.64M USDT"
    assert "43,635,070.9272" not in fmt.money(43_635_070.9272)


@given(finite)
def test_money_is_short_and_keeps_sign_and_magnitude(v: float) -> None:
    text = fmt.money(v)
    assert len(text) <= 12
    if text == "0":  # below the ledger's tolerance an amount is rounding noise
        from liqcascade.ledger import AMOUNT_TOL_QUOTE

        assert abs(v) < max(AMOUNT_TOL_QUOTE, 5e-3)
        return
    assert text.startswith("-") == (v < 0)
    # read back, the shown value is within the precision shown
    m = re.fullmatch(r"(-?[\d,]*\.?\d*(?:e-?\d+)?)([MB]?)", text)
    assert m, text
    scale = {"": 1.0, "M": 1e6, "B": 1e9}[m.group(2)]
    back = float(m.group(1).replace(",", "")) * scale
    assert math.isclose(back, v, rel_tol=0.01, abs_tol=0.01), (v, text)


@given(st.floats(min_value=-10, max_value=10, allow_nan=False))
def test_fractions_are_percentages(v: float) -> None:
    text = fmt.frac(v)
    assert text.endswith("%")
    assert math.isclose(float(text[:-1]) / 100, v, abs_tol=5e-5)
    assert fmt.frac(abs(v) + 1e-9, signed=True).startswith("+")


@pytest.mark.parametrize("kind", sorted(fmt.KINDS))
def test_every_kind_shows_missing_values_as_a_dash(kind: str) -> None:
    assert fmt.cell(None, kind) == fmt.MISSING
    if kind != "text":
        assert fmt.cell(float("nan"), kind) == fmt.MISSING


def test_prices_are_never_abbreviated() -> None:
    assert fmt.price(3_456_789.126) == "3,456,789.13"
    assert fmt.price(0.000123456) == "0.00012346"
    assert fmt.size(2_500_000) == "2.50M"


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown cell kind 'money2'"):
        fmt.cell(1.0, "money2")
