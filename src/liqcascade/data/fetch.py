"""Live access through ccxt: fetch OHLCV, funding, open interest or leverage tiers and store them.

The fetched unified structures are written as a JSON envelope (see :mod:`liqcascade.data.ccxt_io`)
under ``<store folder>/fetched/<exchange>/`` and then ingested like any file, so fetched data has a
source file, a content hash and the same tables as files. ccxt does the HTTP and the parsing; this
module pages through time and maps errors:

* no network / timeout / venue down -> :class:`~liqcascade.errors.NetworkError`;
* the venue needs API keys (Binance leverage brackets) -> :class:`~liqcascade.errors.ConfigError`
  naming the environment variables ``LIQCASCADE_<EXCHANGE>_API_KEY`` / ``_SECRET``;
* unknown symbol or unsupported request -> :class:`~liqcascade.errors.InputError`.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from liqcascade.data.ccxt_io import CCXT_VENUES, venue_symbol
from liqcascade.data.store import default_db_path, to_utc
from liqcascade.errors import ConfigError, DataError, InputError, NetworkError
from liqcascade.log import logger
from liqcascade.timeutil import datetime_to_ms

EXCHANGES = ("binanceusdm", "binancecoinm", "hyperliquid", "bybit", "okx")
KINDS = ("ohlcv", "funding", "oi", "tiers")
MAX_PAGES = 2000


def make_exchange(
    exchange: str, timeout_s: float = 15.0, config: dict[str, Any] | None = None
) -> Any:
    """A ccxt exchange instance with a timeout (ms in ccxt) and rate limiting.

    API keys are read from ``LIQCASCADE_<EXCHANGE>_API_KEY`` / ``LIQCASCADE_<EXCHANGE>_SECRET`` when
    set (only Binance leverage brackets need them).
    """
    from liqcascade._optional import require

    require("fetching from exchanges", "ccxt", extra="fetch")
    import ccxt

    if exchange not in EXCHANGES:
        raise InputError(
            f"exchange {exchange!r} is not supported; expected one of {', '.join(EXCHANGES)}"
        )
    cfg: dict[str, Any] = {"timeout": int(timeout_s * 1000), "enableRateLimit": True}
    key = os.environ.get(f"LIQCASCADE_{exchange.upper()}_API_KEY")
    secret = os.environ.get(f"LIQCASCADE_{exchange.upper()}_SECRET")
    if key and secret:
        cfg.update(apiKey=key, secret=secret)
    cfg.update(config or {})
    return getattr(ccxt, exchange)(cfg)


def _call(ex: Any, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    import ccxt

    try:
        return fn(*args, **kwargs)
    except ccxt.AuthenticationError as exc:
        raise ConfigError(
            f"{ex.id}: {what} needs API keys; set LIQCASCADE_{ex.id.upper()}_API_KEY and "
            f"LIQCASCADE_{ex.id.upper()}_SECRET (read-only keys suffice), or ingest a saved "
            f"response file instead ({str(exc)[:120]})"
        ) from None
    except ccxt.NetworkError as exc:
        raise NetworkError(
            f"{ex.id}: cannot reach the exchange for {what} (no network, timeout or venue down; "
            f"ccxt: {type(exc).__name__}: {str(exc)[:200]})"
        ) from None
    except ccxt.BadSymbol as exc:
        raise InputError(f"{ex.id}: unknown symbol for {what}: {str(exc)[:200]}") from None
    except ccxt.NotSupported as exc:
        raise InputError(
            f"{ex.id}: {what} is not supported by this exchange: {str(exc)[:200]}"
        ) from None
    except ccxt.ExchangeError as exc:
        raise DataError(f"{ex.id}: the exchange refused {what}: {str(exc)[:300]}") from None


def fetch_records(
    ex: Any,
    symbol: str,
    kind: str,
    since_ms: int | None,
    until_ms: int | None,
    timeframe: str = "1m",
    price: str = "trade",
) -> tuple[dict[str, Any], Any]:
    """Fetch unified structures for one market. Returns (market, data).

    ``ohlcv`` pages ``fetch_ohlcv`` (``price``: trade, mark or index) from ``since_ms`` to
    ``until_ms`` (exclusive; default now); ``funding`` pages ``fetch_funding_rate_history``;
    ``oi`` pages ``fetch_open_interest_history`` where the venue has it, else takes the current
    ``fetch_open_interest``; ``tiers`` calls ``fetch_leverage_tiers``.
    """
    if kind not in KINDS:
        raise InputError(f"kind {kind!r} is not supported; expected one of {', '.join(KINDS)}")
    _call(ex, "load_markets", ex.load_markets)
    try:
        market = ex.market(symbol)
    except Exception:
        raise InputError(
            f"{ex.id}: unknown symbol {symbol!r} (use a ccxt symbol like BTC/USDT:USDT)"
        ) from None
    sym = market["symbol"]
    until = until_ms if until_ms is not None else int(time.time() * 1000)

    def page(fn: Any, what: str, ts: Any, *args: Any, **kw: Any) -> list[Any]:
        out: list[Any] = []
        cursor = since_ms
        for _ in range(MAX_PAGES):
            batch = _call(ex, what, fn, *args, since=cursor, **kw)
            if not batch:
                break
            fresh = [r for r in batch if (cursor is None or ts(r) >= cursor) and ts(r) < until]
            out.extend(fresh)
            last = max(ts(r) for r in batch)
            if cursor is None or last < cursor or last + 1 >= until or not fresh:
                break
            cursor = last + 1
        return out

    if kind == "ohlcv":
        params = {} if price == "trade" else {"price": price}
        data: Any = page(
            ex.fetch_ohlcv, f"OHLCV {sym}", lambda r: r[0], sym, timeframe, params=params
        )
    elif kind == "funding":
        data = page(
            ex.fetch_funding_rate_history, f"funding history {sym}", lambda r: r["timestamp"], sym
        )
    elif kind == "oi":
        if ex.has.get("fetchOpenInterestHistory"):
            data = page(
                ex.fetch_open_interest_history,
                f"open interest history {sym}",
                lambda r: r["timestamp"],
                sym,
                timeframe,
            )
        else:
            data = [_call(ex, f"open interest {sym}", ex.fetch_open_interest, sym)]
    else:
        tiers = _call(ex, f"leverage tiers {sym}", ex.fetch_leverage_tiers, [sym])
        data = {sym: tiers.get(sym, [])} if isinstance(tiers, dict) else tiers
    # drop ccxt's raw ``info`` from tiers only where it carries nothing we read
    return market, _jsonable(data)


def _jsonable(obj: Any) -> Any:
    return json.loads(json.dumps(obj, default=str))


def fetch_to_store(
    exchange: str,
    symbol: str,
    kind: str,
    since: Any = None,
    until: Any = None,
    timeframe: str = "1m",
    price: str = "trade",
    db: str | Path | None = None,
    timeout_s: float = 15.0,
    ex: Any = None,
) -> dict[str, Any]:
    """Fetch through ccxt, save the envelope JSON beside the store, ingest it.

    Returns ``{"file", "records", "rows", "status", "table", "venue", "symbol"}``. ``since``/``until``
    accept what :func:`liqcascade.timeutil.to_utc` accepts. ``ex`` injects a ready ccxt instance
    (tests replay recorded responses through it).
    """
    ex = ex if ex is not None else make_exchange(exchange, timeout_s)
    s, u = to_utc(since, "since"), to_utc(until, "until")
    since_ms = datetime_to_ms(s) if s else None
    until_ms = datetime_to_ms(u) if u else None
    market, data = fetch_records(ex, symbol, kind, since_ms, until_ms, timeframe, price)
    return store_unified(
        exchange,
        market["symbol"],
        kind,
        data,
        db=db,
        timeframe=timeframe,
        price=price,
        contract_size=market.get("contractSize") or 1.0,
        since_ms=since_ms,
        until_ms=until_ms,
    )


def store_unified(
    exchange: str,
    ccxt_symbol: str,
    kind: str,
    data: Any,
    db: str | Path | None = None,
    timeframe: str = "1m",
    price: str = "trade",
    contract_size: float = 1.0,
    since_ms: int | None = None,
    until_ms: int | None = None,
) -> dict[str, Any]:
    """Write ccxt unified structures as an envelope JSON beside the store and ingest it.

    ``data`` is what ccxt returned (OHLCV lists, funding-rate history, open interest, leverage
    tiers by symbol). The file goes to ``<store folder>/fetched/<exchange>/``.
    """
    from liqcascade.data.ingest import ingest_paths

    if kind not in KINDS:
        raise InputError(f"kind {kind!r} is not supported; expected one of {', '.join(KINDS)}")
    data = _jsonable(data)
    venue = CCXT_VENUES.get(exchange, exchange)
    vsym = venue_symbol(venue, ccxt_symbol)
    now_ms = int(time.time() * 1000)
    env = {
        "liqcascade": "ccxt",
        "exchange": exchange,
        "venue": venue,
        "kind": kind,
        "symbol": ccxt_symbol,
        "market_id": vsym,
        "contract_size": contract_size,
        "timeframe": timeframe if kind in ("ohlcv", "oi") else None,
        "price_kind": price if kind == "ohlcv" else None,
        "since": since_ms,
        "until": until_ms,
        "fetched_at": now_ms,
        "data": data,
    }
    records = len(data) if isinstance(data, list) else sum(len(v) for v in data.values())
    if records == 0:
        raise DataError(f"{exchange}: no {kind} data for {ccxt_symbol} in the requested range")
    db_path = Path(db) if db is not None else default_db_path()
    out_dir = db_path.parent / "fetched" / exchange
    out_dir.mkdir(parents=True, exist_ok=True)
    tf = f"-{timeframe}" if kind in ("ohlcv", "oi") else ""
    out = out_dir / f"{vsym}{tf}-{kind}-{since_ms or 'latest'}-{now_ms}.json"
    out.write_text(json.dumps(env))
    report = ingest_paths([out], db_path)
    res = report.files[0]
    if res.status == "failed":
        raise DataError(res.error or f"{out}: ingestion failed")
    logger.info("fetched %s %s %s: %d records -> %s", exchange, vsym, kind, records, out)
    return {
        "file": str(out),
        "records": records,
        "rows": res.rows,
        "status": res.status,
        "table": res.table,
        "venue": venue,
        "symbol": vsym,
    }
