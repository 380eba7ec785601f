"""ccxt unified structures (https://docs.ccxt.com/#/README?id=unified-api) as JSON files.

Accepted shapes (times are ccxt's epoch milliseconds):

* OHLCV: ``[[timestamp, open, high, low, close, volume], ...]`` -> ``klines``;
* funding rate(s): ``{symbol, fundingRate, timestamp | fundingTimestamp, markPrice?, interval?}``
  or a list of them (``fetchFundingRateHistory``) -> ``funding``;
* open interest: ``{symbol, openInterestAmount, openInterestValue, timestamp}`` or a list -> ``open_interest``;
* leverage tiers: ``{symbol: [tier, ...]}`` or a list of tiers ``{tier, symbol, minNotional,
  maxNotional, maintenanceMarginRate, maxLeverage, info}`` -> ``leverage_brackets``; the maintenance
  amount ``cum`` is taken from ``info.cum`` when the venue sends it (Binance), else built from the
  tier chain ``cum_k = cum_{k-1} + minNotional_k * (mmr_k - mmr_{k-1})`` (the same identity Binance
  publishes);
* positions: ``[{symbol, side, contracts, contractSize, entryPrice, markPrice, notional, leverage,
  collateral, initialMargin, maintenanceMargin, liquidationPrice, marginMode, unrealizedPnl}]`` ->
  ``positions``.

``liqcascade data fetch`` writes an envelope ``{"liqcascade": "ccxt", "exchange", "venue", "kind",
"symbol", "market_id", "timeframe", "price_kind", "fetched_at", "data"}`` so that venue and symbol
travel with the data; bare files need ``--venue`` (and ``--symbol`` for OHLCV), or a folder or file
name containing the ccxt exchange id.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from liqcascade.data.formats import FormatTable, Plan, frame, load_json, num, time_field
from liqcascade.errors import DataError

#: ccxt exchange id -> liqcascade venue name.
#: The formats this module reads.
FILE_FORMATS = FormatTable(prefix="ccxt_")

CCXT_VENUES = {
    "binanceusdm": "binance_usdm",
    "binancecoinm": "binance_coinm",
    "binance": "binance_spot",
    "hyperliquid": "hyperliquid",
    "bybit": "bybit_linear",
    "okx": "okx_swap",
    "dydx": "dydx_v4",
}


def venue_symbol(venue: str, ccxt_symbol: str) -> str:
    """The venue's own market id for a ccxt unified symbol (as the venue's files name it).

    ``BTC/USDT:USDT`` -> ``BTCUSDT`` (Binance, Bybit), ``BTC-USDT-SWAP`` (OKX), ``BTC``
    (Hyperliquid); ``BTC/USD:BTC`` on Binance COIN-M -> ``BTCUSD_PERP``.
    """
    if "/" not in ccxt_symbol:
        return ccxt_symbol
    base, rest = ccxt_symbol.split("/", 1)
    quote = rest.split(":", 1)[0]
    if venue == "hyperliquid":
        return base
    if venue == "okx_swap":
        return f"{base}-{quote}-SWAP"
    if venue == "binance_coinm":
        return f"{base}{quote}_PERP"
    return f"{base}{quote}"


def is_envelope(data: Any) -> bool:
    return isinstance(data, dict) and data.get("liqcascade") == "ccxt"


def classify(data: Any) -> str | None:
    """Which ccxt structure ``data`` is (format name), or None."""
    if is_envelope(data):
        return {
            "ohlcv": "ccxt_ohlcv",
            "funding": "ccxt_funding",
            "oi": "ccxt_open_interest",
            "tiers": "ccxt_leverage_tiers",
            "positions": "ccxt_positions",
        }.get(str(data.get("kind")))
    if isinstance(data, dict):
        vals = list(data.values())
        if (
            vals
            and all(isinstance(v, list) for v in vals)
            and vals[0]
            and isinstance(vals[0][0], dict)
        ):
            if "maintenanceMarginRate" in vals[0][0]:
                return "ccxt_leverage_tiers"
        data = [data]
    if not isinstance(data, list) or not data:
        return None
    rec = data[0]
    if (
        isinstance(rec, list)
        and len(rec) == 6
        and all(isinstance(x, (int, float)) or x is None for x in rec)
    ):
        return "ccxt_ohlcv"
    if isinstance(rec, dict):
        if "maintenanceMarginRate" in rec and "maxNotional" in rec:
            return "ccxt_leverage_tiers"
        if "fundingRate" in rec and "symbol" in rec:
            return "ccxt_funding"
        if "openInterestAmount" in rec or "openInterestValue" in rec:
            return "ccxt_open_interest"
        if "contracts" in rec and "entryPrice" in rec:
            return "ccxt_positions"
    return None


def _unwrap(path: Path, plan: Plan) -> tuple[Any, dict[str, Any]]:
    data = load_json(path)
    env: dict[str, Any] = {}
    if is_envelope(data):
        env = data
        data = data.get("data")
    return data, env


def _venue(plan: Plan, env: dict[str, Any], path: Path) -> str:
    venue = env.get("venue") or (CCXT_VENUES.get(env.get("exchange", "")) if env else None)
    venue = venue or plan.venue
    if not venue or venue == "unknown":
        raise DataError(
            f"{path}: a bare ccxt structure does not say its exchange; pass --venue "
            f"(one of {', '.join(sorted(set(CCXT_VENUES.values())))})"
        )
    return venue


def _symbol(
    venue: str, rec_symbol: Any, plan: Plan, env: dict[str, Any], path: Path, where: str
) -> str:
    if env.get("market_id"):
        return str(env["market_id"])
    if plan.symbol:
        return plan.symbol
    if rec_symbol:
        return venue_symbol(venue, str(rec_symbol))
    if env.get("symbol"):
        return venue_symbol(venue, str(env["symbol"]))
    raise DataError(f"{path}: {where}: no symbol in the data; pass --symbol")


@FILE_FORMATS.reader("ohlcv", "klines", "ccxt OHLCV lists")
def read_ohlcv(path: Path, plan: Plan) -> dict[str, pl.DataFrame]:
    """ccxt OHLCV lists -> ``klines`` (kind from the envelope's ``price_kind``, default trade)."""
    data, env = _unwrap(path, plan)
    venue = _venue(plan, env, path)
    symbol = _symbol(venue, None, plan, env, path, "file")
    interval = env.get("timeframe") or plan.interval
    if not interval:
        raise DataError(f"{path}: OHLCV without a timeframe; pass it in the file name (e.g. -1m-)")
    if not isinstance(data, list):
        raise DataError(f"{path}: OHLCV must be a list of [t, o, h, l, c, v] lists")
    rows = []
    for i, r in enumerate(data, start=1):
        where = f"candle {i}"
        if not isinstance(r, list) or len(r) != 6:
            raise DataError(
                f"{path}: {where}: expected [timestamp, open, high, low, close, volume], got {r!r:.80}"
            )
        rows.append(
            {
                "venue": venue,
                "symbol": symbol,
                "kind": env.get("price_kind") or plan.kind or "trade",
                "interval": interval,
                "open_time": time_field(r[0], path, where, "timestamp"),
                "open": num(r[1], path, where, "open"),
                "high": num(r[2], path, where, "high"),
                "low": num(r[3], path, where, "low"),
                "close": num(r[4], path, where, "close"),
                "volume": num(r[5], path, where, "volume", required=False),
            }
        )
    return {"klines": frame(rows, "klines")}


def _records(data: Any) -> list[Any]:
    return data if isinstance(data, list) else [data]


@FILE_FORMATS.reader("funding", "funding", "ccxt funding rate(s)")
def read_funding(path: Path, plan: Plan) -> dict[str, pl.DataFrame]:
    """ccxt funding rate / funding-rate history -> ``funding`` (rate: fraction per interval)."""
    data, env = _unwrap(path, plan)
    venue = _venue(plan, env, path)
    rows = []
    for i, r in enumerate(_records(data), start=1):
        where = f"record {i}"
        t = r.get("fundingTimestamp") if r.get("timestamp") is None else r.get("timestamp")
        interval = r.get("interval")
        hours = (
            float(interval[:-1]) if isinstance(interval, str) and interval.endswith("h") else None
        )
        rows.append(
            {
                "venue": venue,
                "symbol": _symbol(venue, r.get("symbol"), plan, env, path, where),
                "time": time_field(t, path, where, "timestamp"),
                "funding_rate": num(r.get("fundingRate"), path, where, "fundingRate"),
                "interval_hours": hours,
                "mark_price": num(r.get("markPrice"), path, where, "markPrice", required=False),
                "premium": None,
            }
        )
    return {"funding": frame(rows, "funding")}


@FILE_FORMATS.reader("open_interest", "open_interest", "ccxt open interest")
def read_open_interest(path: Path, plan: Plan) -> dict[str, pl.DataFrame]:
    """ccxt open interest (one or a history) -> ``open_interest``.

    ``openInterestAmount`` is in contracts in ccxt; it is multiplied by ``info``'s contract size only
    when the envelope carries ``contract_size`` (1 for linear USDT perps on Binance/Bybit/HL).
    """
    data, env = _unwrap(path, plan)
    venue = _venue(plan, env, path)
    csize = float(env.get("contract_size") or 1.0)
    rows = []
    for i, r in enumerate(_records(data), start=1):
        where = f"record {i}"
        amount = num(r.get("openInterestAmount"), path, where, "openInterestAmount", required=False)
        value = num(r.get("openInterestValue"), path, where, "openInterestValue", required=False)
        if amount is None and value is None:
            raise DataError(
                f"{path}: {where}: neither openInterestAmount nor openInterestValue is set"
            )
        rows.append(
            {
                "venue": venue,
                "symbol": _symbol(venue, r.get("symbol"), plan, env, path, where),
                "time": time_field(r.get("timestamp"), path, where, "timestamp"),
                "open_interest_base": None if amount is None else amount * csize,
                "open_interest_quote": value,
            }
        )
    return {"open_interest": frame(rows, "open_interest")}


@FILE_FORMATS.reader("leverage_tiers", "leverage_brackets", "ccxt leverage tiers")
def read_leverage_tiers(path: Path, plan: Plan) -> dict[str, pl.DataFrame]:
    """ccxt leverage tiers -> ``leverage_brackets`` (see the module doc for ``cum``)."""
    data, env = _unwrap(path, plan)
    venue = _venue(plan, env, path)
    snap = (
        time_field(env["fetched_at"], path, "envelope", "fetched_at")
        if env.get("fetched_at")
        else None
    )
    groups: dict[str, list[dict[str, Any]]] = {}
    if isinstance(data, dict):
        for sym, tiers in data.items():
            groups[str(sym)] = tiers
    elif isinstance(data, list):
        for t in data:
            groups.setdefault(str(t.get("symbol") or env.get("symbol") or ""), []).append(t)
    rows = []
    for sym, tiers in groups.items():
        cum = 0.0
        prev_mmr = 0.0
        for j, t in enumerate(tiers, start=1):
            where = f"{sym} tier {j}"
            floor = num(t.get("minNotional"), path, where, "minNotional")
            mmr = num(t.get("maintenanceMarginRate"), path, where, "maintenanceMarginRate")
            raw_info = t.get("info")
            info: dict[str, Any] = raw_info if isinstance(raw_info, dict) else {}
            # Binance sends `cum`, Bybit v5 `mmDeduction` (empty when not applicable)
            given = num(info.get("cum"), path, where, "info.cum", required=False)
            if given is None:
                given = num(info.get("mmDeduction"), path, where, "info.mmDeduction", False)
            cum = given if given is not None else cum + floor * (mmr - prev_mmr)  # type: ignore[operator]
            prev_mmr = mmr  # type: ignore[assignment]
            rows.append(
                {
                    "venue": venue,
                    "symbol": _symbol(venue, sym or None, plan, env, path, where),
                    "bracket": int(num(t.get("tier"), path, where, "tier") or j),
                    "floor_quote": floor,
                    "cap_quote": num(t.get("maxNotional"), path, where, "maxNotional"),
                    "mmr": mmr,
                    "cum_quote": cum,
                    "max_leverage": num(t.get("maxLeverage"), path, where, "maxLeverage"),
                    "snapshot_time": snap,
                }
            )
    return {"leverage_brackets": frame(rows, "leverage_brackets")}


def _account(file_account: str | None, rec: dict[str, Any], path: Path) -> str:
    """The account a position belongs to, as text (see :func:`read_positions`)."""
    if file_account is not None:
        return file_account
    for key in ("account", "id"):
        if rec.get(key) not in (None, ""):
            return str(rec[key])
    return path.name


@FILE_FORMATS.reader("positions", "positions", "ccxt positions")
def read_positions(path: Path, plan: Plan) -> dict[str, pl.DataFrame]:
    """ccxt unified positions -> ``positions`` (side +1 long / -1 short; size_base =
    contracts * contractSize).

    ``account`` is text, kept as given: the envelope's ``account`` (e.g. a Hyperliquid address
    ``0x...``), else the position's own ``account`` or ``id``, else the file name (one
    ``fetch_positions()`` answer is one account's positions).
    """
    data, env = _unwrap(path, plan)
    venue = _venue(plan, env, path)
    file_account = None if env.get("account") is None else str(env["account"])
    rows = []
    for i, r in enumerate(_records(data), start=1):
        where = f"position {i}"
        side_txt = str(r.get("side") or "").lower()
        if side_txt not in ("long", "short"):
            raise DataError(
                f"{path}: {where}: field 'side' expected long/short, got {r.get('side')!r}"
            )
        contracts = num(r.get("contracts"), path, where, "contracts")
        csize = num(r.get("contractSize"), path, where, "contractSize", required=False) or 1.0
        rows.append(
            {
                "venue": venue,
                "symbol": _symbol(venue, r.get("symbol"), plan, env, path, where),
                "time": time_field(r.get("timestamp"), path, where, "timestamp", required=False),
                "account": _account(file_account, r, path),
                "side": 1 if side_txt == "long" else -1,
                "contracts": contracts,
                "contract_size": csize,
                "size_base": abs(contracts) * csize,  # type: ignore[arg-type]
                "entry_price": num(r.get("entryPrice"), path, where, "entryPrice", False),
                "mark_price": num(r.get("markPrice"), path, where, "markPrice", False),
                "notional_quote": num(r.get("notional"), path, where, "notional", False),
                "leverage": num(r.get("leverage"), path, where, "leverage", False),
                "collateral_quote": num(r.get("collateral"), path, where, "collateral", False),
                "initial_margin_quote": num(
                    r.get("initialMargin"), path, where, "initialMargin", False
                ),
                "maintenance_margin_quote": num(
                    r.get("maintenanceMargin"), path, where, "maintenanceMargin", False
                ),
                "liquidation_price": num(
                    r.get("liquidationPrice"), path, where, "liquidationPrice", False
                ),
                "margin_mode": r.get("marginMode"),
                "unrealized_pnl_quote": num(
                    r.get("unrealizedPnl"), path, where, "unrealizedPnl", False
                ),
            }
        )
    return {"positions": frame(rows, "positions")}
