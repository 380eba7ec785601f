"""`liqcascade risk ...` command line: JSON contract and clear errors."""

from __future__ import annotations

import json
import sys

import pytest
from typer.testing import CliRunner

from liqcascade import risk
from liqcascade.cli import app
from liqcascade.errors import InputError

runner = CliRunner()


def _json(args):
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_prob_json_contract_gbm_and_jump():
    out = _json(
        "risk prob --price 100000 --liq 90000 --side long --vol 0.6 --horizon-days 7 --json".split()
    )
    assert out["probability"] == pytest.approx(
        risk.prob_liquidation(100_000, 90_000, "long", 0.6, 7).probability
    )
    out = _json(
        (
            "risk prob --price 100000 --liq 110000 --side short --vol 0.6 --horizon-days 7 "
            "--drift 0.2 --model jump --paths 20000 --json"
        ).split()
    )
    assert out["ci_low"] <= out["probability"] <= out["ci_high"] and out["seed"] == 20251010
    assert out["drift_annual"] == 0.2


def test_prob_with_volatility_from_klines():
    from importlib.resources import files

    k = str(files("liqcascade") / "sample_data/binance/um/klines/BTCUSDT-1m-2025-10-11.csv")
    out = _json(
        [
            *"risk prob --price 100000 --liq 95000 --side long --klines".split(),
            k,
            *"--horizon-days 1 --json".split(),
        ]
    )
    assert out["vol_annual"] == pytest.approx(out["fitted_from_klines"]["realised_vol_annual"])


def test_size_position_stop_commands_run():
    s = _json(
        (
            "risk size --side long --price 100000 --margin 1000 --target 0.05 --vol 0.6 "
            "--horizon-days 7 --json"
        ).split()
    )
    assert s["probability"] <= 0.05 and s["size_base"] > 0
    p = _json(
        (
            "risk position --side long --size 0.85 --entry 60000 --margin 2550 --move -0.05 --json"
        ).split()
    )
    assert p["liquidation_price"] == pytest.approx(57_228.92, abs=0.01)
    assert p["moves"][0]["liquidated"] is True
    st = _json(
        (
            "risk stop --side long --size 1 --entry 100000 --margin 5000 --stop 97000 --vol 0.5 "
            "--horizon-days 2 --paths 5000 --json"
        ).split()
    )
    assert [x["name"] for x in st["scenarios"]] == ["as is", "stop"]


def test_bad_input_raises_input_error_in_process():
    res = runner.invoke(
        app,
        "risk prob --price 100 --liq 110 --side long --vol 0.5 --horizon-days 1".split(),
    )
    assert isinstance(res.exception, InputError)


def test_bad_input_is_one_line_and_exit_code_2(monkeypatch, capsys):
    from liqcascade.cli import main

    argv = "liqcascade risk prob --price 100 --liq 90 --side long --vol -1 --horizon-days 1".split()
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: vol_annual=-1.0: expected a finite number > 0"


def test_systemic_command_json(tmp_path):
    p = tmp_path / "book.csv"
    p.write_text(
        "venue,symbol,side,size_base,entry_price,margin_quote\n"
        "binance_usdm,BTCUSDT,long,1,100000,5000\n"
        "hyperliquid,BTC,short,1,100000,10000\n"
    )
    out = _json(
        ["risk", "systemic", str(p), "--price", "100000", "--impact", "linear:10", "--json"]
    )
    assert out["open_interest_quote"] == pytest.approx(100_000.0)
    assert out["leverage_ratio"] == pytest.approx(100_000.0 / 15_000.0)
    assert out["venue_hhi"] == pytest.approx(0.5)


def test_prob_and_fit_from_the_store(tmp_path):
    from importlib.resources import files

    from liqcascade.data import ingest_paths

    f = files("liqcascade") / "sample_data/binance/um/klines/BTCUSDT-1m-2025-10-10.csv"
    db = tmp_path / "s.duckdb"
    ingest_paths([f], db, venue="binance_usdm", symbol="BTCUSDT")
    fit = _json(
        [
            "risk",
            "fit",
            "--store",
            "binance_usdm:BTCUSDT",
            "--db",
            str(db),
            "--start",
            "2025-10-10T00:00",
            "--end",
            "2025-10-10T12:00",
            "--json",
        ]
    )
    assert fit["n_returns"] == 12 * 60 - 1
    out = _json(
        [
            "risk",
            "prob",
            "--price",
            "110000",
            "--liq",
            "100000",
            "--side",
            "long",
            "--store",
            "binance_usdm:BTCUSDT",
            "--db",
            str(db),
            "--horizon-days",
            "1",
            "--json",
        ]
    )
    assert out["vol_annual"] == pytest.approx(out["fitted_from_klines"]["realised_vol_annual"])
    res = runner.invoke(app, ["risk", "fit", "--store", "BTCUSDT"])
    assert isinstance(res.exception, InputError)
