"""`liqcascade map` and `liqcascade replay` command lines on a small real slice."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from typer.testing import CliRunner

from liqcascade.cli import app

SAMPLE = Path(str(resources.files("liqcascade") / "sample_data"))


def test_map_cli_writes_png_and_html(tmp_path: Path) -> None:
    from liqcascade.data import ingest_paths

    db = tmp_path / "m.duckdb"
    assert ingest_paths(
        [str(SAMPLE / "binance/um/klines/BTCUSDT-1m-2025-10-10.csv")], db=str(db)
    ).ok
    out = tmp_path / "map"
    r = CliRunner().invoke(
        app,
        [
            "map",
            "--venue",
            "binance_usdm",
            "--symbol",
            "BTCUSDT",
            "--at",
            "2025-10-10T20:50",
            "--oi-base",
            "100243",
            "--lookback-hours",
            "6",
            "--db",
            str(db),
            "--out",
            str(out),
        ],
    )
    assert r.exit_code == 0, r.output
    assert "Densest liquidation levels" in r.output and "Sensitivity" in r.output
    assert (tmp_path / "map.png").stat().st_size > 10_000
    html = (tmp_path / "map.html").read_text()
    assert '<script src="http' not in html


def test_map_cli_without_open_interest_fails_clearly(tmp_path: Path) -> None:
    from liqcascade.data import ingest_paths

    db = tmp_path / "m.duckdb"
    assert ingest_paths(
        [str(SAMPLE / "binance/um/klines/BTCUSDT-1m-2025-10-10.csv")], db=str(db)
    ).ok
    r = CliRunner().invoke(
        app,
        [
            "map",
            "--venue",
            "binance_usdm",
            "--symbol",
            "BTCUSDT",
            "--at",
            "2025-10-10T20:50",
            "--db",
            str(db),
        ],
    )
    assert r.exit_code != 0
    assert "--oi-base" in str(r.exception) or "--oi-base" in r.output


def test_replay_cli_unknown_data_dir(tmp_path: Path) -> None:
    r = CliRunner().invoke(
        app, ["replay", "--data", str(tmp_path / "nope"), "--db", str(tmp_path / "x.duckdb")]
    )
    assert r.exit_code != 0
    assert "no such file" in str(r.exception) + r.output
