"""Numbers as people read them: money with units and thousands separators, fractions as
percentages, prices and sizes at a precision that suits their size.

These functions make display strings only; machine output (CSV, JSON) keeps the raw numbers.
The CLI formats every table cell through :func:`cell`; the web pages and reports can call the
same functions.

Examples
--------
>>> money(43_635_070.9272, "USDT")
'43.64M USDT'
>>> money(43_635.07)
'43,635'
>>> money(-1234.5, "USD")
'-1,234 USD'
>>> frac(0.0123)
'1.23%'
>>> frac(-0.1, signed=True)
'-10.00%'
>>> price(121_543.2109)
'121,543.21'
>>> size(0.012345, "BTC")
'0.01235 BTC'
>>> count(1_000_000)
'1,000,000'
>>> cell(float("nan"), "money")
'-'
"""

from __future__ import annotations

import math
from typing import Any

__all__ = [
    "KINDS",
    "MISSING",
    "cell",
    "count",
    "frac",
    "missing",
    "money",
    "number",
    "price",
    "ratio",
    "seconds",
    "size",
]

#: Shown for a missing value (None or NaN).
MISSING = "-"


def missing(v: Any) -> bool:
    """True for None and NaN (the values a table shows as ``-``)."""
    return v is None or (isinstance(v, float) and math.isnan(v))


def _unit(text: str, unit: str | None) -> str:
    return f"{text} {unit}" if unit else text


def _inf(v: float) -> str:
    return "inf" if v > 0 else "-inf"


def _finite(v: Any, unit: str | None = None) -> float | str:
    """``v`` as a finite float, or the text shown instead: ``-`` when missing, ``inf``/``-inf``
    (with ``unit``) when infinite."""
    if missing(v):
        return MISSING
    v = float(v)
    return _unit(_inf(v), unit) if math.isinf(v) else v


#: Formats by magnitude, largest first: ``(at least, divide by, format spec, suffix)``.
_MONEY_STEPS = (
    (1e9, 1e9, ",.2f", "B"),
    (1e6, 1e6, ",.2f", "M"),
    (1e3, 1, ",.0f", ""),
    (1, 1, ",.2f", ""),
)
_PRICE_STEPS = ((1000, 1, ",.2f", ""), (1, 1, ",.4f", ""))
_SIZE_STEPS = ((1e6, 1e6, ",.2f", "M"), (1000, 1, ",.1f", ""))


def _by_magnitude(
    v: float | None,
    unit: str | None,
    steps: tuple[tuple[float, float, str, str], ...],
    small: str,
    zero_below: float = 0.0,
) -> str:
    """``v`` in the first of ``steps`` its magnitude reaches; ``0`` for zero (and magnitudes
    below ``zero_below``); the ``small`` format spec below the last step."""
    x = _finite(v, unit)
    if isinstance(x, str):
        return x
    if abs(x) < zero_below:
        x = 0.0
    for at_least, scale, spec, suffix in steps:
        if abs(x) >= at_least:
            return _unit(f"{x / scale:{spec}}{suffix}", unit)
    return _unit("0" if x == 0 else f"{x:{small}}", unit)


def money(v: float | None, unit: str | None = None) -> str:
    """An amount of money: ``43.64M USDT``, ``1.25B``, ``43,635``, ``12.50``, ``0.0123``.

    Millions and billions keep two decimals; thousands are whole units with separators; below
    1000 two decimals; below 1, three significant digits. ``unit`` (e.g. ``"USDT"``) is appended.
    """
    from liqcascade.ledger import AMOUNT_TOL_QUOTE

    # below AMOUNT_TOL_QUOTE is rounding noise of the loss accounting, not money: shown as 0
    return _by_magnitude(v, unit, _MONEY_STEPS, ".3g", zero_below=AMOUNT_TOL_QUOTE)


def price(v: float | None, unit: str | None = None) -> str:
    """A price, never abbreviated: ``121,543.21``, ``3.4567``, ``0.0012345``."""
    return _by_magnitude(v, unit, _PRICE_STEPS, ".5g")


def size(v: float | None, unit: str | None = None) -> str:
    """A quantity of the base asset: ``12,345.6``, ``1.235``, ``0.01235``; ``2.50M`` above a
    million."""
    return _by_magnitude(v, unit, _SIZE_STEPS, ",.4g")


def frac(v: float | None, digits: int | None = None, signed: bool = False) -> str:
    """A fraction as a percentage: ``0.0123`` -> ``1.23%`` (``+1.23%`` when ``signed``).

    Two decimals by default, three below 1 % (``0.00325`` -> ``0.325%``, as venues state MMRs).
    """
    x = _finite(v)
    if isinstance(x, str):
        return x
    if digits is None:
        digits = 3 if 0 < abs(x) < 0.01 else 2
    return f"{x:+.{digits}%}" if signed else f"{x:.{digits}%}"


def count(v: float | None) -> str:
    """A whole number with thousands separators."""
    if v is None or missing(v):
        return MISSING
    if isinstance(v, float) and math.isinf(v):
        return _inf(v)
    return f"{int(round(float(v))):,}"


def ratio(v: float | None, digits: int = 3) -> str:
    """A dimensionless ratio such as a cascade multiplier: ``1.234``."""
    x = _finite(v)
    return x if isinstance(x, str) else f"{x:,.{digits}f}"


def number(v: Any) -> str:
    """Any value: floats at six significant digits with separators, booleans as yes/no."""
    if missing(v):
        return MISSING
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        if math.isinf(v):
            return _inf(v)
        a = abs(v)
        if a >= 1e6:
            return f"{v:,.0f}"
        return f"{v:,.6g}"
    return str(v)


def seconds(v: float | None) -> str:
    """A duration in seconds: ``0.42 s``, ``12.3 s``, ``4 min 05 s``."""
    if v is None or missing(v):
        return MISSING
    v = float(v)
    if v < 10:
        return f"{v:.2f} s"
    if v < 120:
        return f"{v:.1f} s"
    m, s = divmod(int(round(v)), 60)
    return f"{m} min {s:02d} s"


def _text(v: Any, unit: str | None = None) -> str:
    return MISSING if v is None else _unit(str(v), unit)


#: Column kinds :func:`cell` understands, and the function each uses.
KINDS = {
    "text": _text,
    "money": money,
    "price": price,
    "size": size,
    "frac": lambda v, unit=None: frac(v),
    "signed_frac": lambda v, unit=None: frac(v, signed=True),
    # a value already in percent points (12.5 means 12.5 %)
    "pct": lambda v, unit=None: MISSING if missing(v) else frac(float(v) / 100.0),
    "count": lambda v, unit=None: _unit(count(v), unit) if not missing(v) else MISSING,
    "ratio": lambda v, unit=None: ratio(v),
    "leverage": lambda v, unit=None: MISSING if missing(v) else f"{float(v):,.1f}x",
    "number": lambda v, unit=None: _unit(number(v), unit) if not missing(v) else MISSING,
    "seconds": lambda v, unit=None: seconds(v),
    "bool": lambda v, unit=None: MISSING if missing(v) else ("yes" if v else "no"),
}


def cell(v: Any, kind: str = "number", unit: str | None = None) -> str:
    """Format ``v`` as a table cell of the given kind (a key of :data:`KINDS`)."""
    try:
        f = KINDS[kind]
    except KeyError:
        raise ValueError(f"unknown cell kind {kind!r}; expected one of {sorted(KINDS)}") from None
    if isinstance(v, str) and kind != "text":
        return v
    return f(v, unit)
