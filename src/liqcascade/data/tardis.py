"""Tardis.dev ``trades`` CSV (https://docs.tardis.dev/downloadable-csv-files#trades).

Columns: ``exchange, symbol, timestamp, local_timestamp, id, side, price, amount``; timestamps are
microseconds since epoch (UTC; ``timestamp`` is the exchange's, ``local_timestamp`` Tardis's
arrival time), ``side`` is the aggressor (``buy``/``sell``/``unknown``), ``amount`` is in base
units. The venue is taken from the ``exchange`` column of each row, mapped to liqcascade's venue
names where one exists (``binance-futures`` -> ``binance_usdm`` ...); other exchanges keep the
Tardis id (``gemini``).
"""

from __future__ import annotations

from liqcascade.data.formats import Col, CsvSpec, FormatTable

#: Tardis exchange id -> liqcascade venue name.
TARDIS_VENUES = {
    "binance-futures": "binance_usdm",
    "binance-delivery": "binance_coinm",
    "binance": "binance_spot",
    "bybit": "bybit_linear",
    "okex-swap": "okx_swap",
    "hyperliquid": "hyperliquid",
    "dydx-v4": "dydx_v4",
}

_CASE = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in TARDIS_VENUES.items())

TRADES = CsvSpec(
    format="tardis_trades",
    table="trades",
    columns=(
        Col("exchange", "VARCHAR"),
        Col("symbol", "VARCHAR"),
        Col("timestamp", "BIGINT", epoch=True),
        Col("local_timestamp", "BIGINT", required=False),
        Col("id", "VARCHAR", required=False),
        Col("side", "VARCHAR", allowed=("buy", "sell", "unknown")),
        Col("price", "DOUBLE"),
        Col("amount", "DOUBLE"),
    ),
    select=f"""CASE lower(exchange) {_CASE} ELSE lower(exchange) END AS venue, symbol,
        {{t:timestamp}} AS time, id AS trade_id, price, amount AS size_base,
        CAST(CASE lower(side) WHEN 'buy' THEN 1 WHEN 'sell' THEN -1 WHEN 'unknown' THEN 0 END
            AS TINYINT) AS side,
        CASE lower(side) WHEN 'buy' THEN false WHEN 'sell' THEN true END AS is_buyer_maker""",
    time_column="timestamp",
    description="Tardis trades CSV (any exchange)",
)

#: The formats this module reads.
FILE_FORMATS = FormatTable()
FILE_FORMATS.csv(
    "Tardis trades CSV (exchange,symbol,timestamp,local_timestamp,id,side,price,amount)", TRADES
)
