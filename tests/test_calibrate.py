"""Calibration of the market model: recovery of known parameters from simulated tapes, the fit
on the shipped training windows, and strict refusal of bad kline files (library and CLI)."""

from __future__ import annotations

import math
import subprocess
import sys
from importlib import resources
from pathlib import Path

import msgspec
import numpy as np
import pytest

from liqcascade.calibrate import FIT_NAMES, calibrate, calibrate_files
from liqcascade.errors import DataError
from liqcascade.market import default_params, load_params, simulate_tape

KLINES = Path(str(resources.files("liqcascade") / "sample_data/binance/um/klines"))
WINDOWS = sorted(KLINES.glob("BTCUSDT-1m-2025-*T*.csv"))
WINDOW = KLINES / "BTCUSDT-1m-2025-10-16T1230-1830.csv"
CLI = Path(sys.executable).with_name("liqcascade")

# Tolerances found by fitting 12 simulated 720-bar tapes for seeds 1..10 (worst case, rounded
# up; the test uses seed 3). Seen on the model's own tapes: impact_vol_elasticity comes out one
# grid step (0.1) low on some seeds, impact_permanent_frac scatters by up to 0.12, and
# volume_vol_elasticity is 7-12 % low. flow_tail_df, volume_ref_base and volume_log_sd are not
# asserted: simulate_tape raises each bar's volume to at least |net flow|, which distorts the
# volume distribution (volume_ref_base +12..23 %, volume_log_sd -14..-18 %, flow_tail_df far off).
REL_TOL = {
    "vol_decay": 0.05,
    "impact_lambda_ref_per_base": 0.10,
    "impact_decay_minutes": 0.25,
    "noise_scale": 0.10,
    "flow_scale_ref_base": 0.10,
    "flow_vol_elasticity": 0.20,
    "volume_vol_elasticity": 0.15,
    "range_scale": 0.05,
}
# flow memory: seen within 0.035 (persistence), 0.06 (memory coefficient) and two grid steps
# (memory decay) of the truth on seeds 1..10; vol_reversion within 0.01 (one or two grid steps).
# With the volatility state reverting, sr varies less and the log|q|-on-log-sr slope
# flow_vol_elasticity comes out 0-20 % low (attenuation).
ABS_TOL = {
    "impact_vol_elasticity": 0.11,
    "impact_permanent_frac": 0.15,
    "flow_persistence": 0.05,
    "flow_memory_coef": 0.08,
    "flow_memory_decay": 0.11,
    "vol_reversion": 0.011,
}


def _truth():
    d = default_params()
    return msgspec.structs.replace(
        d,
        market=msgspec.structs.replace(
            d.market,
            impact_vol_elasticity=0.5,
            impact_decay_minutes=5.0,
            impact_permanent_frac=0.5,
            vol_decay=0.94,
            flow_persistence=0.2,
            flow_memory_coef=0.3,
            flow_memory_decay=0.8,
            vol_reversion=0.01,
        ),
    )


@pytest.fixture(scope="module")
def recovered():
    pf = _truth()
    tapes = simulate_tape(pf, 720, 3, n_tapes=12)
    return pf, calibrate(tapes, n_boot=5)


@pytest.mark.parametrize("name", sorted({**REL_TOL, **ABS_TOL}))
def test_calibrate_recovers_simulated_parameters(recovered, name: str) -> None:
    pf, res = recovered
    true = getattr(pf.market, name)
    got = getattr(res.params.market, name)
    if name in REL_TOL:
        assert abs(got / true - 1.0) <= REL_TOL[name], (name, true, got)
    else:
        assert abs(got - true) <= ABS_TOL[name], (name, true, got)


def test_simulated_fit_reports_metrics_and_stderr(recovered) -> None:
    _, res = recovered
    fit = res.params.fit
    assert fit["n_tapes"] == 12 and fit["bootstrap_resamples"] == 5
    assert fit["n_bars"] == 12 * (720 - 1 - 30)
    assert 0.0 < fit["impact_weighted_r2"] < 1.0
    for k in FIT_NAMES:
        assert math.isfinite(res.params.stderr[k]) and res.params.stderr[k] >= 0, k


def test_simulate_tape_is_deterministic_and_consistent() -> None:
    pf = _truth()
    a = simulate_tape(pf, 100, 5, n_tapes=2)
    b = simulate_tape(pf, 100, 5, n_tapes=2)
    c = simulate_tape(pf, 100, 6, n_tapes=2)
    np.testing.assert_array_equal(a[1].close, b[1].close)
    assert not np.array_equal(a[1].close, c[1].close)
    for t in a:
        assert np.all(t.low <= np.minimum(t.open, t.close))
        assert np.all(t.high >= np.maximum(t.open, t.close))
        assert np.all((t.taker_buy_base >= 0) & (t.taker_buy_base <= t.volume_base))
        assert np.all(np.diff(t.open_ms) == 60_000)


def test_calibrate_on_shipped_windows() -> None:
    assert len(WINDOWS) == 10
    res = calibrate_files(WINDOWS, n_boot=5)
    pf = res.params
    assert res.files == [str(p) for p in WINDOWS]
    rows = res.table()
    assert [r["param"] for r in rows] == list(FIT_NAMES)
    for k in FIT_NAMES:
        assert math.isfinite(getattr(pf.market, k)), k
        assert math.isfinite(pf.stderr[k]) and pf.stderr[k] >= 0, k
        assert isinstance(pf.identified[k], bool), k
    # book priors are stated, never fitted
    for k in ("oi_median_base", "oi_log_sd", "forced_cap_frac", "old_entry_log_sd"):
        assert pf.identified[k] is False
    assert pf.fit["n_tapes"] == 10 and len(pf.fit["training_set"]) == 10
    assert 0.80 <= pf.market.vol_decay <= 0.995
    assert 0.0 <= pf.market.impact_permanent_frac <= 1.0
    assert pf.market.impact_lambda_ref_per_base > 0


def test_calibrate_cli_writes_a_loadable_params_file(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from liqcascade.cli import app

    out = tmp_path / "p.toml"
    r = CliRunner().invoke(
        app, ["calibrate", *map(str, WINDOWS[:3]), "--out", str(out), "--bootstrap", "3", "--json"]
    )
    assert r.exit_code == 0, r.output
    pf = load_params(out)
    assert pf.fit["n_tapes"] == 3
    assert set(FIT_NAMES) <= set(pf.stderr)


# --------------------------------------------------------------------------------------------
# refusals


def _lines() -> list[str]:
    return WINDOW.read_text().splitlines()


def _gap_file(tmp_path: Path) -> tuple[Path, int]:
    lines = _lines()
    del lines[100]  # line 101 (1-based) goes: the bar now on line 101 follows a 2-minute gap
    p = tmp_path / "BTCUSDT-1m-2025-10-16T1230-1830.csv"
    p.write_text("\n".join(lines) + "\n")
    return p, 101


def _five_minute_file(tmp_path: Path) -> tuple[Path, int]:
    lines = _lines()
    out = [lines[0]]
    for k, line in enumerate(lines[1:200:5]):
        f = line.split(",")
        f[0] = str(int(lines[1].split(",")[0]) + k * 300_000)
        f[6] = str(int(f[0]) + 299_999)
        out.append(",".join(f))
    p = tmp_path / "BTCUSDT-5m-2025-10-16.csv"
    p.write_text("\n".join(out) + "\n")
    return p, 2


def _no_taker_file(tmp_path: Path) -> tuple[Path, int]:
    out = [",".join(line.split(",")[:9]) for line in _lines()]
    p = tmp_path / "BTCUSDT-1m-notaker.csv"
    p.write_text("\n".join(out) + "\n")
    return p, 1


BAD = {
    "gap": (_gap_file, "gap"),
    "5m": (_five_minute_file, "1-minute"),
    "no_taker": (_no_taker_file, "taker_buy_volume"),
}


@pytest.mark.parametrize("kind", sorted(BAD))
def test_calibrate_files_refuses_bad_file(tmp_path: Path, kind: str) -> None:
    make, word = BAD[kind]
    bad, line = make(tmp_path)
    with pytest.raises(DataError) as ei:
        calibrate_files([WINDOWS[0], bad], n_boot=2)
    msg = str(ei.value)
    assert str(bad) in msg
    assert f"line {line}" in msg
    assert word in msg


def test_calibrate_cli_exits_2_naming_file_and_line(tmp_path: Path) -> None:
    make, word = BAD["gap"]
    bad, line = make(tmp_path)
    out = tmp_path / "p.toml"
    r = subprocess.run(
        [str(CLI), "calibrate", str(bad), "--out", str(out), "--bootstrap", "2"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2, r.stdout + r.stderr
    assert r.stderr.startswith("error: ")
    assert str(bad) in r.stderr and f"line {line}" in r.stderr and word in r.stderr
    assert "Traceback" not in r.stderr
    assert not out.exists()


def test_calibrate_files_refuses_no_files_and_only_short_files(tmp_path: Path) -> None:
    from liqcascade.errors import InputError

    with pytest.raises(InputError):
        calibrate_files([])
    short = tmp_path / "BTCUSDT-1m-short.csv"
    short.write_text("\n".join(_lines()[:21]) + "\n")
    with pytest.raises(InputError, match="warm-up"):
        calibrate_files([short])


@pytest.mark.parametrize("kind", sorted(BAD))
def test_calibrate_cli_refuses_bad_file(tmp_path: Path, kind: str) -> None:
    from typer.testing import CliRunner

    from liqcascade.cli import app

    make, word = BAD[kind]
    bad, line = make(tmp_path)
    out = tmp_path / "p.toml"
    r = CliRunner().invoke(app, ["calibrate", str(bad), "--out", str(out), "--bootstrap", "2"])
    # CliRunner bypasses liqcascade.cli.main, which turns this error into exit code 2
    assert r.exit_code != 0
    assert isinstance(r.exception, DataError)
    msg = str(r.exception)
    assert str(bad) in msg and f"line {line}" in msg and word in msg
    assert not out.exists()
