"""Replay on a day without an event file or bookDepth (10-11 Oct 2025 BTCUSDT klines)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from liqcascade.impact import SqrtImpact
from liqcascade.replay import (
    ReplayParams,
    load_event,
    load_frames,
    plain_day_event,
    run_replay,
    sqrt_impact_from_klines,
)

SAMPLE = Path(str(resources.files("liqcascade") / "sample_data"))


@pytest.fixture(scope="module")
def store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from liqcascade.data import ingest_paths

    db = tmp_path_factory.mktemp("plain") / "t.duckdb"
    files = [SAMPLE / f"binance/um/klines/BTCUSDT-1m-2025-10-{d}.csv" for d in ("10", "11")]
    assert ingest_paths([str(f) for f in files], db=str(db)).ok
    return db


def test_plain_day_rule_and_sqrt_fallback(store_path: Path) -> None:
    from liqcascade.data import Store

    ref = load_event("2025-10-10")
    day0 = 1760140800000  # 2025-10-11 00:00 UTC
    with Store(store_path, read_only=True) as s:
        probe = load_frames(s, "binance_usdm", "BTCUSDT", day0 - 86_400_000, day0 + 86_400_000)
        ev = plain_day_event("2025-10-11", probe.klines, "binance_usdm", "BTCUSDT", ref)
        k = probe.klines.filter(pl.col("open_time_ms") >= day0)
        net = (k["volume_base"] - 2 * k["taker_buy_volume_base"]).to_numpy()
        assert ev.news_ms == int(k["open_time_ms"][int(np.argmax(net))])
        assert ev.window_end_ms - ev.news_ms == ref.window_end_ms - ref.news_ms
        frames = load_frames(
            s, "binance_usdm", "BTCUSDT", ev.news_ms - 12 * 3_600_000, ev.window_end_ms
        )
    imp = sqrt_impact_from_klines(frames.klines, ev.news_ms, 1.0)
    assert isinstance(imp, SqrtImpact) and imp.adv_base > 0 and 0 < imp.sigma_daily < 1
    prm = ReplayParams(
        depth_scale=1.0, stress_beta=100.0, stress_floor=0.3, resilience_half_life_s=300.0
    )
    r = run_replay(
        frames, ev, params=prm, fit_info={"open_interest_to_volume": 0.2}, lookback_hours=12
    )
    assert r.inputs["impact"]["model"].startswith("square-root law (no bookDepth")
    assert r.observed.depth_decline_frac is None
    oi = r.liq_map.totals["size_base"].to_list()
    assert oi[0] == pytest.approx(r.inputs["open_interest"]["value_base"])
    # a day without a stated open interest and no fitted ratio is refused with a clear message
    with pytest.raises(Exception, match="open-interest"):
        run_replay(frames, ev, params=prm, fit_info={}, lookback_hours=12)
