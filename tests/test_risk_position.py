"""Position and account risk, what-if moves, stops and hedges, cluster warning, kline fit."""

from __future__ import annotations

import json
import math
from importlib.resources import files

import numpy as np
import polars as pl
import pytest

from liqcascade import risk
from liqcascade.errors import DataError, InputError
from liqcascade.venues import load_venue

SAMPLE = files("liqcascade") / "sample_data"


@pytest.fixture(scope="module")
def binance():
    return load_venue("binance_usdm", "BTCUSDT")


def test_position_risk_matches_binance_faq_and_is_consistent(binance):
    r = risk.position_risk(
        binance,
        "long",
        0.85,
        60_000.0,
        2_550.0,
        mark_price=59_000.0,
        vol_annual=0.5,
        horizon_days=2,
    )
    assert r.liquidation_price == pytest.approx(57_228.92, abs=0.01)  # Binance's FAQ example
    # at the liquidation price equity equals maintenance margin (definition)
    eq = 2_550.0 + 0.85 * (r.liquidation_price - 60_000.0)
    mm = float(binance.tiers.maintenance_margin(0.85 * r.liquidation_price))
    assert eq == pytest.approx(mm, rel=1e-9)
    assert r.equity_quote == pytest.approx(2_550.0 - 850.0)
    assert r.margin_ratio == pytest.approx(r.maintenance_margin_quote / r.equity_quote)
    assert r.distance_frac == pytest.approx((59_000.0 - r.liquidation_price) / 59_000.0)
    assert r.distance_sigma == pytest.approx(
        -math.log(r.liquidation_price / 59_000.0) / (0.5 * math.sqrt(2 / 365))
    )
    p = risk.prob_liquidation(59_000.0, r.liquidation_price, 1, 0.5, 2).probability
    assert r.liquidation_probability_gbm == pytest.approx(p)
    assert not r.liquidatable_now


def test_move_what_if_liquidates_exactly_past_the_liquidation_price(binance):
    r = risk.position_risk(binance, "short", 2.0, 100_000.0, 10_000.0)
    up = (r.liquidation_price / 100_000.0) - 1.0
    before = risk.move_what_if(binance, "short", 2.0, 100_000.0, 10_000.0, up - 1e-4)
    after = risk.move_what_if(binance, "short", 2.0, 100_000.0, 10_000.0, up + 1e-4)
    assert not before.liquidated and after.liquidated
    assert before.margin_ratio < 1.0
    assert before.pnl_change_quote == pytest.approx(-2.0 * 100_000.0 * (up - 1e-4))
    assert after.realised_loss_if_liquidated_quote == pytest.approx(r.loss_at_liquidation_quote)
    assert 0 < r.loss_at_liquidation_quote <= 10_000.0


def test_account_cross_pool_and_common_move(tmp_path):
    p = tmp_path / "pos.csv"
    p.write_text(
        "account_id,venue,symbol,side,size_base,entry_price,margin_mode,margin_quote,"
        "account_collateral_quote,mark_price\n"
        "1,binance_usdm,BTCUSDT,long,0.85,60000,isolated,2550,,98000\n"
        "2,binance_usdm,BTCUSDT,long,1.0,100000,cross,,20000,98000\n"
        "2,binance_usdm,ETHUSDT,short,10,4000,cross,,20000,4100\n"
    )
    book, marks = risk.load_positions(p)
    assert marks == {"BTCUSDT": 98_000.0, "ETHUSDT": 4_100.0}
    res = risk.account_risk(book, marks=marks, move_frac=-0.3, vol_annual=0.6)
    acc = {r["pool"]: r for r in res.accounts.to_dicts()}
    cross = acc["2"]
    upnl = (98_000 - 100_000) * 1.0 - 10 * (4_100 - 4_000)
    assert cross["equity_quote"] == pytest.approx(20_000 + upnl)
    assert cross["margin_ratio"] == pytest.approx(
        cross["maintenance_margin_quote"] / cross["equity_quote"]
    )
    new_upnl = (98_000 * 0.7 - 100_000) - 10 * (4_100 * 0.7 - 4_000)
    assert cross["new_equity_quote"] == pytest.approx(20_000 + new_upnl)
    # the isolated long (liq 57.2k) survives a fall to 68.6k; a fall to 53.9k liquidates it
    iso = acc["iso-0"]
    assert not iso["liquidated"]
    deeper = risk.account_risk(book, marks=marks, move_frac=-0.45)
    assert {r["pool"]: r for r in deeper.accounts.to_dicts()}["iso-0"]["liquidated"]
    pos = res.positions
    assert set(pos["liquidated"].to_list()) <= {True, False}
    assert (pos["liquidation_probability_gbm"] >= 0).all()


def test_account_from_ccxt_json(tmp_path):
    payload = [
        {
            "symbol": "BTC/USDT:USDT",
            "side": "long",
            "contracts": 0.5,
            "contractSize": 1,
            "entryPrice": 100_000.0,
            "markPrice": 99_000.0,
            "marginMode": "isolated",
            "collateral": 2_500.0,
            "leverage": 20,
        },
        {"symbol": "ETH/USDT:USDT", "side": "short", "contracts": 0, "entryPrice": 4_000.0},
    ]
    p = tmp_path / "positions.json"
    p.write_text(json.dumps(payload))
    with pytest.raises(InputError, match="venue"):
        risk.load_positions(p)
    book, marks = risk.load_positions(p, venue="binance_usdm")
    assert len(book) == 1 and marks == {"BTCUSDT": 99_000.0}
    res = risk.account_risk(book, marks=marks)
    row = res.positions.row(0, named=True)
    single = risk.position_risk(
        load_venue("binance_usdm", "BTCUSDT"), 1, 0.5, 100_000.0, 2_500.0, mark_price=99_000.0
    )
    assert row["liquidation_price"] == pytest.approx(single.liquidation_price)
    assert res.accounts.row(0, named=True)["margin_ratio"] == pytest.approx(single.margin_ratio)


def test_conflicting_marks_are_an_error(tmp_path):
    p = tmp_path / "pos.csv"
    p.write_text(
        "venue,symbol,side,size_base,entry_price,margin_quote,mark_price\n"
        "binance_usdm,BTCUSDT,long,1,100000,5000,99000\n"
        "binance_usdm,BTCUSDT,short,1,100000,5000,98000\n"
    )
    with pytest.raises(InputError, match="row 2: mark_price"):
        risk.load_positions(p)


def test_stop_without_jumps_never_liquidates_and_hits_at_the_gbm_rate(binance):
    res = risk.stop_analysis(
        binance,
        "long",
        1.0,
        100_000.0,
        5_000.0,
        vol_annual=0.6,
        horizon_days=5,
        stop_price=97_000.0,
        hedge_ratio=0.5,
        n_paths=40_000,
        n_steps=10,
        seed=1,
    )
    rows = {s.name: s for s in res.scenarios}
    assert rows["stop"].prob_liquidation == 0.0
    p_stop = risk.prob_liquidation(100_000.0, 97_000.0, 1, 0.6, 5).probability
    se = math.sqrt(p_stop * (1 - p_stop) / 40_000)
    assert abs(rows["stop"].prob_stop - p_stop) < 4 * se
    p_liq = risk.prob_liquidation(100_000.0, rows["as is"].liquidation_price, 1, 0.6, 5).probability
    assert abs(rows["as is"].prob_liquidation - p_liq) < 4 * math.sqrt(p_liq * (1 - p_liq) / 40_000)
    # a stop fills at the stop: loss = size*(entry-stop) + taker fee on the exit
    assert rows["stop"].loss_given_stop_quote == pytest.approx(
        3_000.0 + 97_000.0 * binance.taker_fee_rate
    )
    # the hedge keeps the same liquidation odds but cuts the realised loss
    assert rows["hedge"].prob_liquidation == rows["as is"].prob_liquidation
    assert rows["hedge"].expected_realised_loss_quote < rows["as is"].expected_realised_loss_quote
    # cutting the size moves the liquidation price away and lowers its probability
    assert rows["reduced"].liquidation_price < rows["as is"].liquidation_price
    assert rows["reduced"].prob_liquidation < rows["as is"].prob_liquidation


def test_stop_with_jumps_can_gap_into_liquidation(binance):
    res = risk.stop_analysis(
        binance,
        "long",
        1.0,
        100_000.0,
        5_000.0,
        vol_annual=0.4,
        horizon_days=5,
        stop_price=97_000.0,
        jump=dict(jump_intensity_annual=40, jump_mean_log=-0.06, jump_std_log=0.02),
        n_paths=20_000,
        n_steps=20,
        seed=2,
    )
    rows = {s.name: s for s in res.scenarios}
    assert 0 < rows["stop"].prob_liquidation < rows["as is"].prob_liquidation
    assert rows["stop"].loss_given_stop_quote > 3_000.0  # gapped fills are worse than the stop


def test_stop_on_the_wrong_side_is_rejected(binance):
    # 1 BTC long at 100k with 5k margin, 50% vol over one day
    def stop_at(stop_price: float):
        return risk.stop_analysis(
            binance,
            "long",
            1.0,
            100_000.0,
            5_000.0,
            vol_annual=0.5,
            horizon_days=1,
            stop_price=stop_price,
        )

    with pytest.raises(InputError, match="beyond the liquidation price"):
        stop_at(90_000.0)
    with pytest.raises(InputError, match="must be below"):
        stop_at(101_000.0)


def test_cluster_warning_finds_the_densest_band():
    m = pl.DataFrame(
        {
            "price_level": [95_000.0, 96_000.0, 96_500.0, 97_000.0, 104_000.0, 110_000.0],
            "side": [1, 1, 1, 1, -1, -1],
            "notional_quote": [1e6, 5e6, 4e6, 1e5, 2e6, 9e6],
        }
    )
    w = risk.cluster_warning(
        100_000.0,
        m,
        band_frac=0.01,
        vol_annual=0.5,
        horizon_days=3,
        position_side="long",
        position_liq_price=93_000.0,
    )
    longs = next(b for b in w.bands if b.side == 1)
    shorts = next(b for b in w.bands if b.side == -1)
    assert (longs.band_low_price, longs.band_high_price) == (96_000.0, 97_000.0)
    assert longs.notional_quote == pytest.approx(9.1e6)
    assert longs.distance_frac == pytest.approx(0.03) and longs.warning
    assert shorts.notional_quote == pytest.approx(9e6) and not shorts.warning
    assert shorts.prob_reach_gbm < longs.prob_reach_gbm
    assert "between the price" in w.position_message
    far = risk.cluster_warning(100_000.0, m, position_side="long", position_liq_price=97_500.0)
    assert "before the densest band" in far.position_message


def test_cluster_map_validation():
    with pytest.raises(InputError, match="columns"):
        risk.cluster_warning(100.0, pl.DataFrame({"price": [1.0]}))
    bad = pl.DataFrame({"price_level": [90.0], "side": [2], "notional_quote": [1.0]})
    with pytest.raises(InputError, match="row 0"):
        risk.cluster_warning(100.0, bad)


def test_fit_recovers_known_volatility_and_jumps():
    rng = np.random.default_rng(4)
    n, dt = 20_000, 60.0 / (365 * 86400)
    r = 0.5 * math.sqrt(dt) * rng.standard_normal(n)
    jumps = rng.random(n) < 0.002
    r[jumps] += rng.normal(-0.02, 0.005, jumps.sum())
    close = 100.0 * np.exp(np.cumsum(np.concatenate([[0.0], r])))
    df = pl.DataFrame({"open_time": np.arange(n + 1, dtype=np.int64) * 60_000, "close": close})
    f = risk.fit_from_klines(df)
    assert f.model.vol_annual == pytest.approx(0.5, rel=0.03)
    assert f.n_jumps == pytest.approx(int(jumps.sum()), rel=0.1)
    assert f.model.jump_mean_log == pytest.approx(-0.02, abs=0.002)
    assert f.model.jump_intensity_annual == pytest.approx(jumps.sum() / (n * dt), rel=0.1)
    plain = risk.fit_from_klines(df, jumps=False)
    assert plain.model.jump_intensity_annual == 0 and plain.model.vol_annual > f.model.vol_annual


def test_fit_on_shipped_klines_csv_and_zip():
    f = risk.fit_from_klines(SAMPLE / "binance/um/klines/BTCUSDT-1m-2025-10-11.csv")
    assert f.n_returns == 1439 and f.bar_seconds == 60.0
    assert 0.1 < f.model.vol_annual < 3.0
    z = risk.fit_from_klines(
        [
            SAMPLE / "binance/um/priceKlines/BTCUSDT-5m-2025-10-09.zip",
            SAMPLE / "binance/um/priceKlines/BTCUSDT-5m-2025-10-10.zip",
        ]
    )
    assert z.bar_seconds == 300.0 and z.n_returns == 2 * 288 - 1
    # the crash day has a higher realised volatility than the day after
    crash = risk.fit_from_klines(SAMPLE / "binance/um/klines/BTCUSDT-1m-2025-10-10.csv")
    assert crash.realised_vol_annual > f.realised_vol_annual


def test_bad_kline_files(tmp_path):
    with pytest.raises(DataError, match="not found"):
        risk.read_klines(tmp_path / "nope.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("open_time,close\n1,100\n2,-5\n")
    with pytest.raises(DataError, match="row 3: close"):
        risk.read_klines(bad)


def test_fit_from_the_store_matches_the_file(tmp_path):
    from liqcascade.data import ingest_paths

    f = SAMPLE / "binance/um/klines/BTCUSDT-1m-2025-10-11.csv"
    db = tmp_path / "store.duckdb"
    ingest_paths([f], db, venue="binance_usdm", symbol="BTCUSDT")
    s = risk.fit_from_store("binance_usdm", "BTCUSDT", db=db, interval="1m")
    direct = risk.fit_from_klines(f)
    assert s.bar_seconds == 60.0 and s.n_returns == direct.n_returns
    assert s.model.vol_annual == pytest.approx(direct.model.vol_annual, rel=1e-12)
    assert s.start_ms == direct.start_ms
    with pytest.raises(DataError, match="no trade klines"):
        risk.fit_from_store("binance_usdm", "ETHUSDT", db=db)
