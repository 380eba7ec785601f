"""Account ids as the user gives them: text (alice, 0xabc123), integers, or both, through every
loader and the results that show accounts."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from liqcascade.book import PositionBook, account_labels
from liqcascade.errors import InputError

IDS = ["alice", "0xabc123", "17", "alice", "0xabc123", "bob"]


def _csv_text(ids: list[str]) -> str:
    rows = [
        "account_id,venue,symbol,side,size_base,entry_price,margin_mode,leverage,account_collateral_quote"
    ]
    for k, a in enumerate(ids):
        side = "long" if k % 2 == 0 else "short"
        cross = a in ("alice", "0xabc123")
        mode, lev, coll = ("cross", "", "50000") if cross else ("isolated", "10", "")
        rows.append(
            f"{a},binance_usdm,BTCUSDT,{side},{0.5 + k / 10},{100_000 + 1_000 * k},{mode},{lev},{coll}"
        )
    return "\n".join(rows) + "\n"


@pytest.fixture
def mixed_csv(tmp_path):
    p = tmp_path / "mixed.csv"
    p.write_text(_csv_text(IDS))
    return p


def test_text_ids_are_kept_and_sorted(mixed_csv):
    book = PositionBook.from_csv(mixed_csv)
    assert book.account_names == ("0xabc123", "17", "alice", "bob")
    assert book.account_ids().to_list() == IDS
    assert book.to_polars()["account_id"].to_list() == IDS
    assert book.account_id.dtype == np.int64
    # codes follow the sorted ids, so sorting by code sorts by the user's id
    order = np.argsort(book.account_id, kind="stable")
    assert book.account_ids()[order].to_list() == sorted(IDS)
    # cross collateral is keyed per account, named back by the user's id
    coll = {book.account_label(k): v for k, v in book.account_collateral_quote.items()}
    assert coll == {"alice": 50_000.0, "0xabc123": 50_000.0}


def test_row_order_does_not_change_an_accounts_code(tmp_path, mixed_csv):
    rev = tmp_path / "rev.csv"
    rev.write_text(_csv_text(IDS[::-1]))
    a, b = PositionBook.from_csv(mixed_csv), PositionBook.from_csv(rev)
    assert a.account_names == b.account_names
    code_a = dict(zip(a.account_ids().to_list(), a.account_id.tolist(), strict=True))
    code_b = dict(zip(b.account_ids().to_list(), b.account_id.tolist(), strict=True))
    assert code_a == code_b


def test_integer_ids_stay_integers(tmp_path):
    p = tmp_path / "ints.csv"
    p.write_text(_csv_text(["17", "3", "17.0", "42"]).replace("alice", "x"))
    book = PositionBook.from_csv(p)
    assert book.account_names == ()
    assert book.account_id.tolist() == [17, 3, 17, 42]
    assert book.to_polars()["account_id"].dtype == pl.Int64


def test_parquet_arrow_and_categorical_give_the_same_book(tmp_path, mixed_csv):
    ref = PositionBook.from_csv(mixed_csv)
    df = pl.read_csv(mixed_csv, schema_overrides={"account_id": pl.Utf8})
    pq, ipc, feather = tmp_path / "b.parquet", tmp_path / "b.arrow", tmp_path / "b.feather"
    df.write_parquet(pq)
    df.with_columns(pl.col("account_id").cast(pl.Categorical)).write_ipc(ipc)
    df.write_ipc(feather)
    books = [
        PositionBook.from_file(pq),
        PositionBook.from_file(ipc),
        PositionBook.from_ipc(feather),
        PositionBook.from_frame(df.to_arrow()),
        PositionBook.from_frame(df.to_pandas()),
    ]
    for b in books:
        assert b.account_ids().to_list() == IDS
        np.testing.assert_array_equal(b.account_id, ref.account_id)
        np.testing.assert_array_equal(b.liquidation_price, ref.liquidation_price)


def test_select_concat_and_round_trip_keep_ids(mixed_csv):
    book = PositionBook.from_csv(mixed_csv)
    sub = book.select(book.side == -1)
    assert sub.account_ids().to_list() == IDS[1::2]
    again = PositionBook.from_frame(book.to_polars())
    assert again.account_ids().to_list() == IDS
    np.testing.assert_array_equal(again.liquidation_price, book.liquidation_price)
    ints = PositionBook.from_frame(
        pl.DataFrame(
            {"account_id": [5], "venue": ["binance_usdm"], "symbol": ["BTCUSDT"], "side": ["long"]}
            | {"size_base": [1.0], "entry_price": [100_000.0], "leverage": [5.0]}
        )
    )
    both = PositionBook.concat([book, ints])
    assert both.account_ids().to_list() == [*IDS, "5"]


def test_ccxt_string_account():
    pos = {
        "symbol": "BTC/USDT:USDT",
        "side": "long",
        "contracts": 1.0,
        "entryPrice": 100_000.0,
        "marginMode": "isolated",
        "collateral": 10_000.0,
    }
    book = PositionBook.from_ccxt([pos, pos], venue="binanceusdm", account_id="0xabc123")
    assert book.account_names == ("0xabc123",)
    assert book.account_ids().to_list() == ["0xabc123", "0xabc123"]


def test_account_errors_name_row_and_field(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text(_csv_text(["alice", "", "bob"]))
    with pytest.raises(InputError, match=r"bad.csv row 2: account_id is empty"):
        PositionBook.from_csv(p)
    df = pl.read_csv(tmp_path / "bad.csv").with_columns(
        account_id=pl.Series([1.0, 2.5, 3.0]), margin_mode=pl.lit("isolated"), leverage=pl.lit(5.0)
    )
    with pytest.raises(
        InputError, match=r"f row 2: account_id must be an integer or text, got the number 2.5"
    ):
        PositionBook.from_frame(df, source="f")
    lines = _csv_text(["alice", "alice"]).splitlines()
    lines[2] = lines[2].rsplit(",", 1)[0] + ",70000"  # the second row gives another wallet
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(
        InputError,
        match="row 2: account_collateral_quote 70000 differs from 50000 on another row of account alice",
    ):
        PositionBook.from_csv(p)


def test_columnar_errors_name_row_and_field(tmp_path):
    df = pl.DataFrame(
        {
            "account_id": ["a", "b", "c"],
            "venue": ["binance_usdm"] * 3,
            "symbol": ["BTCUSDT"] * 3,
            "side": ["long", "short", "flat"],
            "size_base": [1.0, 2.0, 3.0],
            "entry_price": [100_000.0, 100_000.0, 100_000.0],
            "leverage": [5.0, 5.0, 5.0],
        }
    )
    p = tmp_path / "b.parquet"
    df.write_parquet(p)
    with pytest.raises(InputError, match=r"b.parquet row 3: side must be long/short .*got 'flat'"):
        PositionBook.from_parquet(p)
    df.with_columns(side=pl.lit("long"), size_base=pl.Series([1.0, -2.0, 3.0])).write_ipc(
        tmp_path / "b.arrow"
    )
    with pytest.raises(InputError, match=r"b.arrow row 2: size_base must be > 0"):
        PositionBook.from_file(tmp_path / "b.arrow")
    (tmp_path / "junk.arrow").write_bytes(b"not arrow")
    with pytest.raises(Exception, match="junk.arrow: cannot read as Arrow IPC"):
        PositionBook.from_file(tmp_path / "junk.arrow")


def test_account_labels():
    assert account_labels(np.array([2, 0]), ("a", "b", "c")).to_list() == ["c", "a"]
    assert account_labels(np.zeros(0, np.int64), ("a",)).dtype == pl.Utf8
    assert account_labels(np.array([9])).dtype == pl.Int64


# ------------------------------------------------------------------ results that show accounts
def test_account_risk_shows_text_ids(mixed_csv):
    from liqcascade.risk import account_risk

    book = PositionBook.from_csv(mixed_csv)
    res = account_risk(book, marks=101_000.0)
    assert res.positions["account_id"].to_list() == IDS
    cross = res.accounts.filter(pl.col("margin_mode") == "cross")
    assert sorted(cross["account_id"].to_list()) == ["0xabc123", "alice"]


def test_dynamic_accounts_and_ledger_show_text_ids(mixed_csv):
    from liqcascade.engine.dynamic import simulate_shock
    from liqcascade.impact import LinearImpact

    book = PositionBook.from_csv(mixed_csv)
    res = simulate_shock(book, 103_000.0, -0.2, LinearImpact(depth_1pct_base=0.5), seed=1)
    acc = res.accounts
    assert acc["account_id"].dtype == pl.Utf8
    assert set(acc["account_id"].to_list()) <= set(IDS)
    assert acc["account_id"].to_list() == sorted(acc["account_id"].to_list())
    assert res.ledger.height > 0
    assert set(res.ledger["account_id"].to_list()) <= set(IDS)


def test_cli_cascade_on_text_ids(mixed_csv):
    from typer.testing import CliRunner

    from liqcascade.cli import app

    out = CliRunner().invoke(
        app,
        [
            "cascade",
            "--positions",
            str(mixed_csv),
            "--price",
            "103000",
            "--shock",
            "-0.05,-0.2",
            "--impact",
            "linear:5",
            "--json",
        ],
    )
    assert out.exit_code == 0, out.output
    rows = json.loads(out.output)
    assert [r["shock"] for r in rows] == [-0.05, -0.2]
    assert rows[1]["liquidated_count"] >= rows[0]["liquidated_count"]


# ------------------------------------------------------------------ ADL ties
def test_adl_queue_ties_break_by_position_order():
    from liqcascade.adl import _top_until

    rng = np.random.default_rng(np.random.SeedSequence(14).spawn(1)[0])
    for _ in range(50):
        score = rng.integers(0, 4, 3_000).astype(np.float64)  # many equal scores
        size = rng.random(3_000) + 0.1
        want = float(rng.random() * size.sum() / 3)
        head = _top_until(score, size, want)
        full = np.argsort(-score, kind="stable")
        np.testing.assert_array_equal(head, full[: len(head)])
        assert size[head].sum() >= want


def test_web_upload_takes_text_ids_and_arrow(tmp_path, mixed_csv):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from liqcascade.web import create_app

    data = tmp_path / "data"
    data.mkdir()
    client = TestClient(create_app(data_dir=data, db_path=data / "missing.duckdb"))
    resp = client.post(
        "/api/books/upload", files={"file": ("mine.csv", mixed_csv.read_bytes(), "text/csv")}
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["positions"] == len(IDS)
    arrow = tmp_path / "mine.arrow"
    pl.read_csv(mixed_csv, schema_overrides={"account_id": pl.Utf8}).write_ipc(arrow)
    resp = client.post("/api/books/upload", files={"file": ("mine.arrow", arrow.read_bytes())})
    assert resp.status_code == 200, resp.text
    ref = resp.json()["book"]
    assert ref["name"].endswith(".arrow")
    info = client.get("/api/books/info", params={"source": "data", "name": ref["name"]}).json()
    assert info["positions"] == len(IDS)


def test_ccxt_positions_through_the_store_keep_text_accounts(tmp_path):
    from pathlib import Path

    from liqcascade.data import Store, ingest_paths

    fixture = Path(__file__).parent / "data" / "ccxt" / "positions.json"
    positions = json.loads(fixture.read_text())
    env = {"liqcascade": "ccxt", "exchange": "hyperliquid", "venue": "binance_usdm"}
    wrapped = tmp_path / "mine.json"
    wrapped.write_text(
        json.dumps({**env, "kind": "positions", "account": "0xabc123"} | {"data": positions})
    )
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps(positions))
    db = tmp_path / "s.duckdb"
    rep = ingest_paths([wrapped], db)
    assert rep.ok, [f.error for f in rep.failed]
    rep = ingest_paths([bare], db, venue="binance_usdm")
    assert rep.ok, [f.error for f in rep.failed]
    with Store(db, read_only=True) as s:
        df = s.positions("binance_usdm")
    assert sorted(df["account"].to_list()) == ["0xabc123", "0xabc123", "bare.json", "bare.json"]
    book = PositionBook.from_frame(df, source="store.positions")
    assert book.account_names == ("0xabc123", "bare.json")
    assert sorted(book.account_ids().to_list()) == sorted(df["account"].to_list())


def test_many_distinct_text_values_and_empty_cells():
    n = 60
    symbols = [f"SYM{k % 40}USDT" for k in range(n)]
    df = pl.DataFrame(
        {
            "account_id": [f"acct{k % 7}" for k in range(n)],
            "venue": ["binance_usdm"] * n,
            "symbol": symbols,
            "side": ["long", " short "] * (n // 2),
            "size_base": [1.0] * n,
            "entry_price": [100.0] * n,
            "leverage": [5.0] * n,
            "liquidation_price": [81.0] * n,
            "bankruptcy_price": [80.0] * n,
        }
    )
    book = PositionBook.from_frame(df)
    assert book.symbols == tuple(sorted(set(symbols)))
    assert [book.symbols[c] for c in book.symbol_code] == symbols
    assert book.side.tolist() == [1, -1] * (n // 2)
    holed = df.with_columns(pl.Series("symbol", [*symbols[:36], None, *symbols[37:]]))
    with pytest.raises(InputError, match="<frame> row 37: symbol is empty"):
        PositionBook.from_frame(holed)


def test_isolated_text_ids_read_the_same_before_and_after_encoding(tmp_path):
    import dataclasses
    import pickle

    ids = ["0xbeef", "alice", "0xabc123", "alice", "carol"]
    df = pl.DataFrame(
        {
            "account_id": ids,
            "venue": ["binance_usdm"] * 5,
            "symbol": ["BTCUSDT"] * 5,
            "side": ["long", "short", "long", "short", "long"],
            "size_base": [1.0, 2.0, 3.0, 4.0, 5.0],
            "entry_price": [100_000.0] * 5,
            "leverage": [10.0] * 5,
        }
    )
    first = PositionBook.from_frame(df)
    assert first.to_polars()["account_id"].to_list() == ids  # before any code is needed
    again = pickle.loads(pickle.dumps(PositionBook.from_frame(df)))
    assert again.account_ids().to_list() == ids
    assert first.account_names == ("0xabc123", "0xbeef", "alice", "carol")
    assert first.account_id.tolist() == [1, 2, 0, 2, 3]
    assert first.account_ids().to_list() == ids
    assert again.account_id.tolist() == first.account_id.tolist()
    sub = PositionBook.from_frame(df).select(np.array([4, 1]))
    assert sub.account_ids().to_list() == ["carol", "alice"]
    copy = dataclasses.replace(PositionBook.from_frame(df), source="copy")
    assert copy.account_ids().to_list() == ids and copy.source == "copy"
