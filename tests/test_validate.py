"""Validation of the market model on real kline files: no look-ahead in the rolling forecast,
the forecast CSV and JSON layout, short and bad files, the tape-driven attribution of the
10 Oct crash, and the `validate` / `replay` command lines."""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from liqcascade.cli import app
from liqcascade.data.klines import read_klines
from liqcascade.errors import DataError
from liqcascade.market import default_params
from liqcascade.validate import (
    FORECAST_COLUMNS,
    WARMUP_BARS,
    attribute_event,
    prepare,
    validate_files,
)

SAMPLE = Path(str(resources.files("liqcascade") / "sample_data"))
KLINES = SAMPLE / "binance/um/klines"
WINDOW = KLINES / "BTCUSDT-1m-2025-10-16T1230-1830.csv"
CRASH = KLINES / "BTCUSDT-1m-2025-10-10.csv"
CRASH_FIRST = 20 * 60 + 50  # 2025-10-10T20:50Z in the day file
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
N_PATHS = 100


def _head(tmp_path: Path, n: int, src: Path = WINDOW, name: str | None = None) -> Path:
    """The header and the first ``n`` bars of ``src`` as a new file."""
    lines = src.read_text().splitlines()
    p = tmp_path / (name or src.name)
    p.write_text("\n".join(lines[: n + 1]) + "\n")
    return p


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory):
    """validate_files on a 200-bar piece of a window and on its first 150 bars (same seed)."""
    base = tmp_path_factory.mktemp("val")
    (base / "long").mkdir()
    (base / "short").mkdir()
    long_f = _head(base / "long", 200)
    short_f = _head(base / "short", 150)
    out_long, out_short = base / "out_long", base / "out_short"
    r_long = validate_files([long_f], n_paths=N_PATHS, seed=4, out_dir=out_long)
    r_short = validate_files([short_f], n_paths=N_PATHS, seed=4, out_dir=out_short)
    stem = WINDOW.stem
    return {
        "long": (r_long, out_long, out_long / f"{stem}.forecast.csv"),
        "short": (r_short, out_short, out_short / f"{stem}.forecast.csv"),
    }


def test_rolling_forecast_has_no_look_ahead(runs) -> None:
    fl = pl.read_csv(runs["long"][2])
    fs = pl.read_csv(runs["short"][2])
    assert fs.height == 150 - WARMUP_BARS + 1
    assert fl.height == 200 - WARMUP_BARS + 1
    head = fl.head(fs.height)
    assert head["time"].to_list() == fs["time"].to_list()
    for c in FORECAST_COLUMNS[1:]:
        np.testing.assert_array_equal(head[c].to_numpy(), fs[c].to_numpy(), err_msg=c)


def test_rolling_forecast_direct_cut_gives_same_rows() -> None:
    pf = default_params()
    from liqcascade.validate import rolling_forecast

    tape = read_klines(WINDOW)
    ss = np.random.SeedSequence(9)
    a = rolling_forecast(prepare(tape.slice(0, 90), pf), seed=ss, n_paths=50)
    b = rolling_forecast(prepare(tape.slice(0, 75), pf), seed=ss, n_paths=50)
    assert b.height == 75 - WARMUP_BARS + 1
    for c in FORECAST_COLUMNS:
        assert a[c].head(b.height).to_list() == b[c].to_list(), c
    # the future low is the one column that does look ahead: NaN where 30 bars do not follow
    fut = a["future_low"].to_numpy()  # bar 59 of 90: bars 60..89 follow
    assert np.isfinite(fut[0]) and np.isnan(fut[-1])
    assert np.all(np.isnan(b["future_low"].to_numpy()))


def test_forecast_csv_layout(runs) -> None:
    fc = pl.read_csv(runs["long"][2])
    assert tuple(fc.columns) == FORECAST_COLUMNS
    assert all(ISO.match(t) for t in fc["time"].to_list())
    tape = read_klines(WINDOW)
    assert fc["time"][0] == tape.iso(WARMUP_BARS - 1)
    close = fc["close"].to_numpy()
    np.testing.assert_array_equal(close, tape.close[WARMUP_BARS - 1 : 200])
    for tag in ("", "_impact_only"):
        q05 = fc[f"q05_low{tag}"].to_numpy()
        q01 = fc[f"q01_low{tag}"].to_numpy()
        assert np.all(np.isfinite(q05)) and np.all(np.isfinite(q01))
        assert np.all(q01 <= q05), tag
        assert np.all(q05 <= close), tag


def test_validation_json_structure(runs) -> None:
    res, out, _ = runs["long"]
    d = json.loads((out / "validation.json").read_text())
    assert d == json.loads(json.dumps(d))  # plain JSON (no NaN tokens)
    assert {"params", "events"} <= set(d)
    assert d["params"] == "shipped"
    assert len(d["events"]) == 1
    for ev in d["events"]:
        assert ev["file"] == WINDOW.name
        obs, rep, imp = ev["observed"], ev["replay"], ev["impact_only"]
        assert {"high", "high_time", "low", "low_time"} <= set(obs)
        assert obs["low"] < obs["high"]
        assert ISO.match(obs["high_time"]) and ISO.match(obs["low_time"])
        assert {"low_p10", "low_p50", "low_p90", "low_time_p50", "endogenous_share"} <= set(rep)
        assert rep["low_p10"] <= rep["low_p50"] <= rep["low_p90"]
        assert ISO.match(rep["low_time_p50"])
        assert 0.0 <= rep["endogenous_share"] <= 1.0
        assert "low_p50" in imp
        # the replay never ends above what the model saw
        assert rep["low_p90"] <= obs["high"]
    assert (out / "validation.html").stat().st_size > 10_000
    assert res.files[0].notes == []


def test_short_window_is_a_note_not_a_crash(tmp_path: Path) -> None:
    f = _head(tmp_path, 40)
    res = validate_files([f], n_paths=N_PATHS, out_dir=tmp_path / "out")
    fv = res.files[0]
    assert fv.forecast is None
    assert any("warm-up" in n for n in fv.notes), fv.notes
    assert fv.event is not None  # 40 bars are enough for an event replay
    d = json.loads((tmp_path / "out/validation.json").read_text())
    assert any("warm-up" in n for n in d["notes"][f.name])
    assert not (tmp_path / "out" / f"{f.stem}.forecast.csv").exists()


def test_validate_refuses_a_file_with_a_gap(tmp_path: Path) -> None:
    lines = WINDOW.read_text().splitlines()[:120]
    del lines[50]
    bad = tmp_path / WINDOW.name
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as ei:
        validate_files([WINDOW, bad], n_paths=N_PATHS, out_dir=tmp_path / "out")
    msg = str(ei.value)
    assert str(bad) in msg and "line 51" in msg and "gap" in msg
    assert not (tmp_path / "out").exists()  # refused before any work


# --------------------------------------------------------------------------------------------
# tape-driven attribution of the 10 Oct crash


@pytest.fixture(scope="module")
def crash_attr():
    tape = read_klines(CRASH)
    assert tape.iso(CRASH_FIRST) == "2025-10-10T20:50:00Z"
    mt = prepare(tape, default_params())
    return mt, attribute_event(mt, CRASH_FIRST)


def test_attribution_forced_volume_within_traded_volume(crash_attr) -> None:
    mt, a = crash_attr
    tp = mt.tape
    forced = np.array(a["forced_base_per_minute"])
    end = CRASH_FIRST + forced.size
    sell = tp.volume_base[CRASH_FIRST:end] - tp.taker_buy_base[CRASH_FIRST:end]
    assert a["mode"] == "attribution"
    assert np.all(forced >= 0)
    assert np.all(forced <= sell + 1e-9)
    assert np.all(forced <= tp.volume_base[CRASH_FIRST:end] + 1e-9)
    assert 0.0 <= a["max_forced_share_of_volume"] <= 1.0
    assert a["forced_base_total"] == pytest.approx(forced.sum())
    assert a["forced_base_total"] > 0  # the crash crossed liquidation levels
    assert a["exogenous_flow_base_total"] == pytest.approx(
        a["observed_net_flow_base_total"] + a["forced_base_total"]
    )


def test_attribution_endogenous_share_in_unit_interval(crash_attr) -> None:
    _, a = crash_attr
    assert 0.0 <= a["endogenous_share"] <= 1.0


# --------------------------------------------------------------------------------------------
# command lines


def test_validate_cli_writes_outputs(tmp_path: Path) -> None:
    f = _head(tmp_path, 120)
    out = tmp_path / "out"
    r = CliRunner().invoke(
        app, ["validate", str(f), "--out", str(out), "--json", "--paths", str(N_PATHS)]
    )
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["n_paths"] == N_PATHS and len(d["events"]) == 1
    assert (out / f"{f.stem}.forecast.csv").is_file()
    assert (out / "validation.json").is_file()
    assert (out / "validation.html").is_file()
    assert json.loads((out / "validation.json").read_text())["events"] == d["events"]


def _kline_store(db: Path) -> Path:
    """A store at ``db`` holding the shipped BTCUSDT 1m klines of 10 Oct 2025 (as in
    tests/test_replay_cli.py)."""
    from liqcascade.data import ingest_paths

    assert ingest_paths([str(CRASH)], db=str(db)).ok
    return db


def test_replay_cli_json_has_market_model_block(tmp_path: Path) -> None:
    db = _kline_store(tmp_path / "r.duckdb")
    r = CliRunner().invoke(
        app,
        [
            "replay",
            "--date",
            "2025-10-10",
            "--db",
            str(db),
            "--report",
            str(tmp_path / "rep.html"),
            "--paths",
            "200",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    m = d["model"]
    assert m["mode"] == "trigger"
    for k in ("low_p10", "low_p50", "low_p90", "low_time_p50"):
        assert k in m, k
    assert m["low_p10"] <= m["low_p50"] <= m["low_p90"]
    assert ISO.match(m["low_time_p50"])
    assert m["n_paths"] == 200
    sens = d["sensitivity"]
    assert isinstance(sens, list) and sens
    for row in sens:
        assert set(row) == {"param", "factor", "low_p50"}
        assert isinstance(row["low_p50"], float)
    from liqcascade.calibrate import FIT_NAMES

    # volume_log_sd only shapes simulated tapes; the ensemble does not read it
    assert {row["param"] for row in sens} == set(FIT_NAMES) - {"volume_log_sd"}
    assert {row["factor"] for row in sens} == {0.9, 1.1}
