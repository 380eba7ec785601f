"""Replay of 10 Oct 2025 on the shipped files (store ingested from a small real slice)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from liqcascade.errors import ConfigError
from liqcascade.replay import (
    ReplayParams,
    depth_series,
    load_event,
    load_frames,
    observe,
    run_replay,
    write_report,
)

SAMPLE = Path(str(resources.files("liqcascade") / "sample_data"))


@pytest.fixture(scope="module")
def frames(tmp_path_factory: pytest.TempPathFactory):
    from liqcascade.data import Store, ingest_paths

    db = tmp_path_factory.mktemp("replay") / "t.duckdb"
    files = [
        SAMPLE / "binance/um/klines/BTCUSDT-1m-2025-10-10.csv",
        SAMPLE / "binance/um/bookDepth/BTCUSDT-bookDepth-2025-10-10.csv",
    ]
    rep = ingest_paths([str(f) for f in files], db=str(db))
    assert rep.ok
    ev = load_event("2025-10-10")
    with Store(db, read_only=True) as s:
        return load_frames(
            s, "binance_usdm", "BTCUSDT", ev.news_ms - 6 * 3_600_000, ev.window_end_ms
        )


def test_event_file_has_sources() -> None:
    ev = load_event("2025-10-10")
    assert ev.reported and all(r["source"].startswith("http") for r in ev.reported)
    assert ev.open_interest["BTCUSDT"]["value_base"] > 0


def test_observed_side_read_from_data(frames) -> None:
    ev = load_event("2025-10-10")
    o = observe(frames, ev)
    k = frames.klines
    win = k.filter((k["open_time_ms"] >= ev.news_ms) & (k["open_time_ms"] < ev.window_end_ms))
    assert o.low_price == win["low"].min()
    assert o.low_price < o.pre_price
    assert o.depth_decline_frac is not None and -1 < o.depth_decline_frac < 0
    ds = depth_series(frames.book_depth)
    assert ds.repaired.any() and not ds.repaired.all()  # stale bids after ~18:00 only


def test_replay_runs_and_compares(frames, tmp_path: Path) -> None:
    ev = load_event("2025-10-10")
    prm = ReplayParams(
        depth_scale=0.6,
        stress_beta=200.0,
        stress_floor=0.15,
        resilience_half_life_s=300.0,
        permanent_frac=0.3,
    )
    r = run_replay(frames, ev, params=prm, fit_info={"fitted_on": "test"}, lookback_hours=6)
    liq = r.model.liq_long_quote.sum() + r.model.liq_short_quote.sum()
    assert r.model.price.min() < r.observed.pre_price
    metrics = r.table["metric"].to_list()
    assert "price low" in metrics and "depth decline within 1%" in metrics
    assert any(m.startswith("liquidated vs") for m in metrics)
    # every long liquidated is a cohort crossed by the model path
    crossed = r.liq_map.cohorts.filter(
        (r.liq_map.cohorts["side"] == 1)
        & (r.liq_map.cohorts["liquidation_price"] >= r.model.price.min())
    )
    assert liq <= (crossed["size_base"].sum() * r.observed.pre_price) * 1.0001
    out = write_report(r, tmp_path / "r.html")
    text = out.read_text()
    assert len(text) > 1_000_000 and '<script src="http' not in text  # plotly inlined, no CDN


def test_bad_params_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="permanent_frac"):
        ReplayParams(permanent_frac=1.5)
    bad = tmp_path / "e.toml"
    bad.write_text('schema = "liqcascade.event/1"\ndate = "x"\nfoo = 1\n')
    with pytest.raises(ConfigError, match="unknown key"):
        load_event(bad)
