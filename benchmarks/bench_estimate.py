"""Benchmark: liquidation map and replay on the shipped 10 Oct 2025 data. Prints figures.

Run: .venv/bin/python benchmarks/bench_estimate.py
"""

from __future__ import annotations

import tempfile
import time
from importlib import resources
from pathlib import Path

import polars as pl

from liqcascade.data import Store, ingest_paths
from liqcascade.estimate import estimate_map
from liqcascade.replay import (
    ReplayParams,
    _prepare,
    cohort_positions,
    fit_replay,
    load_event,
    load_frames,
    simulate_replay,
)

SAMPLE = Path(str(resources.files("liqcascade") / "sample_data"))


def timed(fn, repeat: int = 3) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "b.duckdb"
        t = time.perf_counter()
        ingest_paths([str(SAMPLE / "binance/um")], db=str(db))
        print(f"ingest binance/um sample: {time.perf_counter() - t:.2f} s")
        ev = load_event("2025-10-10")
        with Store(db, read_only=True) as s:
            frames = load_frames(
                s, "binance_usdm", "BTCUSDT", ev.news_ms - 168 * 3_600_000, ev.window_end_ms
            )
    bars = pl.concat(
        [
            frames.price_klines.filter(
                pl.col("open_time_ms") < int(frames.klines["open_time_ms"][0])
            ),
            frames.klines,
        ],
        how="vertical_relaxed",
    )
    for hours in (24.0, 168.0):
        sec, m = timed(
            lambda h=hours: estimate_map(
                bars,
                venue="binance_usdm",
                symbol="BTCUSDT",
                at=ev.news_ms,
                open_interest_base=100243.0,
                lookback_hours=h,
            )
        )
        print(
            f"estimate_map look-back {hours:.0f} h: {m.meta['bars']} bars, {m.cohorts.height} cohorts, "
            f"{m.levels.height} levels: {sec * 1000:.0f} ms (best of 3)"
        )
    lmap, obs, impact, _ = _prepare(frames, ev, "BTCUSDT", "default", None, None, 168.0, 1.0)
    pos = cohort_positions(lmap)
    prm = ReplayParams(
        depth_scale=1.2,
        stress_beta=290.0,
        stress_floor=0.2,
        resilience_half_life_s=2800.0,
        permanent_frac=0.39,
    )
    for step in (5.0, 1.0):
        p = ReplayParams(**{**prm.__dict__, "step_s": step})
        sec, m = timed(
            lambda p=p: simulate_replay(
                pos,
                pre_price=obs.pre_price,
                start_ms=ev.news_ms,
                end_ms=ev.window_end_ms,
                impulse_base=obs.impulse_base,
                impulse_minutes=1,
                impact=impact,
                params=p,
            )
        )
        print(
            f"engine run, {len(pos)} positions, {len(m.price)} steps of {step:g} s: {sec:.2f} s; "
            f"low {m.price.min():,.0f}"
        )
    t = time.perf_counter()
    best, info = fit_replay(frames, ev, "BTCUSDT")
    print(
        f"fit_replay (24 starts + <=80 Nelder-Mead evaluations): {time.perf_counter() - t:.1f} s, loss {info['loss']:.5f}"
    )


if __name__ == "__main__":
    main()
