"""Readers for the Binance file family, Hyperliquid payloads and ccxt structures; query API."""

from __future__ import annotations

import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from liqcascade.data import Store, detect, ingest_paths, to_utc
from liqcascade.data.ccxt_io import venue_symbol
from liqcascade.errors import InputError

FIX = Path(__file__).parent / "data"


def _ingest(tmp_path: Path, *paths: Path, **kw) -> tuple[Path, list]:
    db = tmp_path / "f.duckdb"
    rep = ingest_paths(list(paths), db, **kw)
    assert rep.ok, [f.error for f in rep.failed]
    return db, rep.files


def _w(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_binance_metrics_liquidations_and_trades(tmp_path: Path) -> None:
    metrics = _w(
        tmp_path / "um/metrics/BTCUSDT-metrics-2025-10-10.csv",
        "create_time,symbol,sum_open_interest,sum_open_interest_value,"
        "count_toptrader_long_short_ratio,sum_toptrader_long_short_ratio,"
        "count_long_short_ratio,sum_taker_long_short_vol_ratio\n"
        "2025-10-10 21:00:00,BTCUSDT,94312.511,11459250112.4,1.9876,1.6543,2.1234,0.9876\n"
        "2025-10-10 21:05:00,BTCUSDT,90211.902,10311250344.98,2.0511,1.7012,2.2001,\n",
    )
    liq = _w(
        tmp_path / "um/liquidationSnapshot/BTCUSDT-liquidationSnapshot-2025-10-10.csv",
        "time,side,order_type,time_in_force,original_quantity,price,average_price,order_status,"
        "last_fill_quantity,accumulated_fill_quantity\n"
        "1760131205123,SELL,LIMIT,IOC,0.512,104250.10,104480.30,FILLED,0.512,0.512\n"
        "1760131205991,BUY,LIMIT,IOC,1.004,118020.00,117990.10,FILLED,0.004,1.004\n",
    )
    trades = _w(
        tmp_path / "um/trades/BTCUSDT-trades-2025-10-10.csv",
        "id,price,qty,quote_qty,time,is_buyer_maker\n"
        "6600000001,113000.1,0.010,1130.001,1760131200001,true\n"
        "6600000002,113000.2,0.020,2260.004,1760131200002,false\n",
    )
    spot = _w(  # spot trades: no header, µs, is_best_match
        tmp_path / "spot/trades/BTCUSDC-trades-2025-10-10.csv",
        "9100000001,113001.00,0.00100,113.001,1760131200000123,True,True\n",
    )
    db, res = _ingest(tmp_path, metrics, liq, trades, spot)
    assert [r.format for r in res] == [
        "binance_metrics",
        "binance_liquidation_snapshot",
        "binance_trades",
        "binance_trades",
    ]
    with Store(db, read_only=True) as s:
        oi = s.open_interest("binance_usdm", "BTCUSDT")
        assert oi["open_interest_base"].to_list() == [94312.511, 90211.902]
        assert oi["taker_buy_sell_vol_ratio"][1] is None  # empty optional field stays null
        lq = s.liquidations("binance_usdm", "BTCUSDT")
        assert lq["order_side"].to_list() == [-1, 1]
        assert lq["filled_base"].to_list() == [0.512, 1.004]
        tr = s.trades("binance_usdm", "BTCUSDT")
        assert tr["side"].to_list() == [-1, 1]  # buyer maker -> seller aggressor
        assert tr["notional_quote"][0] == pytest.approx(1130.001)
        sp = s.trades("binance_spot", "BTCUSDC")
        assert sp["time"][0] == datetime(2025, 10, 10, 21, 20, 0, 123, tzinfo=UTC)


def test_kline_kind_from_folder_and_headerless(tmp_path: Path) -> None:
    row = "1760131200000,113540.1,113602.0,112501.2,112771.3,0,1760131259999,0,60,0,0,0\n"
    mark = _w(
        tmp_path / "futures/um/daily/markPriceKlines/BTCUSDT/1m/BTCUSDT-1m-2025-10-10.csv", row
    )
    index = _w(
        tmp_path / "futures/um/daily/indexPriceKlines/BTCUSDT/1m/BTCUSDT-1m-2025-10-11.csv",
        row.replace("112771.3", "112790.4"),
    )
    prem = _w(
        tmp_path / "premiumIndexKlines/BTCUSDT-1h-2025-10-10.csv",
        "1760130000000,-0.0001,0.0002,-0.0009,-0.0003,0,1760133599999,0,720,0,0,0\n",
    )
    plain = _w(tmp_path / "x/BTCUSDT-1m-2025-10-12.csv", row.replace("112771.3", "112760.0"))
    zpath = tmp_path / "um/klines/BTCUSDT-3m-2025-10-10.zip"
    zpath.parent.mkdir(parents=True)
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.writestr(
            "BTCUSDT-3m-2025-10-10.csv",
            "1760131200000,1,2,0.5,1.5,10,1760131379999,15,7,5,7.5,0\n",
        )
    db, res = _ingest(tmp_path, mark, index, prem, plain, zpath)
    assert [r.kind for r in res] == ["mark", "index", "premium", "price", "trade"]
    with Store(db, read_only=True) as s:
        assert s.klines("binance_usdm", "BTCUSDT", kind="premium")["low"][0] == -0.0009
        assert s.klines("binance_usdm", "BTCUSDT", kind="trade")["interval"][0] == "3m"
    with Store(db) as s:
        s.sql(
            "INSERT INTO klines SELECT * REPLACE ('5m' AS interval) FROM klines WHERE kind='mark'"
        )
        with pytest.raises(Exception, match="several intervals"):
            s.klines("binance_usdm", "BTCUSDT", kind="mark")
        assert s.klines("binance_usdm", "BTCUSDT", kind="mark", interval="5m").height == 1


def test_hyperliquid_payloads(tmp_path: Path) -> None:
    db, res = _ingest(tmp_path, FIX / "hyperliquid")
    fmts = {Path(r.path).name: r.format for r in res}
    assert fmts == {
        "asset_ctxs_20251010.csv": "hyperliquid_asset_ctxs",  # archive CSV
        "candleSnapshot_BTC_1m.json": "hyperliquid_candles",
        "fundingHistory_BTC.json": "hyperliquid_funding",
        "metaAndAssetCtxs_20251010T2120.json": "hyperliquid_asset_ctxs",
        "node_fills_by_block_20251010_21.jsonl": "hyperliquid_fills",
        "node_trades_20251010_21": "hyperliquid_trades",  # archive file, no extension
        "trades_BTC.json": "hyperliquid_trades",
        "userFills.json": "hyperliquid_fills",
    }
    raw_trades = json.loads((FIX / "hyperliquid/trades_BTC.json").read_text())
    with Store(db, read_only=True) as s:
        tr = s.trades("hyperliquid", "BTC").filter(pl.col("source_file") == "trades_BTC.json")
        assert tr["price"].to_list() == [float(t["px"]) for t in raw_trades]
        assert tr["side"].to_list() == [-1 if t["side"] == "A" else 1 for t in raw_trades]
        assert tr["buyer"].to_list() == [t["users"][0] for t in raw_trades]
        # one liquidation in the block file (the counterparty's fill is not counted twice),
        # one in userFills; the liquidated longs sold (order_side -1)
        lq = s.sql("SELECT symbol, order_side, mark_price, method FROM liquidations ORDER BY time")
        assert lq["symbol"].to_list() == ["BTC", "ETH"]
        assert lq["order_side"].to_list() == [-1, -1]
        assert lq["mark_price"].to_list() == [112488.0, 3701.2]
        eth = s.trades("hyperliquid", "ETH").filter(
            pl.col("source_file") != "node_trades_20251010_21"
        )
        assert eth["is_liquidation"].to_list() == [False, False, True]
        nt = s.sql(
            "SELECT * FROM trades WHERE source_file = 'node_trades_20251010_21' ORDER BY time"
        )
        assert nt["time"][0] == datetime(2025, 10, 10, 21, 15, 10, 401372, tzinfo=UTC)  # ns -> µs
        assert nt["side"].to_list() == [-1, 1] and nt["seller"][0].startswith("0x7c1a")
        ctx = s.asset_contexts("hyperliquid", "BTC")
        # 21:00 archive row, 21:20 API snapshot, 22:00 archive row
        assert [t.strftime("%H:%M") for t in ctx["time"]] == ["21:00", "21:20", "22:00"]
        assert ctx["impact_bid_price"].to_list() == [117031.0, 113190.0, 112260.0]
        assert ctx["open_interest_base"][2] == 28120.55102
        oi = s.open_interest("hyperliquid", "SOL")
        assert oi["open_interest_quote"][0] == pytest.approx(5120033.11 * 181.02)
        assert s.funding("hyperliquid", "BTC")["interval_hours"].unique().to_list() == [1.0]
        k = s.klines("hyperliquid", "BTC")
        assert k["close"].to_list() == [112771.0, 110020.0] and k["trade_count"][1] == 19873


def test_ccxt_structures(tmp_path: Path) -> None:
    db, res = _ingest(tmp_path, FIX / "ccxt", venue="bybit_linear")
    assert {r.format for r in res} == {
        "ccxt_ohlcv",
        "ccxt_funding",
        "ccxt_open_interest",
        "ccxt_leverage_tiers",
        "ccxt_positions",
    }
    with Store(db, read_only=True) as s:
        k = s.klines("bybit_linear", "BTCUSDT", interval="1m")
        assert k.height == 3 and k["low"][2] == 107000.0
        lb = s.leverage_brackets("bybit_linear", "BTCUSDT")
        # no `cum` from Bybit: built from the chain cum_k = cum_{k-1} + floor_k (mmr_k - mmr_{k-1})
        assert lb["cum_quote"].to_list() == pytest.approx([0.0, 1200.0, 2760.0])
        pos = s.positions("bybit_linear")
        assert pos["side"].to_list() == [1, -1] and pos["size_base"].to_list() == [1.5, 40.0]
        f = s.funding("bybit_linear", "BTCUSDT")
        assert f["funding_rate"].to_list() == [0.0000731, -0.0000212]


def test_bare_ccxt_needs_a_venue(tmp_path: Path) -> None:
    rep = ingest_paths([FIX / "ccxt/positions.json"], tmp_path / "v.duckdb")
    assert rep.failed and "--venue" in rep.failed[0].error


def test_query_ranges_and_time_parsing(tmp_path: Path) -> None:
    db, _ = _ingest(tmp_path, FIX / "hyperliquid/fundingHistory_BTC.json")
    with Store(db, read_only=True) as s:
        assert s.funding("hyperliquid", "BTC", start=1760130000000).height == 2  # epoch ms
        assert s.funding("hyperliquid", "BTC", end="2025-10-10T21:00:00Z").height == 1
        assert s.funding("hyperliquid", "BTC", "2025-10-10T21:00", "2025-10-10T22:00").height == 1
        assert s.funding("hyperliquid", "ETH").height == 0
    assert to_utc("2025-10-10") == datetime(2025, 10, 10, tzinfo=UTC)
    with pytest.raises(InputError, match="ISO-8601"):
        to_utc("yesterday")


def test_detect_skips_docs_and_rejects_unsupported(tmp_path: Path) -> None:
    assert detect(_w(tmp_path / "LICENSE", "MIT")) is None
    assert detect(_w(tmp_path / "SOURCES.md", "# x")) is None
    from liqcascade.errors import DataError

    with pytest.raises(DataError, match="decompress"):
        detect(_w(tmp_path / "20251010.lz4", "x"))
    with pytest.raises(InputError, match="unknown format"):
        detect(tmp_path / "LICENSE", format="nope")


def test_venue_symbol_mapping() -> None:
    assert venue_symbol("binance_usdm", "BTC/USDT:USDT") == "BTCUSDT"
    assert venue_symbol("hyperliquid", "BTC/USDC:USDC") == "BTC"
    assert venue_symbol("okx_swap", "BTC/USDT:USDT") == "BTC-USDT-SWAP"
    assert venue_symbol("binance_coinm", "BTC/USD:BTC") == "BTCUSD_PERP"


def test_store_open_errors(tmp_path: Path) -> None:
    import subprocess
    import sys

    from liqcascade.errors import DataError

    junk = tmp_path / "junk.duckdb"
    junk.write_text("not a database" * 100)
    with pytest.raises(DataError, match="junk.duckdb"):
        Store(junk)
    with pytest.raises(DataError, match="no market-data store"):
        Store(tmp_path / "missing.duckdb", read_only=True)
    db = tmp_path / "held.duckdb"
    Store(db).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb,sys,time; c=duckdb.connect(sys.argv[1]); "
            "print('ready', flush=True); time.sleep(60)",
            str(db),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        with pytest.raises(DataError, match="the store is busy: another process"):
            Store(db, lock_wait_s=0)
    finally:
        holder.kill()
        holder.wait()
    # in one process a writer and a reader share the file
    with Store(db) as w, Store(db, read_only=True) as r:
        assert w.summary().height == r.summary().height == 0


def test_overlapping_files_give_one_row_per_candle(tmp_path: Path) -> None:
    from importlib.resources import files as res_files

    day = (
        Path(str(res_files("liqcascade") / "sample_data"))
        / "binance/um/klines/SOLUSDT-1m-2025-10-10.csv"
    )
    lines = day.read_text().splitlines(keepends=True)
    # a later partial file of the same day (e.g. re-downloaded): first 10 candles, close changed
    part = [lines[0]]
    for ln in lines[1:11]:
        f = ln.split(",")
        f[4] = "999.0"
        part.append(",".join(f))
    later = _w(tmp_path / "again/um/klines/SOLUSDT-1m-2025-10-10.csv", "".join(part))
    db, _ = _ingest(tmp_path, day, later)
    with Store(db, read_only=True) as s:
        k = s.klines("binance_usdm", "SOLUSDT")
        assert k.height == 1440 and k["open_time"].is_unique().all()
        assert (k["close"].head(10) == 999.0).all() and (k["close"][10:] != 999.0).all()
        assert s.table_rows("klines") == 1450  # both files stored; the query picks the newest


def test_venue_override_applies_to_tardis_rows(tmp_path: Path) -> None:
    from importlib.resources import files as res_files

    gz = Path(str(res_files("liqcascade") / "sample_data")) / "gemini/trades"
    db, res = _ingest(tmp_path, gz, venue="gemini_spot")
    assert res[0].venue == "gemini_spot"
    with Store(db, read_only=True) as s:
        assert s.trades("gemini_spot", "BTCUSD").height == 24706
        assert s.trades("gemini", "BTCUSD").height == 0


def test_every_format_is_declared_once_by_its_source_module() -> None:
    """``FORMATS`` is merged from the source modules: each CSV layout and Python reader belongs
    to one listed format, and each format's rows go to a store table."""
    from liqcascade.data import analysis, binance, ccxt_io, hyperliquid, ingest, tardis
    from liqcascade.data.store import TABLES

    modules = (binance, tardis, hyperliquid, ccxt_io, analysis)
    names = [n for m in modules for n in m.FILE_FORMATS.formats]
    assert len(names) == len(set(names)) == len(ingest.FORMATS)
    assert list(ingest.FORMATS) == names
    for m in modules:
        for name, f in m.FILE_FORMATS.formats.items():
            assert name.startswith(m.FILE_FORMATS.prefix)
            assert (f.read is None) != (not f.specs), name  # CSV layouts or a reader, not both
            tables = {s.table for s in f.specs} | ({f.table} if f.read else set())
            assert tables and tables <= set(TABLES), name
            assert all(s.format == name for s in f.specs)
