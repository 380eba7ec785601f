"""The one reader of Binance ``GET /fapi/v1/leverageBracket`` JSON.

The venue rules (:func:`liqcascade.venues.from_binance_leverage_bracket`, the shipped
``binance_usdm`` table) and the data store's ingest (:mod:`liqcascade.data.binance`) both read
brackets through :func:`parse_leverage_brackets`, so a bracket means the same everywhere.

Accepted shapes: the raw API list (``[{"symbol": ..., "brackets": [...]}, ...]``), a single such
object, or a wrapper ``{"data": [...], "source": {...}, "snapshot_time": ...}`` (as in
``sample_data/binance/um``). Values may be JSON numbers or numeric strings. Fields of a bracket:
``notionalFloor``/``notionalCap`` (quote), ``maintMarginRatio`` (fraction), ``cum`` (maintenance
amount, quote; optional), ``initialLeverage`` (the tier's maximum leverage), ``bracket`` (its
number). Source:
https://developers.binance.com/docs/derivatives/usds-margined-futures/account/rest-api/Notional-and-Leverage-Brackets
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from liqcascade.errors import InputError, LiqcascadeError
from liqcascade.venues.base import TierTable

__all__ = [
    "Bracket",
    "BracketFile",
    "BracketSet",
    "is_leverage_brackets",
    "parse_brackets",
    "parse_leverage_brackets",
    "tier_table",
]


@dataclass(frozen=True)
class Bracket:
    """One notional bracket (quote currency; ``mmr`` a fraction)."""

    bracket: int
    floor_quote: float
    cap_quote: float
    mmr: float
    cum_quote: float | None
    max_leverage: float


@dataclass(frozen=True)
class BracketSet:
    """The brackets of one symbol, by rising floor."""

    symbol: str
    brackets: list[Bracket]


@dataclass(frozen=True)
class BracketFile:
    """Every symbol of a response, the wrapper's ``source`` table and its snapshot time (as
    written: ISO text, a date or epoch ms; ``None`` when the wrapper has none)."""

    entries: list[BracketSet]
    source: dict[str, Any] = field(default_factory=dict)
    snapshot: Any = None


def is_leverage_brackets(data: Any) -> bool:
    """Whether decoded JSON looks like a leverageBracket response (list or ``data`` wrapper)."""
    items = data.get("data") if isinstance(data, dict) else data
    return (
        isinstance(items, list)
        and bool(items)
        and isinstance(items[0], dict)
        and "brackets" in items[0]
        and "symbol" in items[0]
    )


def _number(
    b: dict[str, Any], key: str, where: str, error: type[LiqcascadeError], required: bool = True
) -> float | None:
    value = b.get(key)
    if value is None or value == "":
        if required:
            raise error(f"{where}: field {key!r} is missing (a number is required)")
        return None
    if isinstance(value, bool):
        raise error(f"{where}: field {key!r} expected a number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise error(f"{where}: field {key!r} expected a number, got {value!r}") from None


def _required(b: dict[str, Any], key: str, where: str, error: type[LiqcascadeError]) -> float:
    v = _number(b, key, where, error)
    assert v is not None  # _number raises for a missing required field
    return v


def parse_brackets(
    brackets: Any, where: str, *, error: type[LiqcascadeError] = InputError
) -> list[Bracket]:
    """The brackets of one symbol, sorted by floor; ``error`` is raised naming ``where``, the
    bracket and the field that is missing or not a number."""
    if not isinstance(brackets, list) or not brackets:
        raise error(f"{where}: 'brackets' must be a non-empty list")
    out = []
    for j, b in enumerate(brackets, start=1):
        if not isinstance(b, dict):
            raise error(f"{where} bracket {j}: expected an object, got {type(b).__name__}")
        w = f"{where} bracket {b.get('bracket', j)}"
        num = _number(b, "bracket", w, error, required=False)
        out.append(
            Bracket(
                bracket=j if num is None else int(num),
                floor_quote=_required(b, "notionalFloor", w, error),
                cap_quote=_required(b, "notionalCap", w, error),
                mmr=_required(b, "maintMarginRatio", w, error),
                cum_quote=_number(b, "cum", w, error, required=False),
                max_leverage=_required(b, "initialLeverage", w, error),
            )
        )
    return sorted(out, key=lambda x: x.floor_quote)


def parse_leverage_brackets(
    obj: Any, label: str, *, error: type[LiqcascadeError] = InputError
) -> BracketFile:
    """Every symbol's brackets from decoded leverageBracket JSON; ``label`` names the file."""
    source: dict[str, Any] = {}
    snapshot = None
    if isinstance(obj, dict) and "data" in obj:
        source = obj["source"] if isinstance(obj.get("source"), dict) else {}
        snapshot = obj.get("snapshot_time") or source.get("snapshot_date")
        obj = obj["data"]
    if isinstance(obj, dict):
        obj = [obj]
    if not isinstance(obj, list):
        raise error(f"{label}: expected a list of {{symbol, brackets}} objects")
    entries = []
    for i, item in enumerate(obj, start=1):
        sym = item.get("symbol") if isinstance(item, dict) else None
        if not sym:
            raise error(f"{label}: entry {i}: field 'symbol' is missing")
        brackets = parse_brackets(item.get("brackets"), f"{label}: entry {i} ({sym})", error=error)
        entries.append(BracketSet(symbol=str(sym), brackets=brackets))
    return BracketFile(entries=entries, source=source, snapshot=snapshot)


def tier_table(brackets: Sequence[Bracket], name: str) -> TierTable:
    """The venue tier table of one symbol's brackets (``cum`` checked where given)."""
    return TierTable.from_rows(
        [b.floor_quote for b in brackets],
        [b.mmr for b in brackets],
        [b.max_leverage for b in brackets],
        cap_quote=[b.cap_quote for b in brackets],
        cum_quote=[b.cum_quote for b in brackets],
        name=name,
    )
