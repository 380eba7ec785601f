"""Acceptance: every shipped data file ingests with its source row count; re-ingesting adds 0."""

from __future__ import annotations

import csv
import gzip
import io
import json
import zipfile
from importlib.resources import files
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from liqcascade.cli import app
from liqcascade.data import Store, default_db_path, ingest_paths
from liqcascade.data.ingest import expand_paths, is_skipped

SAMPLE = Path(str(files("liqcascade") / "sample_data"))


def _text(path: Path) -> str:
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as zf:
            return zf.read(zf.namelist()[0]).decode()
    if path.suffix == ".gz":
        return gzip.decompress(path.read_bytes()).decode()
    return path.read_text()


def source_rows(path: Path) -> int:
    """Rows of a source file counted independently of the ingestion code."""
    if path.suffix == ".json":
        data = json.loads(path.read_text())
        if "data" in data and isinstance(data["data"], list):  # leverage brackets
            return sum(len(d["brackets"]) for d in data["data"])
        return 1  # an analysis object
    rows = list(csv.reader(io.StringIO(_text(path))))
    rows = [r for r in rows if r]
    has_header = not rows[0][0].replace(".", "").isdigit()
    return len(rows) - (1 if has_header else 0)


@pytest.fixture(scope="module")
def sample_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    db = tmp_path_factory.mktemp("store") / "m.duckdb"
    report = ingest_paths([SAMPLE], db)
    return db, report


def test_every_sample_file_ingests_with_its_source_row_count(sample_store) -> None:
    db, report = sample_store
    data_files = [p for p in expand_paths([SAMPLE]) if not is_skipped(p)]
    assert len(data_files) >= 100
    by_path = {Path(f.path): f for f in report.files}
    assert report.ok, [f.error for f in report.failed]
    for p in data_files:
        res = by_path[p]
        assert res.status == "ingested", (p, res.error)
        assert res.rows == source_rows(p), p
    with Store(db, read_only=True) as s:
        reg = s.files()
        assert reg.height == len(data_files)
        # every table's row count is the sum of its files' source rows
        for table, grp in reg.group_by("table_name"):
            assert s.table_rows(table[0]) == grp["rows"].sum()


def test_second_ingest_adds_nothing(sample_store) -> None:
    db, _ = sample_store
    with Store(db, read_only=True) as s:
        before = s.summary()
    again = ingest_paths([SAMPLE], db)
    assert again.rows_added == 0
    assert {f.status for f in again.files} <= {"duplicate", "skipped"}
    with Store(db, read_only=True) as s:
        assert s.summary().equals(before)


def test_klines_round_trip_the_source_rows(sample_store) -> None:
    db, _ = sample_store
    src = pl.read_csv(SAMPLE / "binance/um/klines/BTCUSDT-1m-2025-10-10.csv")
    crash = src.filter(pl.col("low") == src["low"].min()).row(0, named=True)
    with Store(db, read_only=True) as s:
        k = s.klines("binance_usdm", "BTCUSDT", "2025-10-10T21:00", "2025-10-10T22:00")
    assert k.height == 60  # half-open range [21:00, 22:00)
    assert k["kind"].unique().to_list() == ["trade"] and k["interval"].unique().to_list() == ["1m"]
    row = k.filter(pl.col("low") == k["low"].min()).row(0, named=True)
    assert int(row["open_time"].timestamp() * 1000) == crash["open_time"]
    assert int(row["close_time"].timestamp() * 1000) == crash["close_time"]
    for a, b in [("open", "open"), ("high", "high"), ("close", "close"), ("volume", "volume")]:
        assert row[a] == crash[b]
    assert row["trade_count"] == crash["count"]
    assert row["source_file"] == "BTCUSDT-1m-2025-10-10.csv"


def test_microsecond_spot_file_and_price_only_kinds(sample_store) -> None:
    db, _ = sample_store
    with zipfile.ZipFile(SAMPLE / "binance/spot/aggTrades/BTCUSDC-aggTrades-2025-10-04.zip") as zf:
        first = zf.read(zf.namelist()[0]).decode().splitlines()[0].split(",")
    with Store(db, read_only=True) as s:
        agg = s.agg_trades("binance_spot", "BTCUSDC")
        t0 = agg["time"][0]
        assert round(t0.timestamp() * 1_000_000) == int(first[5])  # µs kept exactly
        assert agg["agg_trade_id"][0] == int(first[0])
        assert agg["is_best_match"].all()
        cm = s.klines("binance_coinm", "BTCUSD_PERP", kind="price")
        um = s.klines("binance_usdm", "BTCUSDT", kind="price", interval="5m")
        assert cm.height == 2 * 1440 and um.height == 90 * 288
        # price-only files: zero volumes, `count` = price samples (300 per 5-minute bar)
        assert (cm["volume"] == 0).all() and um["trade_count"].median() == 300
        assert s.klines("binance_usdm", "BTCUSDT", kind="mark").height == 0


def test_book_depth_funding_and_brackets(sample_store) -> None:
    db, _ = sample_store
    with Store(db, read_only=True) as s:
        bd = s.book_depth("binance_usdm", "BTCUSDT")
        assert bd.height == 28790
        assert set(bd["percentage"].unique().to_list()) == {-5, -4, -3, -2, -1, 1, 2, 3, 4, 5}
        f = s.funding("binance_usdm", "ETHUSDT", "2025-11-01", "2025-12-01")
        assert f.height == 90 and (f["interval_hours"] == 8).all()
        lb = s.leverage_brackets("binance_usdm", "BTCUSDT")
        assert lb["bracket"].to_list() == list(range(1, 13))
        # Binance's identity: cum_k = cum_{k-1} + floor_k * (mmr_k - mmr_{k-1})
        cum = lb["cum_quote"].to_list()
        mmr, floor = lb["mmr"].to_list(), lb["floor_quote"].to_list()
        for k in range(1, len(cum)):
            assert cum[k] == pytest.approx(cum[k - 1] + floor[k] * (mmr[k] - mmr[k - 1]))
        tr = s.trades("gemini", "BTCUSD")
        assert tr.height == 24706 and set(tr["side"].unique().to_list()) <= {-1, 1}


def test_adl_analysis_tables_round_trip(sample_store) -> None:
    db, _ = sample_store
    src = pl.read_csv(SAMPLE / "hyperliquid/adl-2025-10-10/bad_debt_loser_waves.csv")
    with Store(db, read_only=True) as s:
        got = s.analysis("bad_debt_loser_waves")
        raw = s.analysis()
    assert got.columns == src.columns
    assert got["deficit_usd"].to_list() == src["deficit_usd"].to_list()
    assert raw.filter(pl.col("dataset") == "bad_debt_loser_waves")["time"].null_count() == 0


def test_ls_json_lists_venue_symbol_kind_rows_first_last(sample_store) -> None:
    db, _ = sample_store
    out = CliRunner().invoke(app, ["data", "ls", "--json", "--db", str(db)])
    assert out.exit_code == 0, out.output
    recs = json.loads(out.stdout)
    for r in recs:
        assert {"venue", "symbol", "kind", "rows", "first", "last"} <= set(r)
    with Store(db, read_only=True) as s:
        total = sum(s.table_rows(t) for t in s.files()["table_name"].unique().to_list())
    assert sum(r["rows"] for r in recs) == total
    k = [r for r in recs if r["kind"] == "trade" and r["symbol"] == "SOLUSDT"][0]
    assert k["rows"] == 1440 and k["first"].startswith("2025-10-10T00:00:00")


def test_default_db_path_follows_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LIQCASCADE_DB", str(tmp_path / "x.duckdb"))
    assert default_db_path() == tmp_path / "x.duckdb"
    f = SAMPLE / "binance/um/fundingRate/SOLUSDT-fundingRate-2025-10.csv"
    out = CliRunner().invoke(app, ["data", "ingest", str(f)])
    assert out.exit_code == 0, out.output
    assert "93 rows added" in out.output and "1 ingested" in out.output
    again = CliRunner().invoke(app, ["data", "ingest", str(f)])
    assert again.exit_code == 0 and "0 rows added" in again.output and "1 duplicate" in again.output
    assert (tmp_path / "x.duckdb").exists()
    monkeypatch.delenv("LIQCASCADE_DB")
    assert default_db_path().name == "market.duckdb"


@pytest.mark.slow
def test_shared_data_ingests(shared_dir: Path, tmp_path: Path) -> None:
    data = shared_dir / "data"
    report = ingest_paths([data], tmp_path / "s.duckdb")
    assert report.ok, [f.error for f in report.failed]
    for f in report.files:
        if f.status == "ingested":
            assert f.rows == source_rows(Path(f.path)), f.path
    assert ingest_paths([data], tmp_path / "s.duckdb").rows_added == 0


def test_queries_return_the_registry_columns(tmp_path: Path) -> None:
    """Each query returns its table's columns in registry order (then ``source_file``), with the
    registry's types, plus the computed columns it documents."""
    from liqcascade.data.store import polars_schema

    with Store(tmp_path / "m.duckdb") as st:
        plain = {
            "klines": st.klines("v", "s", interval="1m"),
            "book_depth": st.book_depth("v", "s"),
            "funding": st.funding("v", "s"),
            "open_interest": st.open_interest("v", "s"),
            "liquidations": st.liquidations("v", "s"),
            "asset_ctx": st.asset_contexts("v", "s"),
            "leverage_brackets": st.leverage_brackets("v", "s"),
        }
        for table, df in plain.items():
            assert df.schema == {**polars_schema(table), "source_file": pl.String}, table
        agg = st.agg_trades("v", "s").columns
        trades = st.trades("v", "s").columns
    assert agg[agg.index("size_base") + 1] == "notional_quote"
    assert agg[agg.index("last_trade_id") + 1] == "side"
    assert "quote_qty" not in trades and "is_best_match" not in trades
    assert trades[trades.index("size_base") + 1] == "notional_quote"
