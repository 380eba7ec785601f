"""The command line's faces: --version, start-up imports, -v/-q logging, --format csv/json with
full values, tables that are not cut when piped, progress bars off when not on a terminal."""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import subprocess
import sys
from importlib import metadata, resources
from pathlib import Path

import pytest
from typer.testing import CliRunner

from liqcascade.cli import _common, app

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "examples" / "book_example.csv"
KLINES = resources.files("liqcascade") / "sample_data/binance/um/klines/BTCUSDT-1m-2025-10-10.csv"
runner = CliRunner()


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The console script as a whole process, stdout and stderr piped (not a terminal)."""
    code = "import sys; from liqcascade.cli import main; sys.argv[0] = 'liqcascade'; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


@pytest.fixture(autouse=True)
def _reset_logging():
    from liqcascade.log import logger

    level = logger.level
    yield
    _common.configure_logging(0, False)
    logger.setLevel(level)


# ------------------------------------------------------------------------ version, start-up


def test_version_flag_prints_the_package_version() -> None:
    want = metadata.version("liqcascade")
    r = _cli("--version")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"liqcascade {want}"
    res = runner.invoke(app, ["-v", "--version"])  # through the app (eager option)
    assert res.exit_code == 0 and res.stdout.strip() == f"liqcascade {want}"
    res = runner.invoke(app, ["version"])
    assert res.exit_code == 0 and res.stdout.strip() == want


def test_help_imports_no_heavy_library() -> None:
    """--help must not import numba, polars, DuckDB or the web stack (start-up time)."""
    code = (
        "import sys\n"
        "sys.argv = ['liqcascade', '--help']\n"
        "from liqcascade.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = ('numba', 'polars', 'duckdb', 'fastapi', 'uvicorn', 'numpy', 'scipy', 'dask')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert "cascade" in r.stdout and "--version" in r.stdout  # the help itself printed
    assert lines[-1] == "[]", f"--help imported {lines[-1]}"


# ------------------------------------------------------------------------ logging


def test_verbose_and_quiet_set_the_library_log_level() -> None:
    from liqcascade.log import logger

    for args, level in (
        ([], logging.WARNING),
        (["-v"], logging.INFO),
        (["-vv"], logging.DEBUG),
        (["-q"], logging.ERROR),
    ):
        res = runner.invoke(app, [*args, "version"])
        assert res.exit_code == 0, res.output
        assert logger.getEffectiveLevel() == level, args


def test_verbose_shows_library_debug_records_and_quiet_hides_warnings() -> None:
    base = ["risk", "fit", str(KLINES), "--format", "json"]
    loud = _cli("-vv", *base)
    assert loud.returncode == 0, loud.stderr
    assert "debug liqcascade" in loud.stderr and "jumps" in loud.stderr
    default = _cli(*base)
    assert default.returncode == 0 and "debug" not in default.stderr
    json.loads(default.stdout)  # logging never mixes into stdout
    assert json.loads(loud.stdout) == json.loads(default.stdout)
    # -q: a warning from the library does not print, an error does
    from liqcascade.log import logger

    _common.configure_logging(0, quiet=True)
    err = io.StringIO()
    old, sys.stderr = sys.stderr, err
    try:
        logger.warning("a warning")
        logger.error("an error")
    finally:
        sys.stderr = old
    assert "a warning" not in err.getvalue() and "error: an error" in err.getvalue()


# ------------------------------------------------------------------------ formats


def _cascade(*extra: str) -> list[str]:
    return [
        "cascade",
        "--positions",
        str(BOOK),
        "--price",
        "120000",
        "--shock",
        "-0.12:-0.02:0.05",
        "--impact",
        "linear:1500",
        "--venue",
        "binance",
        "--symbol",
        "BTCUSDT",
        *extra,
    ]


def test_csv_and_json_keep_full_values() -> None:
    j = runner.invoke(app, _cascade("--format", "json"))
    assert j.exit_code == 0, j.output
    rows = json.loads(j.stdout)
    old = runner.invoke(app, _cascade("--json"))
    assert json.loads(old.stdout) == rows  # --json is --format json
    c = runner.invoke(app, _cascade("--format", "csv"))
    assert c.exit_code == 0, c.output
    parsed = list(csv.DictReader(io.StringIO(c.stdout)))
    assert len(parsed) == len(rows) >= 2
    for got, want in zip(parsed, rows, strict=True):
        for key in ("shock", "final_price", "liquidated_notional", "cascade_multiplier"):
            assert float(got[key]) == want[key], key  # full precision, no separators or units
        assert int(got["liquidated_count"]) == want["liquidated_count"]
    # the table shows the same numbers rounded for people
    t = runner.invoke(app, _cascade())
    assert t.exit_code == 0
    assert f"{rows[0]['final_price']:,.2f}" in t.stdout


def test_kv_command_csv_matches_json() -> None:
    args = ["liq-price", "--venue", "binance_usdm", "--symbol", "BTCUSDT", "--side", "long"]
    args += ["--entry", "60000", "--size", "0.85", "--leverage", "20"]
    doc = json.loads(runner.invoke(app, [*args, "--format", "json"]).stdout)
    c = runner.invoke(app, [*args, "--format", "csv"])
    assert c.exit_code == 0, c.output
    rows = {r["field"]: r["value"] for r in csv.DictReader(io.StringIO(c.stdout))}
    assert float(rows["liquidation_price"]) == doc["liquidation_price"]
    assert (
        float(rows["maintenance_margin_quote_at_entry"]) == doc["maintenance_margin_quote_at_entry"]
    )
    t = runner.invoke(app, args)
    assert "USDT" in t.stdout and "%" in t.stdout  # money with its unit, fractions in percent


def test_format_rejects_unknown_values() -> None:
    r = runner.invoke(app, _cascade("--format", "xml"))
    assert r.exit_code != 0
    assert "xml" in r.output


# ------------------------------------------------------------------------ piped tables


def test_piped_table_is_not_truncated() -> None:
    r = _cli("demo", "--margin-table", env={"COLUMNS": "80"})
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "…" not in out
    for name in ("binance_usdm", "hyperliquid", "BTC-USDT-SWAP", "ETH-USDT-SWAP", "bankr. price"):
        assert name in out, name
    # every row of the book is on one line of its own (no folding): count the venue cells
    lines = [ln for ln in out.splitlines() if "│" in ln and ("isolated" in ln or "cross" in ln)]
    rows = list(csv.DictReader(BOOK.open()))
    assert len(lines) == len(rows)
    assert max(len(ln) for ln in out.splitlines()) > 80  # wider than the 80 columns asked for


def test_progress_bars_are_off_when_not_a_terminal() -> None:
    assert not _common.progress_enabled()  # pytest captures stderr
    with _common.progress("x", total=3) as bar:
        bar(1)
        bar(2, 3, description="step")
    r = runner.invoke(app, _cascade("--mode", "dynamic"))
    assert r.exit_code == 0, r.output
    assert "━" not in r.stderr and "dynamic cascade" in r.stdout


def test_progress_bar_shows_on_a_terminal(monkeypatch) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    err = Tty()
    monkeypatch.setattr(sys, "stderr", err)
    assert _common.progress_enabled()
    with _common.progress("stage", total=2) as bar:
        bar(1, description="one")
        bar(2)
    _common.configure_logging(0, quiet=True)
    assert not _common.progress_enabled()  # -q turns bars off
