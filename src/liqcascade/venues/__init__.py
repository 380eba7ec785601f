"""Venue rulebooks: versioned tier tables (data files in ``venues/data``) and their loaders.

>>> from liqcascade.venues import load_venue
>>> rules = load_venue("binance_usdm", "BTCUSDT")
>>> float(rules.tiers.mmr[0]), rules.max_leverage, rules.effective_date
(0.004, 125.0, '2024-10-24')
>>> int(rules.tiers.index(60_000.0))
1

Every table carries its source URL and effective date. Users bring their own tables with
:func:`load_tier_file` (JSON/TOML/CSV), :func:`from_ccxt_tiers` (ccxt's unified
``fetch_leverage_tiers`` structure) or :func:`from_binance_leverage_bracket`
(``GET /fapi/v1/leverageBracket`` JSON).
"""

from __future__ import annotations

import json
import math
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from liqcascade.errors import InputError, RuleError
from liqcascade.venues.base import TierTable, VenueRules, derive_cum
from liqcascade.venues.binance_brackets import parse_brackets, parse_leverage_brackets, tier_table
from liqcascade.venues.tier_file import TierFile, TierRow, read_tier_file

__all__ = [
    "TierFile",
    "TierRow",
    "TierTable",
    "VenueRules",
    "derive_cum",
    "from_binance_leverage_bracket",
    "from_ccxt_tiers",
    "list_symbols",
    "list_venues",
    "load_tier_file",
    "load_venue",
    "normalize_venue",
]

VENUES: tuple[str, ...] = (
    "binance_usdm",
    "hyperliquid",
    "bybit_linear",
    "okx_swap",
    "dydx_v4",
    "generic",
)

_ALIASES = {
    "binance": "binance_usdm",
    "binance_usdm": "binance_usdm",
    "binanceusdm": "binance_usdm",
    "binance_um": "binance_usdm",
    "hyperliquid": "hyperliquid",
    "hl": "hyperliquid",
    "bybit": "bybit_linear",
    "bybit_linear": "bybit_linear",
    "okx": "okx_swap",
    "okx_swap": "okx_swap",
    "okx_swap_linear": "okx_swap",
    "dydx": "dydx_v4",
    "dydx_v4": "dydx_v4",
    "generic": "generic",
}

#: Highest leverage a generic (user-configured) venue accepts, as offered by 2025
#: high-leverage perp venues ("1001x").
GENERIC_MAX_LEVERAGE = 1001.0


def normalize_venue(venue: str) -> str:
    """Canonical venue name, or ``InputError`` listing the known names."""
    key = str(venue).strip().lower().replace("-", "_")
    if key not in _ALIASES:
        raise InputError(f"unknown venue {venue!r}; expected one of {', '.join(VENUES)}")
    return _ALIASES[key]


def list_venues() -> list[str]:
    """Canonical names of the venues with shipped rulebooks."""
    return list(VENUES)


@cache
def _venue_doc(venue: str) -> dict[str, Any]:
    text = (resources.files("liqcascade.venues") / "data" / f"{venue}.json").read_text("utf-8")
    return json.loads(text)


def list_symbols(venue: str, version: str | None = None) -> list[str]:
    """Symbols with a shipped table for ``venue`` (and ``version``, default the venue's default)."""
    doc = _venue_doc(normalize_venue(venue))
    ver = doc["versions"][version or doc["default_version"]]
    return sorted(s for s in ver["symbols"] if s != "*")


def _squash(symbol: str) -> str:
    return "".join(ch for ch in symbol.upper() if ch.isalnum())


def _split_quote(symbol: str) -> tuple[str, str]:
    """(base coin, quote or '') of a symbol spelled in any common way."""
    sq = _squash(symbol.split(":")[0]).removesuffix("PERP").removesuffix("SWAP")
    for quote in ("USDT", "USDC", "USD"):
        if sq.endswith(quote) and len(sq) > len(quote):
            return sq[: -len(quote)], quote
    return sq, ""


def _base_coin(symbol: str) -> str:
    return _split_quote(symbol)[0]


#: Venues listing the same coin against several quotes (their tiers differ by quote).
_MULTI_QUOTE = ("binance_usdm", "bybit_linear", "okx_swap")


def _match_symbol(venue: str, symbol: str, symbols: dict[str, Any]) -> str:
    """Exact name, else the shipped symbol with the same base coin (BTC, BTCUSDT, BTC/USDT:USDT, BTC-USD)."""
    if symbol in symbols:
        return symbol
    want = _squash(symbol)
    for s in symbols:
        if _squash(s) == want:
            return s
    base, quote = _split_quote(symbol)
    hits = [s for s in symbols if _base_coin(s) == base]
    if quote and venue in _MULTI_QUOTE:
        # BTCUSDC is not BTCUSDT on a venue that lists both
        hits = [s for s in hits if _split_quote(s)[1] in ("", quote)]
    if len(hits) == 1:
        return hits[0]
    raise InputError(
        f"unknown symbol {symbol!r} for venue {venue}; shipped: {', '.join(sorted(symbols))} "
        "(load other symbols with load_tier_file / from_ccxt_tiers"
        + (" / from_binance_leverage_bracket)" if venue == "binance_usdm" else ")")
    )


def load_venue(
    venue: str,
    symbol: str = "BTCUSDT",
    *,
    version: str | None = None,
    bracket_file: str | Path | None = None,
    liquidation_fee_rate: float | None = None,
    taker_fee_rate: float | None = None,
) -> VenueRules:
    """Rules of ``symbol`` on ``venue`` from the shipped, versioned tables.

    Parameters
    ----------
    venue:
        ``binance_usdm``, ``hyperliquid``, ``bybit_linear``, ``okx_swap``, ``dydx_v4`` or
        ``generic`` (aliases: binance, hl, bybit, okx, dydx).
    symbol:
        Venue symbol (``BTCUSDT``, ``BTC``, ``BTC-USDT-SWAP``, ``BTC-USD``); common spellings such
        as ``BTC/USDT:USDT`` are matched. Any symbol works on ``generic``.
    version:
        Table version (e.g. ``"2024-10"`` or ``"2025-B"`` for Binance); default: the venue's.
    bracket_file:
        Binance only: a ``/fapi/v1/leverageBracket`` JSON file to take the symbol's brackets from.
    liquidation_fee_rate, taker_fee_rate:
        Override the venue defaults (fractions of notional).
    """
    v = normalize_venue(venue)
    doc = _venue_doc(v)
    if bracket_file is not None:
        if v != "binance_usdm":
            raise InputError(f"bracket_file is a Binance leverageBracket file; venue is {v}")
        rules = from_binance_leverage_bracket(bracket_file, symbol)
        return _with_fees(rules, liquidation_fee_rate, taker_fee_rate)
    ver_name = version or doc["default_version"]
    if ver_name not in doc["versions"]:
        raise InputError(
            f"unknown version {ver_name!r} for {v}; expected one of {', '.join(doc['versions'])}"
        )
    ver = doc["versions"][ver_name]
    symbols = ver["symbols"]
    if "*" in symbols:
        sym, spec = symbol, symbols["*"]
    else:
        sym = _match_symbol(v, symbol, symbols)
        spec = symbols[sym]
    tiers, extra = _tiers_from_spec(v, doc, sym, spec)
    fee = doc.get("liquidation_fee_rate_by_symbol", {}).get(
        sym, doc["liquidation_fee_rate_default"]
    )
    rules = VenueRules(
        venue=v,
        symbol=sym,
        tiers=tiers,
        formula=doc["formula"],
        liquidation_fee_rate=float(fee),
        taker_fee_rate=float(doc["taker_fee_rate"]),
        source_url=ver["source_url"],
        effective_date=ver["effective_date"],
        version=ver_name,
        quote=doc.get("quote", "USDT"),
        price_basis=doc.get("price_basis", "mark"),
        max_leverage_limit=float(doc.get("max_leverage_limit", math.inf)),
        source_note=ver.get("source_note", ""),
        extra=extra,
    )
    return _with_fees(rules, liquidation_fee_rate, taker_fee_rate)


def _with_fees(rules: VenueRules, liq: float | None, taker: float | None) -> VenueRules:
    from dataclasses import replace

    for name, val in (("liquidation_fee_rate", liq), ("taker_fee_rate", taker)):
        if val is not None and not (0.0 <= float(val) < 1.0):
            raise InputError(f"{name}={val!r} must be a fraction in [0, 1)")
    return replace(
        rules,
        liquidation_fee_rate=rules.liquidation_fee_rate if liq is None else float(liq),
        taker_fee_rate=rules.taker_fee_rate if taker is None else float(taker),
    )


def _tiers_from_spec(
    venue: str, doc: dict[str, Any], sym: str, spec: Any
) -> tuple[TierTable, dict[str, Any]]:
    name = f"{venue}:{sym}"
    if venue == "binance_usdm":
        return _tiers_from_brackets(spec, name), {}
    if venue == "hyperliquid":
        return (
            TierTable.from_max_leverage(
                [t["lower_bound_usd"] for t in spec], [t["max_leverage"] for t in spec], name
            ),
            {},
        )
    if venue == "dydx_v4":
        tier_name = spec["liquidity_tier"]
        lt = doc["liquidity_tiers"][tier_name]
        imf = lt["initial_margin_ppm"] / 1e6
        mmf = imf * lt["maintenance_fraction_ppm"] / 1e6
        extra = dict(spec)
        extra.update(lt)
        extra["liquidation_params"] = doc["liquidation_params"]
        return TierTable.from_rows([0.0], [mmf], [1.0 / imf], name=name), extra
    if venue == "generic" and all("mmr" not in t for t in spec):
        return (
            TierTable.from_max_leverage(
                [t["floor_quote"] for t in spec], [t["max_leverage"] for t in spec], name
            ),
            {},
        )
    return (
        TierTable.from_rows(
            [t["floor_quote"] for t in spec],
            [t["mmr"] for t in spec],
            [t["max_leverage"] for t in spec],
            cap_quote=[t.get("cap_quote") for t in spec],
            cum_quote=[t.get("cum_quote") for t in spec],
            name=name,
        ),
        {},
    )


def _num(row: dict[str, Any], key: str, where: str) -> float:
    if key not in row:
        raise InputError(f"{where}: missing field {key!r}")
    try:
        return float(row[key])
    except (TypeError, ValueError) as exc:
        raise InputError(f"{where}: field {key!r}={row[key]!r} is not a number") from exc


def _tiers_from_brackets(brackets: list[dict[str, Any]], name: str) -> TierTable:
    return tier_table(parse_brackets(brackets, name), name)


def from_binance_leverage_bracket(
    source: str | Path | list[Any] | dict[str, Any], symbol: str
) -> VenueRules:
    """Rules for ``symbol`` from a ``GET /fapi/v1/leverageBracket`` response (file or object).

    Accepts the raw API list (``[{"symbol": ..., "brackets": [...]}, ...]``), a single such
    object, or a wrapper dict with a ``data`` list (as in ``sample_data/binance/um``). String
    and number values are both accepted. Source:
    https://developers.binance.com/docs/derivatives/usds-margined-futures/account/rest-api/Notional-and-Leverage-Brackets
    """
    label = "leverageBracket object"
    obj: Any = source
    if isinstance(source, (str, Path)):
        path = Path(source)
        label = str(path)
        try:
            obj = json.loads(path.read_text("utf-8"))
        except FileNotFoundError as exc:
            raise InputError(f"{path}: file not found") from exc
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}: not valid JSON ({exc})") from exc
    parsed = parse_leverage_brackets(obj, label)
    meta = parsed.source
    want = _squash(symbol)
    entry = next((e for e in parsed.entries if _squash(e.symbol) == want), None)
    if entry is None:
        found = [e.symbol for e in parsed.entries]
        raise InputError(f"{label}: unknown symbol {symbol!r}; file has {', '.join(found[:20])}")
    doc = _venue_doc("binance_usdm")
    sym = entry.symbol
    return VenueRules(
        venue="binance_usdm",
        symbol=sym,
        tiers=tier_table(entry.brackets, f"{label}:{sym}"),
        formula="binance",
        liquidation_fee_rate=float(
            doc["liquidation_fee_rate_by_symbol"].get(sym, doc["liquidation_fee_rate_default"])
        ),
        taker_fee_rate=float(doc["taker_fee_rate"]),
        source_url=str(meta.get("repository", ""))
        and f"{meta.get('repository')}:{meta.get('path')}"
        or f"file:{label}",
        effective_date=str(meta.get("snapshot_date", "unknown")),
        version="leverageBracket",
        quote="USDT",
    )


def from_ccxt_tiers(
    tiers: list[dict[str, Any]],
    *,
    venue: str = "generic",
    symbol: str = "USER",
    liquidation_fee_rate: float = 0.0,
    taker_fee_rate: float = 0.0005,
    source_url: str = "ccxt fetch_leverage_tiers",
    effective_date: str = "unknown",
    formula: str | None = None,
) -> VenueRules:
    """Rules from ccxt's unified leverage-tier list.

    Each dict has ``tier``, ``minNotional``, ``maxNotional``, ``maintenanceMarginRate``,
    ``maxLeverage`` and ``info`` (the raw venue row). The maintenance amount is taken from
    ``info`` when the venue publishes it (Binance ``cum``, Bybit ``mmDeduction``) and checked
    against the recurrence; otherwise derived.
    """
    if not isinstance(tiers, list) or not tiers:
        raise InputError("ccxt tiers: expected a non-empty list of dicts")
    rows = sorted(tiers, key=lambda t: float(t.get("minNotional") or 0))
    fl, cap, mmr, lev, cum = [], [], [], [], []
    for i, t in enumerate(rows):
        where = f"ccxt tier {t.get('tier', i + 1)}"
        fl.append(_num(t, "minNotional", where))
        cap.append(math.inf if t.get("maxNotional") is None else _num(t, "maxNotional", where))
        mmr.append(_num(t, "maintenanceMarginRate", where))
        lev.append(_num(t, "maxLeverage", where))
        info = t.get("info") or {}
        c = None
        for key in ("cum", "mmDeduction", "maintenanceDeduction"):
            if isinstance(info, dict) and info.get(key) not in (None, ""):
                c = float(info[key])
                break
        cum.append(c)
    v = _ALIASES.get(venue.lower(), venue)
    form = formula or {
        "hyperliquid": "hyperliquid",
        "bybit_linear": "bybit",
        "okx_swap": "okx",
    }.get(v, "binance")
    table = TierTable.from_rows(fl, mmr, lev, cap_quote=cap, cum_quote=cum, name=f"ccxt:{symbol}")
    return _check_generic_limit(
        VenueRules(
            venue=v,
            symbol=symbol,
            tiers=table,
            formula=form,
            liquidation_fee_rate=float(liquidation_fee_rate),
            taker_fee_rate=float(taker_fee_rate),
            source_url=source_url,
            effective_date=effective_date,
            version="user",
            max_leverage_limit=GENERIC_MAX_LEVERAGE if v == "generic" else math.inf,
        )
    )


def _check_generic_limit(rules: VenueRules) -> VenueRules:
    top = float(np.max(rules.tiers.max_leverage))
    if top > rules.max_leverage_limit:
        raise RuleError(
            f"{rules.venue}:{rules.symbol}: max_leverage {top:g} exceeds the limit "
            f"{rules.max_leverage_limit:g}x"
        )
    return rules


def _first(value: float | None, default: float) -> float:
    return float(default if value is None else value)


def load_tier_file(
    path: str | Path,
    *,
    venue: str = "generic",
    symbol: str | None = None,
    liquidation_fee_rate: float = 0.0,
    taker_fee_rate: float = 0.0005,
    formula: str | None = None,
) -> VenueRules:
    """Rules from a user tier file (``.json``, ``.toml`` or ``.csv``).

    Rows need ``floor_quote`` and ``max_leverage``; ``mmr`` (default ``1/(2*max_leverage)``),
    ``cap_quote`` (default: next floor) and ``cum_quote`` (default: derived, else checked) are
    optional. Binance/ccxt column names are accepted too. JSON/TOML may be a list of rows or a
    table ``{"tiers": [...], "source_url": ..., "effective_date": ...}``; a JSON list in ccxt
    form (``minNotional`` ...) is read by :func:`from_ccxt_tiers`. Leverage is capped at 1001x
    for the generic venue.
    """
    p = Path(path)
    doc = read_tier_file(p)
    if isinstance(doc, dict):
        return from_ccxt_tiers(
            doc["tiers"],
            venue=venue,
            symbol=symbol or str(doc.get("symbol", p.stem)),
            liquidation_fee_rate=liquidation_fee_rate,
            taker_fee_rate=taker_fee_rate,
            source_url=str(doc.get("source_url", f"file:{p}")),
            effective_date=str(doc.get("effective_date", "unknown")),
            formula=formula,
        )
    sym = symbol or doc.symbol or p.stem
    fl = [r.floor_quote for r in doc.tiers]
    lev = [r.max_leverage for r in doc.tiers]
    mmr = [1.0 / (2.0 * r.max_leverage) if r.mmr is None else r.mmr for r in doc.tiers]
    cap = [r.cap_quote for r in doc.tiers]
    cum = [r.cum_quote for r in doc.tiers]
    if all(c is None for c in cap):
        caps: list[float | None] | None = None
    else:
        caps = [
            c if c is not None else (fl[i + 1] if i + 1 < len(fl) else None)
            for i, c in enumerate(cap)
        ]
    v = _ALIASES.get(venue.lower(), venue)
    table = TierTable.from_rows(fl, mmr, lev, cap_quote=caps, cum_quote=cum, name=str(p))
    return _check_generic_limit(
        VenueRules(
            venue=v,
            symbol=sym,
            tiers=table,
            formula=formula or doc.formula or "binance",
            liquidation_fee_rate=_first(doc.liquidation_fee_rate, liquidation_fee_rate),
            taker_fee_rate=_first(doc.taker_fee_rate, taker_fee_rate),
            source_url=doc.source_url or f"file:{p}",
            effective_date=doc.effective_date or "unknown",
            version="user",
            max_leverage_limit=GENERIC_MAX_LEVERAGE if v == "generic" else math.inf,
        )
    )
