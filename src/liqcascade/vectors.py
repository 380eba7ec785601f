"""Check the margin engine against venue test vectors (schema of shared/vectors/margin_cases.json).

Each case has ``id``, ``venue``, ``mode``, ``quantity``, ``inputs`` (units in key names),
``expected``, optional ``tolerance``/``expected_rounding``/``notes``. A case is evaluated from
its ``inputs`` only, by the rules in :mod:`liqcascade.margin` and :mod:`liqcascade.venues`
(``expected`` and ``computed`` are never read to produce the answer), then compared:

* ``expected_rounding`` such as ``round(x,2)`` is applied to the result first;
* tolerance from the case (``rel 1e-4``, ``pytest.approx(rel=0.0001)``, ``exact integer``,
  ``exact rational``, ``tolerance 0.5`` in the tolerance or the notes), else 1e-6 relative;
* dict expectations are compared key by key (nested), lists element by element.

A case whose group cannot be evaluated is a failure with a reason, never a skip.

Dispatch uses only ``venue``, ``mode``, ``quantity`` and the input keys, never the ``id``: e.g.
freqtrade's ``get_liquidation_price`` wrapper (buffer toward entry, then a floor at 0) applies
when the inputs carry ``liquidation_buffer``; a tier lookup (``quantity`` naming a maintenance
ratio, or a maintenance amount with a notional input) reads the tier rows given in the inputs.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from liqcascade import margin
from liqcascade.errors import InputError, LiqcascadeError
from liqcascade.venues import bybit, dydx_v4, hyperliquid, load_venue, okx
from liqcascade.venues.base import TierTable, VenueRules, derive_cum
from liqcascade.venues.binance_usdm import general_liquidation_price, other_positions_terms

DEFAULT_REL_TOL = 1e-6

__all__ = ["CaseResult", "Tolerance", "check_case", "check_cases", "evaluate_case", "load_cases"]


class UnsupportedCase(LiqcascadeError):
    """The case's venue/mode/quantity group is not one this checker can evaluate."""


@dataclass(frozen=True)
class Tolerance:
    """How to compare: exact, relative and/or absolute."""

    exact: bool = False
    rel: float = DEFAULT_REL_TOL
    abs: float = 0.0
    text: str = ""

    def ok(self, expected: Any, got: Any) -> tuple[bool, float]:
        """(passed, relative error) for two scalars."""
        if isinstance(expected, bool) or isinstance(got, bool):
            return (
                bool(expected) == bool(got) and type(got) is bool
            ), 0.0 if expected == got else 1.0
        e = _to_number(expected, exact=self.exact)
        g = _to_number(got, exact=self.exact)
        if e is None or g is None:
            return False, math.inf
        if self.exact:
            err = _rel(float(e), float(g))
            return Fraction(e) == Fraction(g), err
        ef, gf = float(e), float(g)
        if math.isnan(gf):
            return False, math.inf
        err = _rel(ef, gf)
        return abs(ef - gf) <= max(self.rel * abs(ef), self.abs, 1e-12), err


def _rel(e: float, g: float) -> float:
    if e == g:
        return 0.0
    return abs(e - g) / abs(e) if e != 0 else abs(g)


def _to_number(x: Any, exact: bool = False) -> Fraction | float | int | None:
    if isinstance(x, Fraction):
        return x
    if isinstance(x, int):
        return x
    if isinstance(x, float):
        return Fraction(str(x)) if exact and math.isfinite(x) else x
    if isinstance(x, str):
        try:
            return Fraction(x.strip())
        except (ValueError, ZeroDivisionError):
            return None
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


_REL_RE = re.compile(r"rel\s*=?\s*\(?\s*([0-9]*\.?[0-9]+(?:e-?[0-9]+)?)", re.I)
_ABS_RE = re.compile(r"(?:abs\s*=?\s*|tolerance\s+|±\s*)([0-9]*\.?[0-9]+(?:e-?[0-9]+)?)", re.I)


def parse_tolerance(case: dict[str, Any]) -> Tolerance:
    """Tolerance of a case from ``tolerance`` (string or number) then ``notes``."""
    tol = case.get("tolerance")
    notes = str(case.get("notes", ""))
    if isinstance(tol, (int, float)) and not isinstance(tol, bool):
        return Tolerance(rel=float(tol), text=str(tol))
    if isinstance(tol, dict):
        return Tolerance(
            rel=float(tol.get("rel", 0.0) or 0.0),
            abs=float(tol.get("abs", 0.0) or 0.0),
            text=json.dumps(tol),
        )
    text = str(tol or "")
    if re.search(r"\bexact\b", text, re.I):
        return Tolerance(exact=True, rel=0.0, text=text)
    rel = DEFAULT_REL_TOL
    absv = 0.0
    m = _REL_RE.search(text)
    if m:
        rel = float(m.group(1))
    a = _ABS_RE.search(text) or _ABS_RE.search(notes)
    if a:
        absv = float(a.group(1))
    return Tolerance(rel=rel, abs=absv, text=text or "rel 1e-6 (default)")


_ROUND_RE = re.compile(r"round\s*\(\s*x\s*,\s*(-?\d+)\s*\)")


def _apply_rounding(case: dict[str, Any], got: Any) -> Any:
    rule = case.get("expected_rounding")
    if not rule:
        return got
    m = _ROUND_RE.search(str(rule))
    if not m:
        return got
    nd = int(m.group(1))
    if isinstance(got, dict):
        return {k: _apply_rounding(case, v) for k, v in got.items()}
    if isinstance(got, (int, float, Fraction)) and not isinstance(got, bool):
        return round(float(got), nd)
    return got


# ---------------------------------------------------------------------------------------------
# Input lookup: tolerant of key spellings (case, separators, unit suffixes).
# ---------------------------------------------------------------------------------------------


def _norm(k: str) -> str:
    return re.sub(r"[^a-z0-9]", "", k.lower())


class Inputs:
    """Case inputs with lookup by any of several names."""

    def __init__(self, d: dict[str, Any], case_id: str) -> None:
        self.d = d
        self.case_id = case_id
        self.idx = {_norm(k): k for k in d}

    def has(self, *names: str) -> bool:
        return self.key(*names) is not None

    def key(self, *names: str) -> str | None:
        for n in names:
            k = self.idx.get(_norm(n))
            if k is not None and self.d[k] is not None:
                return k
        return None

    def get(self, *names: str, default: Any = ...) -> Any:
        k = self.key(*names)
        if k is None:
            if default is ...:
                raise InputError(f"case {self.case_id}: inputs lack any of {', '.join(names)}")
            return default
        return self.d[k]

    def num(self, *names: str, default: Any = ...) -> float:
        v = self.get(*names, default=default)
        try:
            return float(v)
        except (TypeError, ValueError) as exc:
            raise InputError(
                f"case {self.case_id}: input {names[0]}={v!r} is not a number"
            ) from exc


SIZE = (
    "position_base",
    "position_size_base",
    "size_base",
    "size_btc",
    "size_eth",
    "size",
    "amount",
    "quantity",
    "qty",
    "position_size",
    "base_units",
)
ENTRY = (
    "entry_price",
    "entry",
    "open_rate",
    "entry_px",
    "entry_price_usd",
    "price_usd",
    "price",
    "mark_price",
    "mark",
)
MARGIN = (
    "isolated_margin_usdt",
    "isolated_margin_usdc",
    "isolated_margin",
    "margin_usdt",
    "margin_usdc",
    "margin",
    "collateral",
    "collateral_usdt",
    "wb_usdt",
    "wallet_balance_usdt",
    "wallet_balance",
    "wb",
    "wallet_usdt",
    "wallet",
    "account_value",
    "account_value_usdc",
    "stake_amount",
)
LEVERAGE = ("leverage", "lev", "user_leverage")
MMR = ("mmr", "maintenance_margin_rate", "maint_margin_ratio", "maintmarginratio", "mm_rate")
CUM = (
    "cum_usdt",
    "cum",
    "cum_quote",
    "maintenance_amount",
    "maintenance_amount_usdt",
    "mm_deduction",
    "mm_deduction_usdt",
    "mmd",
    "maintAmt",
)
NOTIONAL = (
    "notional_quote",
    "notional_usdt",
    "notional_usd",
    "nominal_value",
    "nominal_value_usdt",
    "position_value_usdt",
    "notional",
)
TAKER = ("taker_fee_rate", "taker_fee", "taker", "fee_rate")


def _side(inp: Inputs) -> int:
    if inp.has("side"):
        return int(margin.as_side(inp.get("side")))
    if inp.has("is_short"):
        return -1 if inp.get("is_short") else 1
    if inp.has(*SIZE):
        return -1 if inp.num(*SIZE) < 0 else 1
    raise InputError(f"case {inp.case_id}: no side/is_short input")


def _size(inp: Inputs) -> float:
    return abs(inp.num(*SIZE))


def _margin(inp: Inputs, size: float, entry: float) -> float:
    if inp.has(*MARGIN):
        return inp.num(*MARGIN)
    if inp.has(*LEVERAGE):
        return size * entry / inp.num(*LEVERAGE)
    raise InputError(f"case {inp.case_id}: neither a margin/wallet input nor leverage")


_TABLE_RE = re.compile(r"\b([A-Z0-9]{2,}(?:USDT|USDC|USD)?)\b(?:\s+(\d{4}-\d{2}|\d{4}-[A-Z]))?")


def _rules_from_table_ref(venue: str, ref: str) -> VenueRules:
    text = str(ref)
    m = re.search(r"\b([A-Z0-9]+USD[TC]?)\b", text) or _TABLE_RE.search(text)
    if not m:
        raise InputError(f"cannot read a symbol from table reference {ref!r}")
    symbol = m.group(1)
    v = re.search(r"\b(\d{4}-\d{2}|\d{4}-[A-Z])\b", text)
    version = v.group(1) if v else None
    if version is None and re.search(r"snapshot\s*b\b|2025-b", text, re.I):
        version = "2025-B"
    try:
        return load_venue(venue, symbol, version=version)
    except InputError:
        return load_venue(venue, symbol)


def _table_rules(inp: Inputs, venue: str) -> VenueRules:
    rows = inp.get("tiers", "brackets", "tier_table", "leverage_tiers", default=None)
    if isinstance(rows, list) and rows:
        return _rules_from_rows(rows, venue)
    ref = inp.get("bracket_table", "table", "tier_table", "symbol", "pair", "coin", default=None)
    if ref is None:
        raise InputError(f"case {inp.case_id}: no MMR input and no tier table reference")
    return _rules_from_table_ref(venue, str(ref))


def _rules_from_rows(rows: list[dict[str, Any]], venue: str) -> VenueRules:
    r0 = Inputs(rows[0], "tiers")
    if r0.has("lower_bound_usd", "lower_bound") and not r0.has(*MMR):
        fl = [Inputs(r, "tiers").num("lower_bound_usd", "lower_bound") for r in rows]
        lev = [Inputs(r, "tiers").num("max_leverage", "maxLeverage") for r in rows]
        table = TierTable.from_max_leverage(fl, lev, "case")
    else:
        ii = [Inputs(r, "tiers") for r in rows]
        table = TierTable.from_rows(
            [
                i.num("floor_quote", "floor", "notionalFloor", "minNotional", "lower_bound_usd")
                for i in ii
            ],
            [i.num(*MMR, "maintenanceMarginRate") for i in ii],
            [i.num("max_leverage", "maxLeverage", "initialLeverage", default=1.0) for i in ii],
            cap_quote=[
                i.get("cap_quote", "cap", "notionalCap", "maxNotional", default=None) for i in ii
            ],
            cum_quote=[i.get(*CUM, default=None) for i in ii],
            name="case",
        )
    return VenueRules(
        venue,
        "case",
        table,
        "hyperliquid" if venue == "hyperliquid" else "binance",
        0.0,
        0.0,
        "case inputs",
        "n/a",
    )


# ---------------------------------------------------------------------------------------------
# Group evaluators
# ---------------------------------------------------------------------------------------------


def _binance_lp(inp: Inputs, mode: str) -> float:
    s, q = _side(inp), _size(inp)
    ep = inp.num(*ENTRY)
    wb = _margin(inp, q, ep)
    tmm = upnl = 0.0
    if "cross" in mode:
        others = inp.get("other_positions", "open_trades", "others", default=None)
        if isinstance(others, list):
            tmm, upnl = other_positions_terms([_other_position(o) for o in others])
        else:
            tmm = inp.num("TMM1_usdt", "TMM1", "TMM1_usdt_derived", default=0.0)
            upnl = inp.num("UPNL1_usdt", "UPNL1", "UPNL1_usdt_derived", default=0.0)
    else:
        tmm = inp.num("TMM1_usdt", "TMM1", default=0.0)
        upnl = inp.num("UPNL1_usdt", "UPNL1", default=0.0)
    if inp.has(*MMR):
        return float(
            margin.liquidation_price_at_rate(
                margin.PositionsAtRate(
                    side=s,
                    size_base=q,
                    entry_price=ep,
                    margin_quote=wb - tmm + upnl,
                    mmr=inp.num(*MMR),
                    cum_quote=inp.num(*CUM, default=0.0),
                ),
                nonpositive_as_nan=False,
            )
        )
    rules = _table_rules(inp, "binance_usdm")
    return general_liquidation_price(wb, [(s, q, ep)], rules, tmm, upnl)


def _other_position(o: dict[str, Any]) -> dict[str, Any]:
    oi = Inputs(o, "other position")
    q = oi.num(*SIZE)
    d = {
        "size_base": q,
        "entry_price": oi.num("entry_price", "entry", "open_rate"),
        "mark_price": oi.num(
            "mark_price", "mark", default=oi.num("entry_price", "entry", "open_rate")
        ),
        "mmr": oi.num(*MMR),
        "cum": oi.num(*CUM, default=0.0),
    }
    if oi.has("side"):
        d["side"] = oi.get("side")
    return d


def _okx_lp(inp: Inputs, mode: str) -> float:
    s, q = _side(inp), _size(inp)
    ep = inp.num(*ENTRY)
    m = _margin(inp, q, ep)
    return okx.isolated_liquidation_price(
        s, q, ep, m, inp.num(*MMR), inp.num(*TAKER, default=0.0), nonpositive_as_nan=False
    )


def _bybit_linear_lp(inp: Inputs, mode: str) -> float:
    s, q = _side(inp), _size(inp)
    ep = inp.num(*ENTRY)
    mmr = inp.num(*MMR)
    mmd = inp.num(*CUM, default=0.0)
    extra = inp.num("extra_margin", "extra_margin_usdt", "extra", default=0.0)
    if inp.has(*LEVERAGE):
        return bybit.linear_liquidation_price(
            s, q, ep, inp.num(*LEVERAGE), mmr, mmd, extra, nonpositive_as_nan=False
        )
    m = inp.num(*MARGIN) + extra
    return ep - s * (m - (q * ep * mmr - mmd)) / q


def _hl_rules(inp: Inputs) -> VenueRules:
    if inp.has("max_leverage", "asset_max_leverage"):
        return hyperliquid.single_tier_rules(inp.num("max_leverage", "asset_max_leverage"))
    return _table_rules(inp, "hyperliquid")


def _with_buffer(inp: Inputs, lp: float) -> float:
    """freqtrade ``get_liquidation_price`` semantics, selected by input keys (never by case id).

    With a ``liquidation_buffer`` input (a fraction, 0.0 allowed) the price moves toward entry by
    ``buffer*|entry - LP|`` and is then floored at 0, as freqtrade's wrapper does; a boolean
    ``floor_at_zero`` input asks for the floor alone. Without either key the venue formula's raw
    value is returned (a non-positive price is the venue's "--").
    """
    if math.isnan(lp):
        return lp
    has_buffer = inp.has("liquidation_buffer")
    if has_buffer:
        buf = inp.num("liquidation_buffer")
        if not (0.0 <= buf < 1.0):
            raise InputError(
                f"case {inp.case_id}: input liquidation_buffer={buf!r} must be a fraction in [0, 1)"
            )
        lp = lp + _side(inp) * abs(inp.num(*ENTRY) - lp) * buf
    if has_buffer or bool(inp.get("floor_at_zero", default=False)):
        return max(lp, 0.0)
    return lp


def _hl_lp(inp: Inputs, mode: str) -> float:
    s, q = _side(inp), _size(inp)
    px = inp.num("price_usd", "price", "mark_price", "mark", "entry_price", "entry")
    m = inp.num(*MARGIN)
    mm_req = inp.get(
        "maintenance_margin_required",
        "cross_maintenance_margin_used",
        "maintenance_margin_required_usdc",
        "total_maintenance_margin",
        default=None,
    )
    if mm_req is not None and inp.has("max_leverage", "asset_max_leverage"):
        # documented formula with the account's total maintenance requirement given
        l_rate = 1.0 / (2.0 * inp.num("max_leverage", "asset_max_leverage"))
        return px - s * (m - float(mm_req)) / q / (1.0 - l_rate * s)
    if inp.has("max_leverage", "asset_max_leverage"):
        return hyperliquid.liquidation_price_single_tier(
            s, q, px, m, inp.num("max_leverage", "asset_max_leverage"), nonpositive_as_nan=False
        )
    return float(margin.liquidation_price(_hl_rules(inp), s, q, px, m))


def _bybit_inverse(inp: Inputs, mode: str, quantity: str) -> Any:
    s = _side(inp) if inp.has("side", "is_short") else 1
    ep = inp.num(*ENTRY)
    tick = inp.num("tick", "tick_size", default=bybit.BTCUSD_TICK)
    if "cross" in mode or inp.has("wallet_btc", "wallet_coin", "wallet"):
        res = bybit.inverse_cross_prices(
            inp.num("contracts_usd", "contracts", "qty_usd", "size_usd"),
            ep,
            inp.num("wallet_btc", "wallet_coin", "wallet"),
            inp.num(*MMR),
            inp.num(*TAKER, default=0.0),
            inp.num("order_margin", "order_margin_btc", default=0.0),
            s,
        )
        res["liquidation_price_unrounded"] = res["liquidation_price"]
        res["liquidation_price"] = bybit.round_to_tick(res["liquidation_price"], tick, s)
        return res
    bp = bybit.inverse_bankruptcy_price_isolated(s, ep, inp.num(*LEVERAGE))
    return {
        "exact": bp,
        "bankruptcy_price": bp,
        "displayed_tick_rounded": bybit.round_to_tick(bp, tick, s),
    }


def _binance_cum_step(inp: Inputs) -> float:
    levels: dict[str, dict[int, float]] = {"floor": {}, "mmr": {}, "cum": {}}
    for k, v in inp.d.items():
        m = re.search(r"(floor|mmr|cum)\w*?(\d+)", k.lower())
        if m and isinstance(v, (int, float)):
            levels[m.group(1)][int(m.group(2))] = float(v)
    if not levels["floor"] or len(levels["mmr"]) < 2 or not levels["cum"]:
        raise InputError(
            f"case {inp.case_id}: need floor_levelN, MMR_levelN, MMR_level(N-1), cum_level(N-1)"
        )
    n = max(levels["floor"])
    return levels["cum"][n - 1] + levels["floor"][n] * (levels["mmr"][n] - levels["mmr"][n - 1])


def _tier_lookup(inp: Inputs, venue: str) -> dict[str, Any]:
    """Tier of a notional in a table given in the inputs: MMR, maintenance amount, max leverage.

    The tier is the last one whose floor is <= the notional (Binance/ccxt ``minNotional``
    semantics, as freqtrade's ``get_maintenance_ratio_and_amt``); a notional above the last cap
    or below 0 is an input error.
    """
    base = "binance_usdm" if venue.startswith("binance") else venue
    rules = _table_rules(inp, base)
    t = rules.tiers
    n = inp.num(*NOTIONAL)
    if not (0.0 <= n <= float(t.cap_quote[-1])):
        raise InputError(
            f"case {inp.case_id}: notional {n!r} outside the table "
            f"[0, {float(t.cap_quote[-1])!r}] (quote currency)"
        )
    k = int(t.index(n))
    mmr, cum = float(t.mmr[k]), float(t.cum_quote[k])
    return {
        "tier": k + 1,
        "mmr": mmr,
        "maintAmt": cum,
        "cum": cum,
        "maintenance_amount": cum,
        "max_leverage": float(t.max_leverage[k]),
        "maintenance_margin": float(t.maintenance_margin(n)),
        # freqtrade's get_maintenance_ratio_and_amt returns the pair (mmr, maintAmt)
        "_sequence": [mmr, cum],
    }


def _recurrence_check(inp: Inputs, venue: str) -> bool:
    try:
        rules = _table_rules(inp, "binance_usdm" if venue.startswith("binance") else venue)
    except LiqcascadeError:
        return False
    t = rules.tiers
    derived = derive_cum(t.floor_quote, t.mmr)
    return bool(
        all(
            abs(a - b) <= max(0.01, 1e-9 * abs(b))
            for a, b in zip(t.cum_quote, derived, strict=True)
        )
    )


def _hl_deduction(inp: Inputs) -> dict[str, Any]:
    rows = inp.get("tiers", "margin_tiers")
    rules = _rules_from_rows(rows, "hyperliquid")
    t = rules.tiers
    out: dict[str, Any] = {
        "mmr": [float(x) for x in t.mmr],
        "deduction": [float(x) for x in t.cum_quote],
    }
    out["max_leverage"] = [float(x) for x in t.max_leverage]
    out["_mm_at"] = lambda n: float(t.maintenance_margin(n))
    return out


def _hl_margining(inp: Inputs) -> dict[str, Any]:
    n = inp.num("position_value_usd", "notional_usd", "position_value", "notional")
    rules = hyperliquid.single_tier_rules(inp.num("asset_max_leverage", "max_leverage"))
    out: dict[str, Any] = {"MM": float(margin.maintenance_margin(rules, n))}
    levs = inp.get("user_leverage_cases", "leverages", "user_leverage", default=[])
    for lev in levs if isinstance(levs, list) else [levs]:
        out[f"IM_at_{lev:g}x"] = float(margin.initial_margin(rules, n, lev))
    out["_im_at"] = lambda lev: float(margin.initial_margin(rules, n, lev))
    return out


def _hl_funding(inp: Inputs) -> dict[str, float]:
    return hyperliquid.funding_rate_8h(
        inp.get("impact_bid_px", "impact_bid", default=None),
        inp.get("impact_ask_px", "impact_ask", default=None),
        inp.num("oracle_px", "oracle_price", "oracle"),
        inp.num("interest_rate_8h", "interest_rate", default=0.0001),
        inp.num("clamp", "clamp_8h", default=0.0005),
    )


# -- dYdX ----------------------------------------------------------------------------------


def _ppm_from_text(text: str, name: str) -> int | None:
    m = re.search(name + r"\D*(\d+)", text)
    return int(m.group(1)) if m else None


def _dydx_setup(inp: Inputs) -> tuple[dydx_v4.Subaccount, dict[str, dydx_v4.Perp]]:
    ctx = inp.get("context")
    tier_text = str(ctx.get("liquidity_tier", ""))
    im_ppm = _ppm_from_text(tier_text, "initial_margin_ppm")
    mf_ppm = _ppm_from_text(tier_text, "maintenance_fraction_ppm")
    qpu = int(ctx.get("USDC_quantums_per_usd", 1_000_000))
    perps: dict[str, dydx_v4.Perp] = {}
    for name, p in ctx.items():
        if not isinstance(p, dict):
            continue
        pi = Inputs(p, f"{inp.case_id} context {name}")
        perp = dydx_v4.Perp.from_usd(
            name,
            str(pi.get("oracle_usd", "oracle_price_usd", "price_usd")),
            int(pi.num("atomic_resolution")),
            pi.num("IMF", "initial_margin_fraction"),
            mmf=pi.num("MMF", "maintenance_margin_fraction", default=None)
            if pi.has("MMF")
            else None,
            maintenance_fraction=pi.num("maintenance_fraction", default=None)
            if pi.has("maintenance_fraction")
            else None,
            quantum_conversion_exponent=int(pi.num("quantum_conversion_exponent", "qce"))
            if pi.has("quantum_conversion_exponent", "qce")
            else None,
        )
        if pi.has("initial_margin_ppm") or pi.has("maintenance_fraction_ppm"):
            perp = dydx_v4.Perp(
                perp.name,
                perp.price_value,
                perp.price_exponent,
                perp.atomic_resolution,
                int(pi.num("initial_margin_ppm", default=perp.initial_margin_ppm)),
                int(pi.num("maintenance_fraction_ppm", default=perp.maintenance_fraction_ppm)),
                perp.quantum_conversion_exponent,
            )
        elif (
            im_ppm is not None and mf_ppm is not None and not pi.has("MMF", "maintenance_fraction")
        ):
            perp = dydx_v4.Perp(
                perp.name,
                perp.price_value,
                perp.price_exponent,
                perp.atomic_resolution,
                im_ppm,
                mf_ppm,
                perp.quantum_conversion_exponent,
            )
        perps[name] = perp
    if inp.has("usdc_balance_quote_quantums", "quote_balance_quantums"):
        bal = int(inp.get("usdc_balance_quote_quantums", "quote_balance_quantums"))
    else:
        bal_q = Fraction(str(inp.get("usdc_balance_usd", "usdc_usd", "quote_balance_usd"))) * qpu
        if bal_q.denominator != 1:
            raise InputError(
                f"case {inp.case_id}: USDC balance is not a whole number of quote quantums"
            )
        bal = int(bal_q)
    positions: dict[str, int] = {}
    for p in inp.get("positions", default=[]):
        pi = Inputs(p, inp.case_id)
        name = str(pi.get("perp", "market", "symbol"))
        if pi.has("quantums"):
            positions[name] = positions.get(name, 0) + int(pi.get("quantums"))
        else:
            base = Fraction(str(pi.get("base_units", "size")))
            positions[name] = positions.get(name, 0) + int(
                base * Fraction(10) ** (-perps[name].atomic_resolution)
            )
    return dydx_v4.Subaccount(bal, positions), perps


def _ppm(x: Any) -> int:
    return round(Fraction(str(x)) * 1_000_000)


def _dydx(inp: Inputs, quantity: str) -> Any:
    acct, perps = _dydx_setup(inp)
    q = quantity.lower()
    if "bankruptcy" in q:
        return dydx_v4.bankruptcy_price_quote_quantums(
            acct, perps, str(inp.get("close_perp", "perp")), int(inp.get("delta_quantums"))
        )
    if "fillable" in q:
        perp = str(inp.get("close_perp", "perp"))
        ba = (
            int(inp.get("bankruptcy_adjustment_ppm"))
            if inp.has("bankruptcy_adjustment_ppm")
            else _ppm(inp.get("bankruptcy_adjustment", default=1.0))
        )
        sm = (
            int(inp.get("spread_to_mmr_ppm", "spread_to_maintenance_margin_ratio_ppm"))
            if inp.has("spread_to_mmr_ppm", "spread_to_maintenance_margin_ratio_ppm")
            else _ppm(inp.get("spread_to_mmr", "spread_to_maintenance_margin_ratio"))
        )
        fp = dydx_v4.fillable_price(acct, perps, perp, int(inp.get("delta_quantums")), ba, sm)
        usd = dydx_v4.fillable_price_usd(fp, perps[perp])
        return {"raw_rational_subticks_per_base_quantum": fp, "raw": fp, "usd_per_coin": usd}
    if "insurance" in q:
        perp = str(inp.get("close_perp", "perp", default=next(iter(acct.positions))))
        return dydx_v4.liquidation_insurance_fund_delta(
            acct,
            perps,
            perp,
            bool(inp.get("is_buy")),
            int(inp.get("fill_amount_quantums", "fill_quantums")),
            int(inp.get("subticks")),
            int(inp.get("max_liquidation_fee_ppm")),
            int(inp.get("quantum_conversion_exponent"))
            if inp.has("quantum_conversion_exponent")
            else None,
        )
    raise UnsupportedCase(f"dYdX quantity {quantity!r} not supported")


def _dydx_delever(inp: Inputs) -> dict[str, Any]:
    a = Inputs(inp.get("A", "liquidated"), inp.case_id)
    b = Inputs(inp.get("B", "offsetting"), inp.case_id)
    base_keys = ("btc", "base", "eth", "size", "position")
    return dydx_v4.deleverage_full_takeover(
        a.num("usdc", "quote"),
        a.num(*base_keys),
        b.num("usdc", "quote"),
        b.num(*base_keys),
        inp.num("index_price", "oracle_price", "price"),
    )


# ---------------------------------------------------------------------------------------------


def evaluate_case(case: dict[str, Any]) -> Any:
    """Compute the case's quantity from its inputs by the venue rules (never from ``expected``)."""
    venue = str(case.get("venue", "")).lower()
    mode = str(case.get("mode", "")).lower()
    quantity = str(case.get("quantity", "")).lower()
    inp = Inputs(dict(case.get("inputs") or {}), str(case.get("id", "?")))

    if venue.startswith("dydx"):
        if "delever" in quantity:
            return _dydx_delever(inp)
        return _dydx(inp, quantity)
    if "recurrence" in quantity:
        return _recurrence_check(inp, venue)
    tables = ("tiers", "brackets", "tier_table", "bracket_table", "table", "leverage_tiers")
    qn = _norm(quantity)
    if ("maintenanceratio" in qn or ("tier" in qn and "lookup" in qn)) or (
        ("maintenance_amount" in quantity or quantity.startswith("cum"))
        and inp.has(*NOTIONAL)
        and inp.has(*tables)
    ):
        return _tier_lookup(inp, venue)
    if venue.startswith("binance") and (
        "maintenance_amount" in quantity or quantity.startswith("cum")
    ):
        if inp.has(*tables):
            return _recurrence_check(inp, venue)
        return _binance_cum_step(inp)
    if venue.startswith("hyperliquid"):
        if "deduction" in quantity or "tier" in quantity:
            return _hl_deduction(inp)
        if "initial" in quantity and "maintenance" in quantity:
            return _hl_margining(inp)
        if "funding" in quantity:
            return _hl_funding(inp)
        if "liquidation" in quantity:
            return _with_buffer(inp, _hl_lp(inp, mode))
    if "bybit" in venue and "inverse" in venue:
        return _bybit_inverse(inp, mode, quantity)
    if "liquidation" in quantity or "bankruptcy" in quantity:
        handler: Callable[[Inputs, str], Any] | None = None
        if venue.startswith("binance"):
            handler = _binance_lp
        elif venue.startswith(("okx", "gate")):
            handler = _okx_lp
        elif venue.startswith("bybit"):
            handler = _bybit_linear_lp
        if handler is not None:
            if "bankruptcy" in quantity and "liquidation" not in quantity:
                s, q = _side(inp), _size(inp)
                ep = inp.num(*ENTRY)
                m = _margin(inp, q, ep)
                return ep - s * m / q
            return _with_buffer(inp, handler(inp, mode))
    raise UnsupportedCase(f"no evaluator for venue={venue!r} mode={mode!r} quantity={quantity!r}")


@dataclass
class CaseResult:
    """Outcome of one case."""

    id: str
    venue: str
    quantity: str
    expected: Any
    got: Any
    rel_err: float
    passed: bool
    tolerance: str
    reason: str = ""


def _lookup(got: dict[str, Any], key: str) -> Any:
    if key in got:
        return got[key]
    nk = _norm(key)
    for k, v in got.items():
        if _norm(k) == nk:
            return v
    m = re.match(r"mm_at_(\d+(?:\.\d+)?)([kmb]?)$", key.lower())
    if m and "_mm_at" in got:
        mult = {"": 1, "k": 1e3, "m": 1e6, "b": 1e9}[m.group(2)]
        return got["_mm_at"](float(m.group(1)) * mult)
    m = re.match(r"im_at_(\d+(?:\.\d+)?)x$", key.lower())
    if m and "_im_at" in got:
        return got["_im_at"](float(m.group(1)))
    raise KeyError(key)


def _compare(expected: Any, got: Any, tol: Tolerance, path: str = "") -> tuple[bool, float, str]:
    if isinstance(expected, dict):
        if not isinstance(got, dict):
            return False, math.inf, f"{path or 'result'}: expected a dict of {list(expected)}"
        ok_all, worst, why = True, 0.0, ""
        for k, ev in expected.items():
            try:
                gv = _lookup(got, k)
            except KeyError:
                return False, math.inf, f"no computed value for key {path + k!r}"
            ok, err, w = _compare(ev, gv, tol, f"{path}{k}.")
            worst = max(worst, err)
            if not ok:
                ok_all, why = False, why or (w or f"{path}{k}: expected {ev!r}, got {_fmt(gv)}")
        return ok_all, worst, why
    if isinstance(expected, list):
        if isinstance(got, dict) and "_sequence" in got:
            got = got["_sequence"]
        if not isinstance(got, (list, tuple)) or len(got) != len(expected):
            return False, math.inf, f"{path or 'result'}: expected a list of {len(expected)}"
        ok_all, worst, why = True, 0.0, ""
        for i, (ev, gv) in enumerate(zip(expected, got, strict=True)):
            ok, err, w = _compare(ev, gv, tol, f"{path}[{i}].")
            worst = max(worst, err)
            if not ok:
                ok_all, why = False, why or w
        return ok_all, worst, why
    ok, err = tol.ok(expected, got)
    return ok, err, "" if ok else f"{path.rstrip('.') or 'value'} outside tolerance ({tol.text})"


def _public(got: Any) -> Any:
    if isinstance(got, dict):
        return {k: _public(v) for k, v in got.items() if not k.startswith("_")}
    return got


def _fmt(x: Any) -> str:
    if isinstance(x, Fraction):
        return f"{x.numerator}/{x.denominator}" if x.denominator != 1 else str(x.numerator)
    if isinstance(x, float):
        return f"{x:.10g}"
    if isinstance(x, dict):
        return "{" + ", ".join(f"{k}: {_fmt(v)}" for k, v in x.items()) + "}"
    if isinstance(x, list):
        return "[" + ", ".join(_fmt(v) for v in x) + "]"
    return str(x)


def check_case(case: dict[str, Any]) -> CaseResult:
    """Evaluate and compare one case; errors become failures with the reason."""
    cid = str(case.get("id", "?"))
    tol = parse_tolerance(case)
    expected = case.get("expected")
    base: dict[str, Any] = {
        "id": cid,
        "venue": str(case.get("venue", "")),
        "quantity": str(case.get("quantity", "")),
        "expected": expected,
        "tolerance": tol.text,
    }
    try:
        got = _apply_rounding(case, evaluate_case(case))
    except (LiqcascadeError, KeyError, TypeError, ValueError, ZeroDivisionError) as exc:
        return CaseResult(
            got=None, rel_err=math.inf, passed=False, reason=f"{type(exc).__name__}: {exc}", **base
        )
    ok, err, why = _compare(expected, got, tol)
    return CaseResult(
        got=_public(got)
        if not isinstance(expected, dict)
        else {k: _safe_lookup(got, k) for k in expected},
        rel_err=err,
        passed=ok,
        reason=why,
        **base,
    )


def _safe_lookup(got: Any, key: str) -> Any:
    try:
        return _lookup(got, key) if isinstance(got, dict) else None
    except KeyError:
        return None


def load_cases(path: str | Path) -> list[dict[str, Any]]:
    """Read a vectors file (a JSON list of cases, or ``{"cases": [...]}``)."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: vectors file not found")
    try:
        data = json.loads(p.read_text("utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"{p}: not valid JSON ({exc})") from exc
    if isinstance(data, dict):
        data = data.get("cases", data.get("vectors"))
    if not isinstance(data, list):
        raise InputError(f"{p}: expected a JSON list of cases")
    for i, c in enumerate(data):
        if not isinstance(c, dict) or "inputs" not in c or "expected" not in c:
            raise InputError(f"{p}: case {i} lacks 'inputs' or 'expected'")
    return data


def check_cases(cases: list[dict[str, Any]]) -> list[CaseResult]:
    """Check every case (order preserved)."""
    return [check_case(c) for c in cases]


def format_value(x: Any) -> str:
    """Compact printable form of an expected/got value."""
    return _fmt(x)
