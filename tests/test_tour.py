"""examples/tour.py (jupytext percent format) runs from a clean directory and writes numbers."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

ROOT = Path(__file__).resolve().parents[1]
TOUR = ROOT / "examples" / "tour.py"


def test_tour_is_percent_format():
    text = TOUR.read_text(encoding="utf-8")
    assert "format_name: percent" in text
    cells = re.findall(r"^# %%( \[markdown\])?$", text, flags=re.M)
    code = [c for c in cells if not c]
    assert len(cells) >= 10 and len(code) >= 5
    # only the public API: no private modules, no reaching into the checkout
    assert not re.search(r"from liqcascade\S*\._|import liqcascade\S*\._", text)
    assert "tests/" not in text and "parents[" not in text


@pytest.fixture(scope="module")
def tour_output(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("tour")
    env = dict(os.environ, LIQCASCADE_DB=str(work / "store.duckdb"), MPLBACKEND="Agg")
    env["XDG_DATA_HOME"] = str(work / "xdg")
    proc = subprocess.run(
        [sys.executable, str(TOUR)], cwd=work, env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return work / "tour-output"


def test_tour_writes_its_outputs(tour_output):
    names = {p.name for p in tour_output.iterdir()}
    assert {
        "ccxt_positions.json",
        "ladder.csv",
        "stress.parquet",
        "summary.json",
        "tour.html",
    } <= names


def test_tour_cascade_numbers(tour_output):
    positions = json.loads((tour_output / "ccxt_positions.json").read_text())
    assert all(isinstance(k, str) for k in positions) and "0xabc123" in positions
    ladder = pl.read_csv(tour_output / "ladder.csv").sort("shock")
    assert ladder.height >= 10
    liq = ladder["liquidated_notional"].to_numpy()
    assert all(math.isfinite(v) and v >= 0 for v in liq)
    # a bigger fall never liquidates less
    assert all(a >= b for a, b in zip(liq[:-1], liq[1:], strict=True))
    assert liq[0] > 0
    s = json.loads((tour_output / "summary.json").read_text())
    shock = s["shock_4pct"]
    assert shock["final_price"] <= shock["shocked_price"] < shock["initial_price"]
    assert shock["liquidated_notional"] > 0
    # account ids come back as the exchange gave them
    assert set(s["accounts_liquidated_at_4pct"]) <= set(positions)
    assert s["accounts_liquidated_at_4pct"]


def test_tour_stress_tail_numbers(tour_output):
    s = json.loads((tour_output / "summary.json").read_text())
    tail = s["stress_tail"]
    assert all(math.isfinite(v) for v in tail.values())
    assert tail["liq_notional_quote.q99"] >= tail["liq_notional_quote.q95"] > 0
    # drawdowns are signed: the worst 1 % of falls lies below the worst 5 %
    assert tail["max_drawdown.q1"] <= tail["max_drawdown.q5"] < 0
    paths = pl.read_parquet(tour_output / "stress.parquet")
    assert paths.height == s["stress_paths"] > 0
    share_beyond = (paths["liq_notional_quote"] >= tail["liq_notional_quote.q95"]).mean()
    assert 0.02 <= share_beyond <= 0.08


def test_tour_page_holds_three_figures(tour_output):
    html = (tour_output / "tour.html").read_text(encoding="utf-8")
    assert html.count("Plotly.newPlot") == 3
    assert "Static cascade ladder" in html
    assert not re.search(r"<script[^>]*\bsrc=", html)  # self-contained: plotly.js inlined
