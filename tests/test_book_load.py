"""PositionBook: loaders (CSV, Parquet, polars, pandas, ccxt), venue-rule liquidation prices, validation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from liqcascade import margin
from liqcascade.book import PositionBook
from liqcascade.errors import InputError, RuleError
from liqcascade.venues import load_venue

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "positions_btc.csv"


def _frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "account_id": [1, 2, 3, 4],
            "venue": ["binance_usdm", "binance_usdm", "hyperliquid", "bybit"],
            "symbol": ["BTCUSDT", "BTCUSDT", "BTC", "BTCUSDT"],
            "side": ["long", "short", "long", "sell"],
            "size_base": [0.85, 2.0, 1.0, 0.5],
            "entry_price": [60_000.0, 120_000.0, 100_000.0, 110_000.0],
            "margin_quote": [2_550.0, None, 10_000.0, None],
            "leverage": [None, 10.0, None, 20.0],
        }
    )


def test_isolated_liquidation_prices_come_from_venue_rules():
    book = PositionBook.from_frame(_frame(), source="t")
    assert len(book) == 4
    assert book.margin_quote[1] == pytest.approx(2.0 * 120_000.0 / 10.0)
    assert book.leverage[0] == pytest.approx(0.85 * 60_000.0 / 2_550.0)
    for i in range(4):
        v = book.venues[book.venue_code[i]]
        s = book.symbols[book.symbol_code[i]]
        rules = load_venue(v, s)
        args = (rules, book.side[i], book.size_base[i], book.entry_price[i], book.margin_quote[i])
        assert book.liquidation_price[i] == float(margin.liquidation_price(*args))
        assert book.bankruptcy_price[i] == float(margin.bankruptcy_price(*args))
    # Binance FAQ example (venues.md §1.3 vector) and Hyperliquid's derived example
    assert book.liquidation_price[0] == pytest.approx(57_228.92, abs=0.005)
    assert book.liquidation_price[2] == pytest.approx(91_139.24, abs=0.005)
    assert book.venues == ("binance_usdm", "bybit_linear", "hyperliquid")


def test_cross_account_is_at_maintenance_at_its_liquidation_price():
    # one cross account: BTC long and ETH short; BTC's liquidation price holds ETH at its mark
    df = pl.DataFrame(
        {
            "account_id": [7, 7],
            "venue": ["binance_usdm"] * 2,
            "symbol": ["BTCUSDT", "ETHUSDT"],
            "side": ["long", "short"],
            "size_base": [3.0, 40.0],
            "entry_price": [110_000.0, 4_000.0],
            "mark_price": [112_000.0, 4_100.0],
            "margin_mode": ["cross", "cross"],
            "account_collateral_quote": [60_000.0, 60_000.0],
        }
    )
    book = PositionBook.from_frame(df, source="x")
    rb, re = load_venue("binance_usdm", "BTCUSDT"), load_venue("binance_usdm", "ETHUSDT")
    lp = book.liquidation_price[0]
    eth_upnl = -40.0 * (4_100.0 - 4_000.0)
    equity = 60_000.0 + 3.0 * (lp - 110_000.0) + eth_upnl
    mm = float(margin.maintenance_margin(rb, 3.0 * lp)) + float(
        margin.maintenance_margin(re, 40.0 * 4_100.0)
    )
    assert equity == pytest.approx(mm, rel=1e-9)
    assert book.account_collateral_quote == {7: 60_000.0}
    assert np.isnan(book.margin_quote).all()


def test_liquidation_price_column_is_used_as_given():
    df = _frame().with_columns(
        pl.Series("liquidation_price", [50_000.0, None, 95_000.0, 111_111.0])
    )
    book = PositionBook.from_frame(df)
    assert book.liquidation_price[0] == 50_000.0
    assert book.liquidation_price[2] == 95_000.0
    assert book.liquidation_price[3] == 111_111.0
    ref = PositionBook.from_frame(_frame())
    assert book.liquidation_price[1] == ref.liquidation_price[1]  # the empty cell is computed


def test_csv_parquet_pandas_polars_agree(tmp_path):
    df = _frame()
    csv, pq = tmp_path / "b.csv", tmp_path / "b.parquet"
    df.write_csv(csv)
    df.write_parquet(pq)
    books = [
        PositionBook.from_csv(csv),
        PositionBook.from_parquet(pq),
        PositionBook.from_file(pq),
        PositionBook.from_frame(df),
        PositionBook.from_frame(df.to_pandas()),
    ]
    for b in books[1:]:
        np.testing.assert_array_equal(b.liquidation_price, books[0].liquidation_price)
        np.testing.assert_array_equal(b.side, books[0].side)
    again = PositionBook.from_frame(books[0].to_polars())
    np.testing.assert_array_equal(again.liquidation_price, books[0].liquidation_price)


def test_example_book_loads_and_is_consistent_at_its_mark():
    book = PositionBook.from_csv(EXAMPLE)
    assert len(book) == 25_000
    assert book.venue_symbol_pairs() == [("binance_usdm", "BTCUSDT")]
    liq = book.liquidation_price
    longs, shorts = book.side == 1, book.side == -1
    assert not np.any(liq[longs] >= 120_000.0)
    assert not np.any(liq[shorts] <= 120_000.0)
    assert set(np.unique(book.segment).tolist()) == {0, 1, 2}
    assert (book.margin_mode == 1).any() and (book.margin_mode == 0).any()
    lev = book.leverage[~np.isnan(book.leverage)]
    assert np.percentile(lev, 99) > 4 * np.median(lev)  # heavy-tailed leverage


def test_select_filter_and_errors():
    book = PositionBook.from_frame(_frame())
    hl = book.filter(venue="hl")
    assert len(hl) == 1 and hl.side[0] == 1
    assert len(book.filter(symbol="BTC/USDT:USDT")) == 4  # BTCUSDT on two venues + BTC on HL
    assert len(book.filter(symbol="BTCUSDT")) == 3
    assert len(book.filter(venue="binance", symbol="BTCUSDT")) == 2
    with pytest.raises(InputError, match="no positions in symbol 'ETHUSDT'"):
        book.filter(symbol="ETHUSDT")
    assert len(book.select(book.side == -1)) == 2


def test_from_ccxt():
    positions = [
        {
            "symbol": "BTC/USDT:USDT",
            "side": "long",
            "contracts": 0.85,
            "contractSize": 1,
            "entryPrice": 60_000.0,
            "markPrice": 61_000.0,
            "collateral": 2_550.0,
            "initialMargin": 2_550.0,
            "leverage": 20,
            "marginMode": "isolated",
            "liquidationPrice": None,
        },
        {
            "symbol": "BTC/USDT:USDT",
            "side": "short",
            "contracts": 30,
            "contractSize": 0.01,
            "entryPrice": 100_000.0,
            "markPrice": 101_000.0,
            "collateral": 3_000.0,
            "leverage": 10,
            "marginMode": "isolated",
            "liquidationPrice": 109_000.5,
        },
        {"symbol": "BTC/USDT:USDT", "side": "long", "contracts": 0, "entryPrice": 1.0},
    ]
    book = PositionBook.from_ccxt(positions, venue="binanceusdm", account_id=42)
    assert len(book) == 2
    assert book.symbols == ("BTCUSDT",)
    assert book.size_base[1] == pytest.approx(0.3)
    assert book.liquidation_price[0] == pytest.approx(57_228.92, abs=0.005)
    assert book.liquidation_price[1] == 109_000.5
    assert (book.account_id == 42).all()
    with pytest.raises(InputError, match="ccxt position 1: field 'contracts'"):
        PositionBook.from_ccxt([{"symbol": "BTC/USDT:USDT", "contracts": "x"}], venue="binance")


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("size_base", -3.0, "positions.csv row 3: size_base must be > 0 and finite, got -3"),
        ("entry_price", 0.0, "positions.csv row 3: entry_price must be > 0"),
        ("side", "up", "positions.csv row 3: side must be long/short"),
        ("venue", "mtgox", "positions.csv row 3: venue: unknown venue 'mtgox'"),
        ("leverage", -2.0, "positions.csv row 3: leverage must be > 0"),
        ("entry_price", "abc", "positions.csv row 3: entry_price must be a number, got 'abc'"),
    ],
)
def test_validation_names_file_row_field(tmp_path, column, value, message):
    df = _frame().with_columns(pl.col(c).cast(pl.Utf8) for c in _frame().columns)
    vals = df[column].to_list()
    vals[2] = str(value)
    df = df.with_columns(pl.Series(column, vals))
    path = tmp_path / "positions.csv"
    df.write_csv(path)
    with pytest.raises(InputError) as err:
        PositionBook.from_csv(path)
    assert message in str(err.value)


def test_validation_rules_and_structure(tmp_path):
    df = _frame()
    with pytest.raises(
        RuleError, match=r"row 2: leverage 200 exceeds binance_usdm BTCUSDT's cap of 100x"
    ):
        PositionBook.from_frame(
            df.with_columns(pl.Series("leverage", [None, 200.0, None, 20.0])), source="b"
        )
    with pytest.raises(InputError, match="missing column 'entry_price'"):
        PositionBook.from_frame(df.drop("entry_price"))
    with pytest.raises(InputError, match="row 1: isolated position needs margin_quote or leverage"):
        PositionBook.from_frame(
            df.with_columns(pl.lit(None, dtype=pl.Float64).alias("margin_quote"))
        )
    cross = df.with_columns(pl.lit("cross").alias("margin_mode"))
    with pytest.raises(InputError, match="row 1: cross position needs account_collateral_quote"):
        PositionBook.from_frame(cross)
    two = cross.with_columns(
        pl.Series("account_id", [1, 1, 2, 3]),
        pl.Series("account_collateral_quote", [5e3, 6e3, 1e3, 1e3]),
    )
    with pytest.raises(
        InputError,
        match="row 2: account_collateral_quote 6000 differs from 5000 on another row of account 1",
    ):
        PositionBook.from_frame(two)
    with pytest.raises(InputError, match="not found"):
        PositionBook.from_csv(tmp_path / "none.csv")


def test_rules_override_for_unshipped_symbols():
    df = pl.DataFrame(
        {
            "venue": ["binance_usdm", "binance_usdm"],
            "symbol": ["DOGEUSDT", "BTCUSDT"],
            "side": ["long", "long"],
            "size_base": [10_000.0, 1.0],
            "entry_price": [0.25, 100_000.0],
            "leverage": [10.0, 10.0],
        }
    )
    with pytest.raises(RuleError, match="row 1: venue/symbol binance_usdm/DOGEUSDT"):
        PositionBook.from_frame(df)
    custom = load_venue("generic", "DOGEUSDT")
    book = PositionBook.from_frame(df, rules={("binance_usdm", "DOGEUSDT"): custom})
    i = book.symbols.index("DOGEUSDT")
    row = int(np.flatnonzero(book.symbol_code == i)[0])
    assert book.liquidation_price[row] == float(
        margin.liquidation_price(custom, 1, 10_000.0, 0.25, 250.0)
    )
    j = int(np.flatnonzero(book.symbol_code == book.symbols.index("BTCUSDT"))[0])
    ref = float(
        margin.liquidation_price(load_venue("binance_usdm", "BTCUSDT"), 1, 1.0, 100_000.0, 10_000.0)
    )
    assert book.liquidation_price[j] == ref
