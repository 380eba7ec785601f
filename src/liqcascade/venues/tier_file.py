"""A user tier file (TOML, JSON or CSV) as a config: :class:`TierFile` of :class:`TierRow`.

TOML and JSON files are a table ``{tiers = [...], source_url = ..., effective_date = ...}`` or a
bare list of rows; CSV files are one row per line. Row keys are the fields of :class:`TierRow`;
Binance and ccxt column names (``notionalFloor``, ``maintMarginRatio``, ``initialLeverage``, ...)
are read as their field, and a ``bracket``/``tier`` index column is ignored. Any other key is
refused by name (:mod:`liqcascade.config`).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Annotated, Any

import msgspec

from liqcascade.config import Config, convert, read
from liqcascade.errors import ConfigError

__all__ = ["FIELD_ALIASES", "TierFile", "TierRow", "read_tier_file"]

#: Other names of each row field (Binance leverageBracket, ccxt, Hyperliquid, exports).
FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "floor_quote": (
        "floor_quote",
        "floor",
        "notionalFloor",
        "minNotional",
        "lower_bound_usd",
        "lower_bound",
    ),
    "cap_quote": ("cap_quote", "cap", "notionalCap", "maxNotional"),
    "mmr": ("mmr", "maintMarginRatio", "maintenanceMarginRate", "maintenance_margin_rate"),
    "cum_quote": ("cum_quote", "cum", "maintenance_amount", "deduction", "mmDeduction"),
    "max_leverage": ("max_leverage", "maxLeverage", "initialLeverage", "leverage"),
}
_IGNORED = ("bracket", "tier")
_CANONICAL = {alias: name for name, aliases in FIELD_ALIASES.items() for alias in aliases}


class TierRow(Config, frozen=True, kw_only=True):
    """One tier: notional from ``floor_quote`` (quote currency) up to ``cap_quote`` (default:
    the next floor), maintenance rate ``mmr`` (fraction; default ``1/(2*max_leverage)``),
    maintenance amount ``cum_quote`` (default: derived by the recurrence, else checked)."""

    floor_quote: Annotated[float, msgspec.Meta(ge=0.0)]
    max_leverage: Annotated[float, msgspec.Meta(gt=0.0)]
    mmr: Annotated[float, msgspec.Meta(gt=0.0, lt=1.0)] | None = None
    cap_quote: Annotated[float, msgspec.Meta(gt=0.0)] | None = None
    cum_quote: float | None = None


class TierFile(Config, frozen=True, kw_only=True):
    """A tier file: the rows and where they come from (fees are fractions of notional)."""

    tiers: list[TierRow]
    symbol: str | None = None
    formula: str | None = None
    liquidation_fee_rate: Annotated[float, msgspec.Meta(ge=0.0, lt=1.0)] | None = None
    taker_fee_rate: Annotated[float, msgspec.Meta(ge=0.0, lt=1.0)] | None = None
    source_url: str | None = None
    effective_date: str | None = None

    def check(self) -> None:
        if not self.tiers:
            raise ConfigError("tiers: expected at least one tier row")


def canonical_row(row: dict[str, Any]) -> dict[str, Any]:
    """Row keys as :class:`TierRow` fields (aliases renamed, empty cells and index dropped)."""
    out: dict[str, Any] = {}
    for key, val in row.items():
        if key in _IGNORED or val is None or val == "":
            continue
        name = _CANONICAL.get(key, key)
        out.setdefault(name, val)  # the first alias given wins
    return out


def read_tier_file(path: str | Path) -> TierFile | dict[str, Any]:
    """The validated tier file; or, when the rows are in ccxt's form (``minNotional`` with
    ``maintenanceMarginRate``; read by :func:`liqcascade.venues.from_ccxt_tiers`), the file as a
    dict ``{"tiers": rows, ...}``."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in (".json", ".toml", ".csv"):
        raise ConfigError(f"{p}: unknown tier-file type {suffix!r}; expected .json, .toml or .csv")
    if suffix == ".csv":
        if not p.is_file():
            raise ConfigError(f"{p}: tier file not found")
        with p.open(newline="", encoding="utf-8") as fh:
            rows: Any = list(csv.DictReader(fh))
        if not rows:
            raise ConfigError(f"{p.name}: expected at least one tier row")
        # CSV cells are text: numbers are parsed (strict=False), each row named by its line
        return TierFile(
            tiers=[
                convert(canonical_row(r), TierRow, name=f"{p.name} row {i + 1}", strict=False)
                for i, r in enumerate(rows)
            ]
        )
    data: Any = _read_any(p)
    doc: dict[str, Any] = data if isinstance(data, dict) else {"tiers": data}
    rows = doc.get("tiers")
    if (
        isinstance(rows, list)
        and rows
        and all(
            isinstance(r, dict) and "minNotional" in r and "maintenanceMarginRate" in r
            for r in rows
        )
    ):
        return doc
    if isinstance(rows, list):
        doc = {**doc, "tiers": [canonical_row(r) if isinstance(r, dict) else r for r in rows]}
    return convert(doc, TierFile, name=p.name)


def _read_any(p: Path) -> Any:
    if p.suffix.lower() == ".toml":
        return read(p, what="tier")
    import json

    if not p.is_file():
        raise ConfigError(f"{p}: tier file not found")
    try:
        return json.loads(p.read_text("utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{p.name}: invalid JSON: {exc}") from None
