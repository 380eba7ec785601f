"""Every result object offers ``.to_polars()`` (its main table, with the documented columns) and
``.plot()`` (a plotly figure with at least one trace), on small real runs."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import polars as pl
import pytest

go = pytest.importorskip("plotly.graph_objects", reason="the plot extra is not installed")

from liqcascade.errors import InputError  # noqa: E402
from liqcascade.plotting import figure_json  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = Path(str(resources.files("liqcascade") / "sample_data"))
KLINES = SAMPLE / "binance/um/klines"
DAY = KLINES / "BTCUSDT-1m-2025-10-10.csv"
WINDOW = KLINES / "BTCUSDT-1m-2025-11-18T0000-0600.csv"

BOOK = """account_id,venue,symbol,side,size_base,entry_price,leverage
1,binance_usdm,BTCUSDT,long,2,100000,20
2,binance_usdm,BTCUSDT,long,1,101000,50
3,binance_usdm,BTCUSDT,short,3,99000,10
4,binance_usdm,BTCUSDT,long,5,99500,25
5,binance_usdm,BTCUSDT,short,1,100500,5
"""


def _check(frame: pl.DataFrame, columns: list[str], fig: object) -> dict:
    """The frame has the columns and rows; the figure is plotly with traces and its JSON holds
    plain lists (no base64 arrays a page could not read)."""
    assert isinstance(frame, pl.DataFrame)
    assert frame.height > 0
    missing = [c for c in columns if c not in frame.columns]
    assert not missing, (missing, frame.columns)
    assert isinstance(fig, go.Figure)
    assert len(fig.data) >= 1
    doc = figure_json(fig)
    assert "bdata" not in str(doc["data"])
    return doc


@pytest.fixture(scope="module")
def book_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("book") / "pos.csv"
    p.write_text(BOOK)
    return p


def test_static_cascade_result(book_file: Path) -> None:
    from liqcascade.book import PositionBook
    from liqcascade.engine.static import RESULT_KEYS, solve_static
    from liqcascade.impact import parse_impact

    res = solve_static(
        PositionBook.from_file(book_file), 100_000.0, -0.03, parse_impact("linear:5")
    )
    df = res.to_polars()
    doc = _check(df, list(RESULT_KEYS), res.plot())
    assert df.height == 1
    assert df["final_price"][0] == res.final_price
    assert doc["data"][0]["y"] == [res.initial_price, res.shocked_price, res.final_price]


def test_dynamic_result(book_file: Path) -> None:
    from liqcascade.book import PositionBook
    from liqcascade.engine.dynamic import DynamicConfig, simulate
    from liqcascade.impact import parse_impact

    res = simulate(
        PositionBook.from_file(book_file),
        parse_impact("linear:5"),
        -0.03,
        DynamicConfig.from_dict({"seed": 3, "quiet_stop_s": 60.0}),
        initial_price=100_000.0,
    )
    df = res.to_polars()
    doc = _check(
        df,
        [
            "step",
            "time_s",
            "venue",
            "price",
            "liquidated_notional_long",
            "liquidated_notional_short",
        ],
        res.plot(),
    )
    prices = [t for t in doc["data"] if t["type"] == "scatter"]
    assert prices[0]["y"] == df.filter(pl.col("venue") == prices[0]["name"])["price"].to_list()
    bars = [t for t in doc["data"] if t["type"] == "bar"]
    total = sum(sum(v or 0.0 for v in t["y"]) for t in bars)
    expected = float(df["liquidated_notional_long"].sum() + df["liquidated_notional_short"].sum())
    assert total == pytest.approx(expected)
    # the loss identity by venue: one bar trace per term, the losses frame's values
    losses = figure_json(res.plot("losses"))
    by_term = {t["name"]: t["y"] for t in losses["data"]}
    for term, values in by_term.items():
        assert values == pytest.approx(res.losses[term].to_list(), abs=1e-9), term
    assert "trader_pnl" in by_term and "bad_debt" in by_term
    with pytest.raises(InputError, match="kind 'nope'"):
        res.plot("nope")


def test_cascade_ladder(book_file: Path) -> None:
    from liqcascade.book import PositionBook
    from liqcascade.engine.static import CascadeLadder, StaticCascade
    from liqcascade.impact import parse_impact

    idx = StaticCascade(PositionBook.from_file(book_file), parse_impact("linear:5"))
    lad = CascadeLadder(idx.ladder([-0.01, -0.03, -0.05], 100_000.0), label="book, linear:5")
    assert lad.to_polars()["shock"].to_list() == [-0.01, -0.03, -0.05]
    price = figure_json(lad.plot("price"))
    assert price["data"][0]["y"] == lad.frame["final_price"].to_list()
    assert "linear:5" in price["layout"]["title"]["text"]
    liq = figure_json(lad.plot("liquidations"))
    assert liq["data"][0]["y"] == lad.frame["liquidated_notional"].to_list()
    assert liq["data"][1]["yaxis"] == "y2"
    with pytest.raises(InputError, match="kind 'bars'"):
        lad.plot("bars")


def test_stress_result() -> None:
    from liqcascade import sweep
    from liqcascade.scenarios.schema import load_scenario

    sc = load_scenario(ROOT / "examples" / "stress_btc_crash.toml")
    res = sweep.run_stress(sc, paths=4, seed=1, workers=0)
    df = res.to_polars()
    doc = _check(df, ["path", "liq_notional_quote", "bad_debt_quote", "seed"], res.plot())
    assert df.height == 4
    assert doc["data"][0]["x"] == pytest.approx(df["liq_notional_quote"].to_list())
    with pytest.raises(InputError, match="not a column"):
        res.plot("no_such_metric")


def test_policy_result(tmp_path: Path) -> None:
    from liqcascade import policy

    sc = (ROOT / "examples" / "policy_scenario_crash.toml").read_text()
    sc = sc.replace("n_positions = 10000", "n_positions = 500")
    sc = sc.replace("horizon_s = 1800.0", "horizon_s = 300.0")
    (tmp_path / "sc.toml").write_text(sc)
    lab_file = tmp_path / "lab.toml"
    lab_file.write_text(
        '[policy]\nscenario = "sc.toml"\npaths = 2\nseed = 5\ndt_s = 10.0\ntail_s = 60.0\n'
        '[[variants]]\nname = "cap 20x"\nmax_leverage = 20\n'
    )
    res = policy.run_policy(policy.load_policy(lab_file))
    df = res.to_polars()
    doc = _check(
        df,
        ["variant", "liquidated_notional_quote", "bad_debt_quote", "bad_debt_quote_ci_low", "seed"],
        res.plot("liquidated_notional_quote"),
    )
    assert df["variant"].to_list() == ["baseline", "cap 20x"]
    bar = doc["data"][0]
    assert bar["y"] == pytest.approx(df["liquidated_notional_quote"].to_list())
    hi = df["liquidated_notional_quote_ci_high"].to_numpy() - df["liquidated_notional_quote"]
    assert bar["error_y"]["array"] == pytest.approx(hi.to_list())


def test_calibration_result() -> None:
    from liqcascade.calibrate import FIT_NAMES, calibrate_files

    res = calibrate_files([WINDOW], n_boot=2)
    df = res.to_polars()
    doc = _check(df, ["param", "value", "stderr", "identified"], res.plot())
    assert df["param"].to_list() == list(FIT_NAMES)
    assert len(doc["data"]) == len(FIT_NAMES)
    assert doc["data"][0]["y"] == [pytest.approx(df["value"][0])]


def test_validation_result(tmp_path: Path) -> None:
    from liqcascade.validate import FORECAST_COLUMNS, validate_files

    lines = WINDOW.read_text().splitlines()
    short = tmp_path / WINDOW.name
    short.write_text("\n".join(lines[:181]) + "\n")
    res = validate_files([short], n_paths=50, seed=2, out_dir=tmp_path / "out")
    df = res.to_polars()
    doc = _check(df, ["file", *FORECAST_COLUMNS, "future_low"], res.plot())
    assert set(df["file"].to_list()) == {res.files[0].file}
    closes = next(t for t in doc["data"] if t["name"] == "close")["y"]
    assert closes == pytest.approx(df["close"].to_list())
    with pytest.raises(InputError, match="no forecast"):
        res.plot(file="not-a-file.csv")


@pytest.fixture(scope="module")
def bars() -> pl.DataFrame:
    # a small real slice: 18:00-20:50 UTC of 10 Oct 2025, before the crash
    df = pl.read_csv(DAY)
    return df.filter(pl.col("open_time").is_between(1760119200000, 1760129340000))


def test_liquidation_map(bars: pl.DataFrame) -> None:
    from liqcascade.estimate import estimate_map, maps_figure

    m = estimate_map(
        bars, venue="binance_usdm", symbol="BTCUSDT", at="2025-10-10T20:50", open_interest_base=1e3
    )
    df = m.to_polars()
    doc = _check(df, ["price_level", "side", "venue", "size_base", "notional_quote"], m.plot())
    # longs are drawn below zero, shorts above, in $M; together they hold the whole map
    longs = sum(doc["data"][0]["y"])
    shorts = sum(doc["data"][1]["y"])
    assert longs < 0 < shorts
    total = float(df["notional_quote"].sum()) / 1e6
    assert shorts - longs == pytest.approx(total)
    with pytest.raises(InputError):
        maps_figure([])


def test_map_snapshots(bars: pl.DataFrame) -> None:
    from liqcascade.estimate import map_snapshots, snapshot_times

    times = snapshot_times("2025-10-10T20:00", "2025-10-10T20:50", 3)
    assert times[-1] - times[0] == 50 * 60_000 and len(times) == 3
    snap = map_snapshots(
        bars, venue="binance_usdm", symbol="BTCUSDT", times_ms=times, lookback_hours=2
    )
    df = snap.to_polars()
    doc = _check(df, ["time", "price_level", "notional_quote"], snap.plot())
    assert df.height == len(times) * len(snap.price_levels)
    heat = doc["data"][0]
    assert heat["type"] == "heatmap" and heat["x"] == snap.times
    last = df.filter(pl.col("time") == snap.times[-1])["notional_quote"].sum()
    assert last == pytest.approx(snap.long_notional_quote[-1] + snap.short_notional_quote[-1])
    assert sum(row[-1] for row in heat["z"]) == pytest.approx(last)
    with pytest.raises(InputError, match="prior"):
        map_snapshots(bars, venue="binance_usdm", symbol="BTCUSDT", times_ms=times, prior="nope")


def test_ensemble_and_model_comparison() -> None:
    from liqcascade import risk
    from liqcascade.forecast import compare_models

    last_close = float(pl.read_csv(WINDOW)["close"][-1])
    liq = last_close * 0.97
    cmp = compare_models(
        WINDOW, last_close, liq, "long", 0.25, ensemble_paths=200, jump_paths=2000, seed=3
    )
    df = cmp.to_polars()
    doc = _check(df, ["model", "label", "probability", "standard_error", "vol_annual"], cmp.plot())
    assert df["model"].to_list() == ["ensemble", "ensemble_impact_only", "gbm", "jump"]
    assert doc["data"][0]["y"] == pytest.approx(df["probability"].to_list())
    # the GBM row is the closed form at the volatility fitted to the same file
    fit = risk.fit_from_klines(WINDOW, jumps=False)
    gbm = risk.prob_liquidation(last_close, liq, "long", fit.model.vol_annual, 0.25)
    assert df.filter(pl.col("model") == "gbm")["probability"][0] == gbm.probability
    ens = cmp.ensemble
    edf = ens.to_polars()
    _check(edf, ["variant", "probability", "standard_error"], ens.plot())
    assert edf["probability"].to_list() == [ens.probability, ens.probability_impact_only]
    assert edf["standard_error"][0] == pytest.approx(ens.stderr)
    with pytest.raises(InputError, match="horizon_days"):
        compare_models(WINDOW, last_close, liq, "long", 60.0, ensemble_paths=100)


def test_replay_result(tmp_path: Path) -> None:
    from liqcascade.data import Store, ingest_paths
    from liqcascade.replay import ReplayParams, load_event, load_frames, run_replay, write_report

    db = tmp_path / "t.duckdb"
    files = [DAY, SAMPLE / "binance/um/bookDepth/BTCUSDT-bookDepth-2025-10-10.csv"]
    assert ingest_paths([str(f) for f in files], db=str(db)).ok
    ev = load_event("2025-10-10")
    with Store(db, read_only=True) as s:
        frames = load_frames(
            s, "binance_usdm", "BTCUSDT", ev.news_ms - 6 * 3_600_000, ev.window_end_ms
        )
    prm = ReplayParams(
        depth_scale=0.6,
        stress_beta=200.0,
        stress_floor=0.15,
        resilience_half_life_s=300.0,
        permanent_frac=0.3,
    )
    r = run_replay(frames, ev, params=prm, fit_info={}, lookback_hours=6)
    df = r.to_polars()
    doc = _check(df, ["metric", "model", "observed", "unit", "source"], r.plot())
    model = next(t for t in doc["data"] if t["name"] == "model")
    assert model["y"] == pytest.approx(r.model.price.tolist())
    # the HTML report embeds the same figure
    html = write_report(r, tmp_path / "replay.html").read_text()
    assert "observed close (1m)" in html and "model depth factor" in html


def test_figure_json_turns_typed_arrays_into_lists() -> None:
    fig = go.Figure(
        [
            go.Bar(x=[1, 2], y=np.array([np.nan, 2.0])),
            go.Heatmap(z=np.arange(6.0).reshape(2, 3)),
        ]
    )
    doc = figure_json(fig)
    assert doc["data"][0]["y"] == [None, 2.0]
    assert doc["data"][1]["z"] == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
