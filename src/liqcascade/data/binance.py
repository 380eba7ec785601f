"""Binance public data files (data.binance.vision) and the leverage-bracket API JSON.

Layouts (https://github.com/binance/binance-public-data, columns as in the files' headers):

* klines / markPriceKlines / indexPriceKlines / premiumIndexKlines (12 columns; price-only files
  carry zero volumes and ``count`` = number of price samples);
* aggTrades: futures 7 columns with header, spot 8 columns without header (``is_best_match``);
* trades: futures 6 columns with header, spot 7 columns without header;
* bookDepth: ``timestamp`` (UTC text), ``percentage``, ``depth``, ``notional`` (+ optional
  ``weighted_avg_price``); metrics: open interest and long/short ratios every 5 min;
* fundingRate: ``calc_time, funding_interval_hours, last_funding_rate``;
* liquidationSnapshot: forced orders.

Epoch columns are milliseconds in futures files and MICROseconds in spot files since 2025; the unit
is detected per file from the first data row and every row must agree.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import polars as pl

from liqcascade.data.formats import Col, CsvSpec, FormatTable, Plan, frame, load_json, time_field
from liqcascade.errors import DataError
from liqcascade.venues.binance_brackets import is_leverage_brackets as is_leverage_brackets
from liqcascade.venues.binance_brackets import parse_leverage_brackets

_D = "DOUBLE"
_B = "BIGINT"
_BOOL = ("true", "false")

KLINES = CsvSpec(
    format="binance_klines",
    table="klines",
    columns=(
        Col("open_time", _B, epoch=True),
        Col("open", _D),
        Col("high", _D),
        Col("low", _D),
        Col("close", _D),
        Col("volume", _D),
        Col("close_time", _B, epoch=True),
        Col("quote_volume", _D),
        Col("count", _B),
        Col("taker_buy_volume", _D),
        Col("taker_buy_quote_volume", _D),
        Col("ignore", "VARCHAR", required=False),
    ),
    select="""$venue AS venue, $symbol AS symbol, $kind AS kind, $interval AS interval,
        {t:open_time} AS open_time, {t:close_time} AS close_time, open, high, low, close, volume,
        quote_volume, count AS trade_count, taker_buy_volume, taker_buy_quote_volume""",
    time_column="open_time",
    description="Binance klines (trade, mark, index, premium or price-only)",
)

_AGG_SELECT = """$venue AS venue, $symbol AS symbol, {t:transact_time} AS time,
    agg_trade_id, price, quantity AS size_base, first_trade_id, last_trade_id, is_buyer_maker"""
AGG_TRADES = CsvSpec(
    format="binance_agg_trades",
    table="agg_trades",
    columns=(
        Col("agg_trade_id", _B),
        Col("price", _D),
        Col("quantity", _D),
        Col("first_trade_id", _B),
        Col("last_trade_id", _B),
        Col("transact_time", _B, epoch=True),
        Col("is_buyer_maker", "BOOLEAN", allowed=_BOOL),
    ),
    select=_AGG_SELECT,
    time_column="transact_time",
    description="Binance futures aggTrades (7 columns)",
)


def _spot_variant(spec: CsvSpec, description: str) -> CsvSpec:
    """The spot layout of a futures trade file: one more column ``is_best_match``."""
    return replace(
        spec,
        columns=(*spec.columns, Col("is_best_match", "BOOLEAN", allowed=_BOOL)),
        select=spec.select + ", is_best_match",
        description=description,
    )


AGG_TRADES_SPOT = _spot_variant(AGG_TRADES, "Binance spot aggTrades (8 columns, no header)")

_TRADES_SELECT = """$venue AS venue, $symbol AS symbol, {t:time} AS time,
    CAST(id AS VARCHAR) AS trade_id, price, qty AS size_base, quote_qty,
    CAST(CASE WHEN is_buyer_maker THEN -1 ELSE 1 END AS TINYINT) AS side, is_buyer_maker"""
TRADES = CsvSpec(
    format="binance_trades",
    table="trades",
    columns=(
        Col("id", _B),
        Col("price", _D),
        Col("qty", _D),
        Col("quote_qty", _D),
        Col("time", _B, epoch=True),
        Col("is_buyer_maker", "BOOLEAN", allowed=_BOOL),
    ),
    select=_TRADES_SELECT,
    time_column="time",
    description="Binance futures trades (6 columns)",
)
TRADES_SPOT = _spot_variant(TRADES, "Binance spot trades (7 columns, no header)")

_DEPTH_COLS = (
    Col("timestamp", "TIMESTAMP"),
    Col("percentage", _D),
    Col("depth", _D),
    Col("notional", _D),
)
_DEPTH_SELECT = """$venue AS venue, $symbol AS symbol, CAST(timestamp AS TIMESTAMPTZ) AS time,
    percentage, depth AS depth_base, notional AS notional_quote"""
BOOK_DEPTH = CsvSpec(
    format="binance_book_depth",
    table="book_depth",
    columns=_DEPTH_COLS,
    select=_DEPTH_SELECT,
    time_column="timestamp",
    description="Binance bookDepth (4 columns)",
)
BOOK_DEPTH_WAP = replace(
    BOOK_DEPTH,
    columns=(*_DEPTH_COLS, Col("weighted_avg_price", _D, required=False)),
    select=_DEPTH_SELECT + ", weighted_avg_price",
    description="Binance bookDepth with weighted_avg_price (5 columns)",
)

METRICS = CsvSpec(
    format="binance_metrics",
    table="open_interest",
    columns=(
        Col("create_time", "TIMESTAMP"),
        Col("symbol", "VARCHAR"),
        Col("sum_open_interest", _D, required=False),
        Col("sum_open_interest_value", _D, required=False),
        Col("count_toptrader_long_short_ratio", _D, required=False),
        Col("sum_toptrader_long_short_ratio", _D, required=False),
        Col("count_long_short_ratio", _D, required=False),
        Col("sum_taker_long_short_vol_ratio", _D, required=False),
    ),
    select="""$venue AS venue, symbol, CAST(create_time AS TIMESTAMPTZ) AS time,
        sum_open_interest AS open_interest_base, sum_open_interest_value AS open_interest_quote,
        count_toptrader_long_short_ratio AS top_trader_account_ls_ratio,
        sum_toptrader_long_short_ratio AS top_trader_position_ls_ratio,
        count_long_short_ratio AS account_ls_ratio,
        sum_taker_long_short_vol_ratio AS taker_buy_sell_vol_ratio""",
    time_column="create_time",
    description="Binance metrics (open interest, long/short ratios)",
)

FUNDING = CsvSpec(
    format="binance_funding_rate",
    table="funding",
    columns=(
        Col("calc_time", _B, epoch=True),
        Col("funding_interval_hours", _D),
        Col("last_funding_rate", _D),
    ),
    select="""$venue AS venue, $symbol AS symbol, {t:calc_time} AS time,
        last_funding_rate AS funding_rate, funding_interval_hours AS interval_hours""",
    time_column="calc_time",
    description="Binance fundingRate (monthly files)",
)

LIQUIDATIONS = CsvSpec(
    format="binance_liquidation_snapshot",
    table="liquidations",
    columns=(
        Col("time", _B, epoch=True),
        Col("side", "VARCHAR", allowed=("buy", "sell")),
        Col("order_type", "VARCHAR"),
        Col("time_in_force", "VARCHAR"),
        Col("original_quantity", _D),
        Col("price", _D),
        Col("average_price", _D, required=False),
        Col("order_status", "VARCHAR"),
        Col("last_fill_quantity", _D, required=False),
        Col("accumulated_fill_quantity", _D, required=False),
    ),
    select="""$venue AS venue, $symbol AS symbol, {t:time} AS time,
        CAST(CASE upper(side) WHEN 'BUY' THEN 1 WHEN 'SELL' THEN -1 END AS TINYINT) AS order_side,
        price, average_price AS avg_price, original_quantity AS size_base,
        accumulated_fill_quantity AS filled_base, last_fill_quantity AS last_fill_base,
        order_status AS status, order_type, time_in_force""",
    time_column="time",
    description="Binance liquidationSnapshot (forced orders)",
)

#: (file-name token, specs by column count)
BY_NAME_TOKEN: dict[str, tuple[CsvSpec, ...]] = {
    "aggtrades": (AGG_TRADES, AGG_TRADES_SPOT),
    "trades": (TRADES, TRADES_SPOT),
    "bookdepth": (BOOK_DEPTH, BOOK_DEPTH_WAP),
    "metrics": (METRICS,),
    "fundingrate": (FUNDING,),
    "liquidationsnapshot": (LIQUIDATIONS,),
}
#: The formats this module reads.
FILE_FORMATS = FormatTable(prefix="binance_")
FILE_FORMATS.csv(
    "Binance klines / markPriceKlines / indexPriceKlines / premiumIndexKlines CSV", KLINES
)
FILE_FORMATS.csv("Binance aggTrades CSV (futures 7 columns, spot 8)", AGG_TRADES, AGG_TRADES_SPOT)
FILE_FORMATS.csv("Binance trades CSV (futures 6 columns, spot 7)", TRADES, TRADES_SPOT)
FILE_FORMATS.csv("Binance bookDepth CSV (depth bands +-1..5 %)", BOOK_DEPTH, BOOK_DEPTH_WAP)
FILE_FORMATS.csv("Binance metrics CSV (open interest, long/short ratios)", METRICS)
FILE_FORMATS.csv("Binance fundingRate CSV", FUNDING)
FILE_FORMATS.csv("Binance liquidationSnapshot CSV (forced orders)", LIQUIDATIONS)
_INTERVAL_RE = re.compile(r"^\d+[smhdwM]$")
_KLINE_DIRS = {
    "markpriceklines": "mark",
    "indexpriceklines": "index",
    "premiumindexklines": "premium",
    "klines": "trade",
}


def name_parts(path: Path) -> tuple[str | None, str | None]:
    """(symbol, token) from ``SYMBOL-token-YYYY-MM[-DD].csv|zip``; token is ``aggTrades``, ``1m``..."""
    stem = path.name
    for suf in (".zip", ".gz", ".csv"):
        if stem.lower().endswith(suf):
            stem = stem[: -len(suf)]
    m = re.match(r"^([A-Za-z0-9_]+)-([A-Za-z0-9]+)-(\d{4}-\d{2}(?:-\d{2})?)", stem)
    if not m:
        return None, None
    return m.group(1), m.group(2)


def infer_venue(path: Path, symbol: str | None, time_unit: str | None, fmt: str) -> str:
    """binance_usdm / binance_coinm / binance_spot from the path (``um``/``cm``/``spot`` folder,
    as in data.binance.vision), else ``_PERP``/dated symbols -> COIN-M, µs trade timestamps ->
    spot (Binance spot files switched to µs in 2025), else USDⓈ-M."""
    parts = [p.lower() for p in path.parts[:-1]]
    if "spot" in parts:
        return "binance_spot"
    if "cm" in parts or "coinm" in parts:
        return "binance_coinm"
    if "um" in parts or "usdm" in parts:
        return "binance_usdm"
    if symbol and "_" in symbol:
        return "binance_coinm"
    if time_unit == "us" and fmt in ("binance_agg_trades", "binance_trades"):
        return "binance_spot"
    return "binance_usdm"


def kline_kind_from_path(path: Path) -> str | None:
    """``mark``/``index``/``premium``/``trade`` when the folder or file name says so, else None."""
    for part in reversed([p.lower() for p in path.parts[:-1]]):
        if part in _KLINE_DIRS:
            return _KLINE_DIRS[part]
    low = path.name.lower()
    for key, kind in (("markprice", "mark"), ("indexprice", "index"), ("premiumindex", "premium")):
        if key in low:
            return kind
    return None


def interval_from_ms(ms: int) -> str:
    """Kline interval text from its length in milliseconds (close_time - open_time + 1)."""
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms >= size and ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


# --------------------------------------------------------------------------------------------
# leverage brackets (GET /fapi/v1/leverageBracket)
# --------------------------------------------------------------------------------------------
@FILE_FORMATS.reader(
    "leverage_brackets", "leverage_brackets", "Binance GET /fapi/v1/leverageBracket JSON"
)
def read_leverage_brackets(path: Path, plan: Plan) -> dict[str, pl.DataFrame]:
    """Binance ``/fapi/v1/leverageBracket`` JSON (a list of ``{symbol, brackets}``, optionally
    wrapped in ``{"data": [...]}``), read by :mod:`liqcascade.venues.binance_brackets`; values
    may be strings or numbers. ``cum`` is the maintenance amount in quote currency (required
    here). A snapshot time is taken from ``source.snapshot_date`` or ``snapshot_time`` when the
    wrapper has it."""
    parsed = parse_leverage_brackets(load_json(path), str(path), error=DataError)
    snap = None
    if parsed.snapshot:
        snap = time_field(parsed.snapshot, path, "wrapper", "snapshot_time")
    rows = []
    for i, entry in enumerate(parsed.entries, start=1):
        for b in entry.brackets:
            if b.cum_quote is None:
                raise DataError(
                    f"{path}: entry {i} ({entry.symbol}) bracket {b.bracket}: field 'cum' is "
                    "missing (a number is required)"
                )
            rows.append(
                {
                    "venue": plan.venue,
                    "symbol": entry.symbol,
                    "bracket": b.bracket,
                    "floor_quote": b.floor_quote,
                    "cap_quote": b.cap_quote,
                    "mmr": b.mmr,
                    "cum_quote": b.cum_quote,
                    "max_leverage": b.max_leverage,
                    "snapshot_time": snap,
                }
            )
    return {"leverage_brackets": frame(rows, "leverage_brackets")}
