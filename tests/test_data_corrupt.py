"""Corrupt, truncated and wrong-format files are refused with file/line/field; nothing of them
is stored; the good files of the same run still go in; the CLI exit code says so."""

from __future__ import annotations

import gzip
import json
import zipfile
from importlib.resources import files
from pathlib import Path

import pytest
from typer.testing import CliRunner

from liqcascade.cli import app
from liqcascade.data import Store, ingest_paths

SAMPLE = Path(str(files("liqcascade") / "sample_data"))
KLINES = SAMPLE / "binance/um/klines/SOLUSDT-1m-2025-10-10.csv"
FUNDING = SAMPLE / "binance/um/fundingRate/BTCUSDT-fundingRate-2025-10.csv"


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines(keepends=True)


def _write(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(lines))
    return path


def _assert_refused(db: Path, bad: Path, *needles: str) -> str:
    good = FUNDING
    report = ingest_paths([bad, good], db)
    res = {Path(f.path).name: f for f in report.files}
    assert res[good.name].status == "ingested"
    r = res[bad.name]
    assert r.status == "failed", r
    assert bad.name in r.error
    for n in needles:
        assert n in r.error, (n, r.error)
    with Store(db, read_only=True) as s:
        reg = s.files()
        assert reg["name"].to_list() == [good.name]  # nothing recorded for the bad file
        for table in ("klines", "agg_trades", "trades", "book_depth", "funding", "liquidations"):
            n = s.sql(f"SELECT count(*) AS n FROM {table} WHERE source_file = ?", [bad.name])
            assert n["n"][0] == 0, table
    return r.error


def test_non_numeric_field_names_line_and_column(tmp_path: Path) -> None:
    lines = _lines(KLINES)
    f = lines[5].split(",")
    f[2] = "12x.5"  # high
    lines[5] = ",".join(f)
    bad = _write(tmp_path / "um/klines/SOLUSDT-1m-2025-10-10.csv", lines)
    msg = _assert_refused(tmp_path / "db.duckdb", bad, "line 6", "data row 5", "'high'", "12x.5")
    assert "expected a number" in msg


def test_wrong_column_count(tmp_path: Path) -> None:
    lines = _lines(KLINES)
    lines[100] = lines[100].rstrip("\n") + ",9\n"
    bad = _write(tmp_path / "um/klines/SOLUSDT-1m-2025-10-10.csv", lines)
    _assert_refused(tmp_path / "db.duckdb", bad, "line 101", "expected 12 columns", "found 13")


def test_truncated_csv(tmp_path: Path) -> None:
    text = KLINES.read_text()
    cut = text[: len(text) // 2]  # ends in the middle of a line
    bad = tmp_path / "um/klines/SOLUSDT-1m-2025-10-10.csv"
    bad.parent.mkdir(parents=True)
    bad.write_text(cut)
    nlines = cut.count("\n") + 1
    _assert_refused(tmp_path / "db.duckdb", bad, f"line {nlines}", "truncated")


def test_truncated_zip(tmp_path: Path) -> None:
    src = SAMPLE / "binance/cm/priceKlines/BTCUSD_PERP-1m-2025-10-09.zip"
    raw = src.read_bytes()
    bad = tmp_path / "cm/priceKlines" / src.name
    bad.parent.mkdir(parents=True)
    bad.write_bytes(raw[: len(raw) * 2 // 3])
    _assert_refused(tmp_path / "db.duckdb", bad, "zip")


def test_corrupt_zip_member_crc(tmp_path: Path) -> None:
    # same length, one byte of the compressed stream flipped -> CRC or inflate error
    src = SAMPLE / "binance/cm/priceKlines/BTCUSD_PERP-1m-2025-10-10.zip"
    raw = bytearray(src.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    bad = tmp_path / "cm/priceKlines" / src.name
    bad.parent.mkdir(parents=True)
    bad.write_bytes(bytes(raw))
    _assert_refused(tmp_path / "db.duckdb", bad)


def test_truncated_gzip_tardis(tmp_path: Path) -> None:
    src = SAMPLE / "gemini/trades/gemini_trades_2025-10-10_BTCUSD.csv.gz"
    raw = src.read_bytes()
    bad = tmp_path / src.name
    bad.write_bytes(raw[: len(raw) // 2])
    _assert_refused(tmp_path / "db.duckdb", bad, "truncated")


def test_mixed_ms_and_us_timestamps(tmp_path: Path) -> None:
    rows = [
        "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker\n"
    ]
    for i in range(50):
        t = 1760131200000 + i * 10
        if i == 30:
            t *= 1000  # a microsecond timestamp in a millisecond file
        rows.append(f"{100 + i},113000.{i % 10},0.010,{500 + i},{500 + i},{t},true\n")
    bad = _write(tmp_path / "um/aggTrades/BTCUSDT-aggTrades-2025-10-10.csv", rows)
    _assert_refused(tmp_path / "db.duckdb", bad, "line 32", "'transact_time'", "ms epoch")


def test_bad_boolean_and_empty_required_field(tmp_path: Path) -> None:
    rows = [
        "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker\n"
    ]
    rows += [f"{i},113000.5,0.01,{i},{i},{1760131200000 + i},false\n" for i in range(10)]
    rows[4] = "3,113000.5,,3,3,1760131200003,false\n"
    bad = _write(tmp_path / "um/aggTrades/BTCUSDT-aggTrades-2025-10-10.csv", rows)
    _assert_refused(tmp_path / "db.duckdb", bad, "line 5", "'quantity'", "empty")
    rows[4] = "3,113000.5,0.01,3,3,1760131200003,maybe\n"
    bad2 = _write(tmp_path / "b/um/aggTrades/BTCUSDT-aggTrades-2025-10-11.csv", rows)
    _assert_refused(tmp_path / "db2.duckdb", bad2, "line 5", "'is_buyer_maker'", "true/false")


def test_wrong_format_name_vs_header(tmp_path: Path) -> None:
    bad = _write(tmp_path / "um/aggTrades/SOLUSDT-aggTrades-2025-10-10.csv", _lines(KLINES))
    _assert_refused(tmp_path / "db.duckdb", bad, "aggTrades", "binance_klines", "wrong file")


def test_unknown_csv_and_json(tmp_path: Path) -> None:
    csv_bad = _write(tmp_path / "prices.csv", ["date,btc,eth\n", "2025-10-10,113000,3800\n"])
    _assert_refused(tmp_path / "db.duckdb", csv_bad, "unknown CSV header")
    js = tmp_path / "thing.json"
    js.write_text(json.dumps({"hello": [1, 2, 3]}))
    _assert_refused(tmp_path / "db2.duckdb", js, "unknown JSON payload")
    empty = tmp_path / "BTCUSDT-trades-2025-10-10.csv"
    empty.write_text("")
    _assert_refused(tmp_path / "db3.duckdb", empty, "empty file")


def test_truncated_and_invalid_hyperliquid_json(tmp_path: Path) -> None:
    src = Path(__file__).parent / "data/hyperliquid/trades_BTC.json"
    text = src.read_text()
    cut = tmp_path / "trades_BTC.json"
    cut.write_text(text[: len(text) - 40])
    _assert_refused(tmp_path / "db.duckdb", cut, "invalid JSON")
    data = json.loads(text)
    data[1]["px"] = "abc"
    bad = tmp_path / "trades_BTC_2.json"
    bad.write_text(json.dumps(data))
    _assert_refused(tmp_path / "db2.duckdb", bad, "record 2", "'px'", "expected a number")


def test_cli_exit_code_and_messages(tmp_path: Path) -> None:
    lines = _lines(KLINES)
    lines[10] = lines[10].replace(",", ";", 1)
    _write(tmp_path / "in/um/klines/SOLUSDT-1m-2025-10-10.csv", lines)
    good = tmp_path / "in/um/fundingRate" / FUNDING.name
    good.parent.mkdir(parents=True)
    good.write_bytes(FUNDING.read_bytes())
    db = tmp_path / "cli.duckdb"
    out = CliRunner().invoke(app, ["data", "ingest", str(tmp_path / "in"), "--db", str(db)])
    assert out.exit_code == 1
    assert "SOLUSDT-1m-2025-10-10.csv" in out.output and "line 11" in out.output
    with Store(db, read_only=True) as s:
        assert s.table_rows("funding") == 93 and s.table_rows("klines") == 0
    js = CliRunner().invoke(
        app, ["data", "ingest", str(tmp_path / "in"), "--db", str(db), "--json"]
    )
    rep = json.loads(js.stdout)
    assert js.exit_code == 1 and rep["failed"] == 1 and rep["rows_added"] == 0


@pytest.mark.parametrize("n_bad", [1, 3])
def test_good_files_in_a_folder_still_go_in(tmp_path: Path, n_bad: int) -> None:
    folder = tmp_path / "um/fundingRate"
    folder.mkdir(parents=True)
    for f in (SAMPLE / "binance/um/fundingRate").iterdir():
        (folder / f.name).write_bytes(f.read_bytes())
    victims = sorted(folder.iterdir())[:n_bad]
    for v in victims:
        lines = _lines(v)
        lines[3] = "1759363200000,8,zero\n"
        v.write_text("".join(lines))
    report = ingest_paths([tmp_path], tmp_path / "db.duckdb")
    assert len(report.failed) == n_bad
    assert all("line 4" in f.error and "last_funding_rate" in f.error for f in report.failed)
    with Store(tmp_path / "db.duckdb", read_only=True) as s:
        assert s.files().height == 6 - n_bad


def test_gzip_corruption_detected_by_diagnosis(tmp_path: Path) -> None:
    # valid gzip of a Tardis file with a broken row in the middle
    src = SAMPLE / "gemini/trades/gemini_trades_2025-10-10_BTCUSD.csv.gz"
    lines = gzip.decompress(src.read_bytes()).decode().splitlines(keepends=True)
    lines[1000] = lines[1000].replace("buy", "bought").replace("sell", "sold")
    bad = tmp_path / "gemini_trades_broken.csv.gz"
    bad.write_bytes(gzip.compress("".join(lines).encode()))
    _assert_refused(tmp_path / "db.duckdb", bad, "line 1001", "'side'", "buy/sell/unknown")


def test_zip_with_two_members_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "BTCUSDT-1m-2025-10-10.zip"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("a.csv", KLINES.read_text())
        zf.writestr("b.csv", KLINES.read_text())
    _assert_refused(tmp_path / "db.duckdb", bad, "exactly one .csv")
