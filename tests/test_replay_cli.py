"""`liqcascade map` and `liqcascade replay` command lines on a small real slice."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from typer.testing import CliRunner

from liqcascade.cli import app

SAMPLE = Path(str(resources.files("liqcascade") / "sample_data"))


def kline_store(db: Path) -> Path:
    """A store at ``db`` holding the shipped BTCUSDT 1m klines of 10 Oct 2025."""
    from liqcascade.data import ingest_paths

    assert ingest_paths(
        [str(SAMPLE / "binance/um/klines/BTCUSDT-1m-2025-10-10.csv")], db=str(db)
    ).ok
    return db


def btc_map(db: Path, *extra: str):
    """``liqcascade map`` of binance_usdm BTCUSDT at 2025-10-10T20:50 on the store ``db``."""
    args = ["map", "--venue", "binance_usdm", "--symbol", "BTCUSDT", "--at", "2025-10-10T20:50"]
    return CliRunner().invoke(app, [*args, "--db", str(db), *extra])


def test_map_cli_writes_png_and_html(tmp_path: Path) -> None:
    db = kline_store(tmp_path / "m.duckdb")
    out = tmp_path / "map"
    r = btc_map(db, "--oi-base", "100243", "--lookback-hours", "6", "--out", str(out))
    assert r.exit_code == 0, r.output
    assert "Densest liquidation levels" in r.output and "Sensitivity" in r.output
    assert (tmp_path / "map.png").stat().st_size > 10_000
    html = (tmp_path / "map.html").read_text()
    assert '<script src="http' not in html


def test_map_cli_without_open_interest_fails_clearly(tmp_path: Path) -> None:
    db = kline_store(tmp_path / "m.duckdb")
    r = btc_map(db)
    assert r.exit_code != 0
    assert "--oi-base" in str(r.exception) or "--oi-base" in r.output


def test_replay_cli_unknown_data_dir(tmp_path: Path) -> None:
    r = CliRunner().invoke(
        app, ["replay", "--data", str(tmp_path / "nope"), "--db", str(tmp_path / "x.duckdb")]
    )
    assert r.exit_code != 0
    assert "no such file" in str(r.exception) + r.output
