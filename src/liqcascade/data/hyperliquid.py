"""Hyperliquid payloads as its info API and its public archives deliver them.

Shapes (https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/info-endpoint and
.../historical-data):

* trades: ``recentTrades`` / websocket ``trades`` -> list of
  ``{coin, side: "A"|"B", px, sz, time (ms), hash, tid, users: [buyer, seller]}``; archive
  ``node_trades`` JSON lines -> ``{coin, side, time (ISO, ns), px, sz, hash, side_info: [{user, ...}
  (bid side), {user, ...} (ask side)]}``. ``side`` is the aggressor: B = buyer, A = seller.
* fills: ``userFills`` / ``userFillsByTime`` -> list of ``{coin, px, sz, side, time, startPosition,
  dir, closedPnl, hash, oid, crossed, fee, tid, liquidation?: {liquidatedUser, markPx, method}}``
  (also ``{"user": ..., "fills": [...]}`` as on the websocket); archive ``node_fills`` lines
  ``[user, fill]`` and ``node_fills_by_block`` lines ``{"events": [[user, fill], ...]}``.
  ``side`` of a fill is the user's side; the aggressor is the user when ``crossed`` is true.
  Every fill goes to ``trades``; fills carrying ``liquidation`` also go to ``liquidations``.
* asset contexts: ``metaAndAssetCtxs`` -> ``[{"universe": [{"name": ...}, ...]}, [ctx, ...]]`` with
  ctx ``{funding, openInterest, prevDayPx, dayNtlVlm, premium, oraclePx, markPx, midPx,
  impactPxs: [bid, ask], dayBaseVlm}``; the API response has no time, so a wrapper
  ``{"time": ms, "data": response}`` gives it, else the file's modification time is used (logged).
  Archive ``asset_ctxs`` CSV: ``time, coin, funding, open_interest, prev_day_px, day_ntl_vlm,
  premium, oracle_px, mark_px, mid_px, impact_bid_px, impact_ask_px``.
* funding: ``fundingHistory`` -> ``[{coin, fundingRate, premium, time}]`` (hourly; rate per hour).
* candles: ``candleSnapshot`` -> ``[{t, T, s, i, o, c, h, l, v, n}]``.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from liqcascade.data.formats import (
    FormatTable,
    Plan,
    frame,
    iter_records,
    load_json,
    num,
    open_text,
    time_field,
)
from liqcascade.errors import DataError
from liqcascade.log import logger

VENUE = "hyperliquid"
#: The formats this module reads.
FILE_FORMATS = FormatTable(prefix="hyperliquid_")


def _side(value: Any, path: Path, where: str) -> int:
    if value in ("B", "b", "buy", "Buy"):
        return 1
    if value in ("A", "a", "sell", "Sell"):
        return -1
    raise DataError(
        f"{path}: {where}: field 'side' expected 'A' (ask/sell) or 'B' (bid/buy), got {value!r}"
    )


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


# -- detection ------------------------------------------------------------------------------
def _first(data: Any) -> Any:
    return data[0] if isinstance(data, list) and data else None


def classify(data: Any) -> str | None:
    """Which Hyperliquid payload ``data`` is (format name), or None."""
    if isinstance(data, dict) and isinstance(data.get("fills"), list):
        return "hyperliquid_fills"
    if isinstance(data, dict) and "data" in data and "time" in data:
        return classify(data["data"])
    if (
        isinstance(data, list)
        and len(data) == 2
        and isinstance(data[0], dict)
        and "universe" in data[0]
        and isinstance(data[1], list)
    ):
        return "hyperliquid_asset_ctxs"
    rec = _first(data)
    if isinstance(rec, list) and len(rec) == 2 and isinstance(rec[1], dict) and "coin" in rec[1]:
        return "hyperliquid_fills"  # node_fills lines [user, fill]
    if isinstance(rec, dict):
        keys = set(rec)
        if "events" in keys and "block_number" in keys | {"block_number"}:
            return "hyperliquid_fills"
        if {"coin", "px", "sz", "side", "time"} <= keys:
            if {"oid", "crossed"} & keys or "closedPnl" in keys:
                return "hyperliquid_fills"
            return "hyperliquid_trades"
        if {"coin", "fundingRate", "time"} <= keys:
            return "hyperliquid_funding"
        if {"t", "T", "s", "i", "o", "c", "h", "l", "v"} <= keys:
            return "hyperliquid_candles"
    return None


# -- readers --------------------------------------------------------------------------------
@FILE_FORMATS.reader("trades", "trades", "Hyperliquid trades (API JSON or node_trades JSON lines)")
def read_trades(path: Path, plan: Plan) -> dict[str, pl.DataFrame]:
    """Hyperliquid public trades (API list or ``node_trades`` JSON lines) -> ``trades``."""
    data = load_json(path)
    rows = []
    for where, r in iter_records(data, path):
        if not isinstance(r, dict):
            raise DataError(f"{path}: {where}: expected an object, got {type(r).__name__}")
        side = _side(r.get("side"), path, where)
        buyer = seller = None
        users = r.get("users")
        info = r.get("side_info")
        if isinstance(users, list) and len(users) == 2:
            buyer, seller = users
        elif isinstance(info, list) and len(info) == 2:
            buyer, seller = (info[0] or {}).get("user"), (info[1] or {}).get("user")
        coin = r.get("coin")
        if not coin:
            raise DataError(f"{path}: {where}: field 'coin' is missing")
        rows.append(
            {
                "venue": VENUE,
                "symbol": coin,
                "time": time_field(r.get("time"), path, where, "time"),
                "trade_id": _str(r.get("tid")) or _str(r.get("hash")),
                "price": num(r.get("px"), path, where, "px"),
                "size_base": num(r.get("sz"), path, where, "sz"),
                "side": side,
                "is_liquidation": None,
                "buyer": buyer,
                "seller": seller,
                "fee_quote": None,
                "closed_pnl_quote": None,
                "start_position_base": None,
                "direction": None,
            }
        )
    return {"trades": frame(rows, "trades")}


def _fill_events(data: Any, path: Path) -> list[tuple[str, str | None, dict[str, Any]]]:
    """(label, user, fill) for every fill of any of the fill payload shapes."""
    out: list[tuple[str, str | None, dict[str, Any]]] = []
    if isinstance(data, dict) and isinstance(data.get("fills"), list):
        user = data.get("user")
        return [(f"fill {i}", user, f) for i, f in enumerate(data["fills"], start=1)]
    for where, r in iter_records(data, path):
        if isinstance(r, list) and len(r) == 2:
            out.append((where, r[0], r[1]))
        elif isinstance(r, dict) and isinstance(r.get("events"), list):
            for k, ev in enumerate(r["events"], start=1):
                if not (isinstance(ev, list) and len(ev) == 2):
                    raise DataError(f"{path}: {where} event {k}: expected [user, fill]")
                out.append((f"{where} event {k}", ev[0], ev[1]))
        elif isinstance(r, dict):
            out.append((where, r.get("user"), r))
        else:
            raise DataError(f"{path}: {where}: expected a fill object, got {type(r).__name__}")
    return out


@FILE_FORMATS.reader(
    "fills",
    "trades",
    "Hyperliquid user fills incl. liquidation fills (API JSON, node_fills lines)",
)
def read_fills(path: Path, plan: Plan) -> dict[str, pl.DataFrame]:
    """Hyperliquid user fills -> ``trades`` (all) and ``liquidations`` (fills with ``liquidation``).

    Liquidation ``order_side`` is the side of the liquidated account's order. When the fill's user
    is known (archive files), only the liquidated user's own fill becomes a liquidation row (the
    counterparty's fill of the same trade is not counted again). When it is not known (``userFills``
    of one account), the fill is taken as the liquidated account's own unless its ``dir`` starts with
    "Open" (then it is the liquidator's fill and the order side is the opposite).
    """
    data = load_json(path)
    trades, liqs = [], []
    for where, user, f in _fill_events(data, path):
        if not isinstance(f, dict):
            raise DataError(f"{path}: {where}: expected a fill object")
        coin = f.get("coin")
        if not coin:
            raise DataError(f"{path}: {where}: field 'coin' is missing")
        side = _side(f.get("side"), path, where)
        crossed = f.get("crossed")
        aggressor = side if crossed in (True, None) else -side
        t = time_field(f.get("time"), path, where, "time")
        px = num(f.get("px"), path, where, "px")
        sz = num(f.get("sz"), path, where, "sz")
        liq = f.get("liquidation")
        tid = _str(f.get("tid")) or _str(f.get("hash"))
        trades.append(
            {
                "venue": VENUE,
                "symbol": coin,
                "time": t,
                "trade_id": tid,
                "price": px,
                "size_base": sz,
                "side": aggressor,
                "is_liquidation": bool(liq),
                "buyer": user if side == 1 else None,
                "seller": user if side == -1 else None,
                "fee_quote": num(f.get("fee"), path, where, "fee", required=False),
                "closed_pnl_quote": num(
                    f.get("closedPnl"), path, where, "closedPnl", required=False
                ),
                "start_position_base": num(
                    f.get("startPosition"), path, where, "startPosition", required=False
                ),
                "direction": _str(f.get("dir")),
            }
        )
        if liq:
            if not isinstance(liq, dict):
                raise DataError(f"{path}: {where}: field 'liquidation' expected an object")
            liquidated = liq.get("liquidatedUser")
            if user is not None and liquidated is not None:
                # archive files hold both sides of a liquidation fill: keep the liquidated side
                # only, so that one forced order is counted once
                if user.lower() != str(liquidated).lower():
                    continue
                own = True
            else:
                own = not str(f.get("dir") or "").startswith("Open")
            liqs.append(
                {
                    "venue": VENUE,
                    "symbol": coin,
                    "time": t,
                    "order_side": side if own else -side,
                    "price": px,
                    "size_base": sz,
                    "filled_base": sz,
                    "mark_price": num(
                        liq.get("markPx"), path, where, "liquidation.markPx", required=False
                    ),
                    "status": "FILLED",
                    "method": _str(liq.get("method")),
                    "liquidated_user": _str(liquidated),
                    "trade_id": tid,
                }
            )
    out = {"trades": frame(trades, "trades")}
    if liqs:
        out["liquidations"] = frame(liqs, "liquidations")
    return out


@FILE_FORMATS.reader(
    "asset_ctxs", "asset_ctx", "Hyperliquid metaAndAssetCtxs JSON or asset_ctxs archive CSV"
)
def read_asset_ctxs(path: Path, plan: Plan) -> dict[str, pl.DataFrame]:
    """``metaAndAssetCtxs`` response (JSON) or the archive ``asset_ctxs`` CSV -> ``asset_ctx``."""
    if path.name.lower().endswith((".csv", ".csv.gz")):
        return {"asset_ctx": _read_ctx_csv(path)}
    data = load_json(path)
    t: datetime | None = None
    if isinstance(data, dict):
        t = time_field(data.get("time"), path, "wrapper", "time")
        data = data.get("data")
    if t is None:
        t = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
        logger.warning("%s: metaAndAssetCtxs has no time; using the file's mtime %s", path, t)
    meta, ctxs = data
    universe = meta.get("universe") or []
    if len(universe) != len(ctxs):
        raise DataError(
            f"{path}: universe has {len(universe)} assets but there are {len(ctxs)} contexts"
        )
    rows = []
    for i, (asset, c) in enumerate(zip(universe, ctxs, strict=True), start=1):
        where = f"asset {i} ({asset.get('name')})"
        imp = c.get("impactPxs") or [None, None]
        rows.append(
            {
                "venue": VENUE,
                "symbol": asset.get("name"),
                "time": t,
                "funding_rate": num(c.get("funding"), path, where, "funding", required=False),
                "open_interest_base": num(
                    c.get("openInterest"), path, where, "openInterest", False
                ),
                "mark_price": num(c.get("markPx"), path, where, "markPx", required=False),
                "oracle_price": num(c.get("oraclePx"), path, where, "oraclePx", required=False),
                "mid_price": num(c.get("midPx"), path, where, "midPx", required=False),
                "premium": num(c.get("premium"), path, where, "premium", required=False),
                "impact_bid_price": num(imp[0], path, where, "impactPxs[0]", required=False),
                "impact_ask_price": num(imp[1], path, where, "impactPxs[1]", required=False),
                "prev_day_price": num(c.get("prevDayPx"), path, where, "prevDayPx", False),
                "day_notional_quote": num(c.get("dayNtlVlm"), path, where, "dayNtlVlm", False),
                "day_base_volume": num(c.get("dayBaseVlm"), path, where, "dayBaseVlm", False),
            }
        )
        if not rows[-1]["symbol"]:
            raise DataError(f"{path}: {where}: universe entry has no 'name'")
    return {"asset_ctx": frame(rows, "asset_ctx")}


_CTX_CSV = {
    "funding": "funding_rate",
    "open_interest": "open_interest_base",
    "prev_day_px": "prev_day_price",
    "day_ntl_vlm": "day_notional_quote",
    "premium": "premium",
    "oracle_px": "oracle_price",
    "mark_px": "mark_price",
    "mid_px": "mid_price",
    "impact_bid_px": "impact_bid_price",
    "impact_ask_px": "impact_ask_price",
}


def _read_ctx_csv(path: Path) -> pl.DataFrame:
    rows = []
    with open_text(path) as fh:
        reader = csv.DictReader(fh)
        missing = {"time", "coin", *_CTX_CSV} - set(reader.fieldnames or [])
        if missing:
            raise DataError(f"{path}: asset_ctxs CSV lacks columns {sorted(missing)}")
        for lineno, r in enumerate(reader, start=2):
            where = f"line {lineno}"
            if None in r or any(v is None for v in r.values()):
                raise DataError(f"{path}: {where}: wrong number of columns")
            row: dict[str, Any] = {
                "venue": VENUE,
                "symbol": r["coin"],
                "time": time_field(r["time"], path, where, "time"),
                "day_base_volume": None,
            }
            for src, dst in _CTX_CSV.items():
                row[dst] = num(r[src], path, where, src, required=False)
            rows.append(row)
    return frame(rows, "asset_ctx")


@FILE_FORMATS.reader("funding", "funding", "Hyperliquid fundingHistory JSON")
def read_funding(path: Path, plan: Plan) -> dict[str, pl.DataFrame]:
    """``fundingHistory`` -> ``funding`` (rate per 1-hour interval, premium as delivered)."""
    rows = [
        {
            "venue": VENUE,
            "symbol": r.get("coin"),
            "time": time_field(r.get("time"), path, where, "time"),
            "funding_rate": num(r.get("fundingRate"), path, where, "fundingRate"),
            "interval_hours": 1.0,
            "mark_price": None,
            "premium": num(r.get("premium"), path, where, "premium", required=False),
        }
        for where, r in iter_records(load_json(path), path)
    ]
    return {"funding": frame(rows, "funding")}


@FILE_FORMATS.reader("candles", "klines", "Hyperliquid candleSnapshot JSON")
def read_candles(path: Path, plan: Plan) -> dict[str, pl.DataFrame]:
    """``candleSnapshot`` -> ``klines`` (kind ``trade``; volume ``v`` in base units)."""
    data = load_json(path)
    rows = []
    for where, r in iter_records(data, path):
        rows.append(
            {
                "venue": VENUE,
                "symbol": r.get("s"),
                "kind": plan.kind or "trade",
                "interval": r.get("i"),
                "open_time": time_field(r.get("t"), path, where, "t"),
                "close_time": time_field(r.get("T"), path, where, "T"),
                "open": num(r.get("o"), path, where, "o"),
                "high": num(r.get("h"), path, where, "h"),
                "low": num(r.get("l"), path, where, "l"),
                "close": num(r.get("c"), path, where, "c"),
                "volume": num(r.get("v"), path, where, "v", required=False),
                "trade_count": int(num(r.get("n"), path, where, "n", required=False) or 0),
            }
        )
        if not rows[-1]["symbol"] or not rows[-1]["interval"]:
            raise DataError(f"{path}: {where}: fields 's' (coin) and 'i' (interval) are required")
    return {"klines": frame(rows, "klines")}
