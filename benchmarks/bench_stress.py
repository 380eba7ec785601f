"""Stress-test throughput: 10,000 Monte Carlo paths over a 1,000,000-position book.

Run: ``.venv/bin/python benchmarks/bench_stress.py [--positions N] [--paths N] [--quick]``

Prints (figures, no asserts):
1. time to prepare the runner (synthetic population of N positions, venue rules, index);
2. N paths of random instant jumps (-15 %..+5 %) on a local pool of 2 processes, with and
   without process start-up, and in process for reference;
3. the same paths on a Dask LocalCluster with 1 and with 2 workers, and the scaling
   efficiency T1 / (2 T2);
4. a 60-step GARCH path scenario (fitted on the shipped klines) with all behaviours, in process.
"""

from __future__ import annotations

import argparse
import copy
import os
import time

from liqcascade.scenarios.schema import parse_scenario
from liqcascade.sweep import prepare, run_stress

BASE = {
    "scenario": {"name": "bench-1m"},
    "venues": [
        {
            "name": "binance_usdm",
            "symbol": "BTCUSDT",
            "impact": "linear:3000",
            "share": 0.6,
            "insurance_fund_quote": 1e9,
        },
        {
            "name": "hyperliquid",
            "symbol": "BTC",
            "impact": "linear:800",
            "share": 0.4,
            "insurance_fund_quote": 5e7,
        },
    ],
    "book": {"source": "synthetic", "n_positions": 1_000_000, "history_end": "2025-10-10T20:50:00"},
    "shock": {"kind": "jump", "size_range": [-0.15, 0.05]},
    "behaviours": {
        "dip_buying": {"levels": [-0.08], "notional_quote": [3e8]},
        "arbitrage": {"linkage": 0.7},
    },
}


def timed(label: str, fn):
    t = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t
    print(f"{label:<58s} {dt:8.2f} s", flush=True)
    return out, dt


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--positions", type=int, default=1_000_000)
    ap.add_argument("--paths", type=int, default=10_000)
    ap.add_argument("--quick", action="store_true", help="100k positions, 2,000 paths")
    a = ap.parse_args()
    if a.quick:
        a.positions, a.paths = 100_000, 2_000
    raw = copy.deepcopy(BASE)
    raw["book"]["n_positions"] = a.positions
    print(f"machine: {os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}", flush=True)
    runner, _ = timed(
        f"prepare: population of {a.positions:,} + index",
        lambda: prepare(parse_scenario(raw), seed=1),
    )
    print(
        f"  positions kept {runner.meta['n_positions']:,}; index {runner.index.size.nbytes * 7 / 1e6:.0f} MB"
    )
    n = a.paths
    ref, t_inline = timed(
        f"{n:,} jump paths, in process (1 core)", lambda: run_stress(runner, paths=n, workers=0)
    )
    res2, t_local = timed(
        f"{n:,} jump paths, local pool 2 processes (incl. start-up)",
        lambda: run_stress(runner, paths=n, workers=2),
    )
    print(f"  identical to in-process: {res2.paths.equals(ref.paths)}; {n / t_local:,.0f} paths/s")
    d1, t_d1 = timed(
        f"{n:,} jump paths, Dask LocalCluster 1 worker",
        lambda: run_stress(runner, paths=n, dask_local=1),
    )
    d2, t_d2 = timed(
        f"{n:,} jump paths, Dask LocalCluster 2 workers",
        lambda: run_stress(runner, paths=n, dask_local=2),
    )
    print(
        f"  Dask identical to in-process: {d1.paths.equals(ref.paths) and d2.paths.equals(ref.paths)}"
    )
    print(
        f"  Dask scaling 1 -> 2 workers: speed-up {t_d1 / t_d2:.2f}x, efficiency {t_d1 / (2 * t_d2):.0%}"
    )
    # the same on clusters started beforehand: scatter of the runner + compute, no cluster start
    from dask.distributed import LocalCluster

    warm = {}
    for k in (1, 2):
        with LocalCluster(
            n_workers=k,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=40,
        ) as cl:
            run_stress(runner, paths=200, scheduler=cl.scheduler_address)  # imports, kernel load
            _, warm[k] = timed(
                f"{n:,} jump paths, running Dask cluster of {k} (scatter + compute)",
                lambda cl=cl: run_stress(runner, paths=n, scheduler=cl.scheduler_address),
            )
    print(
        f"  Dask scaling on running clusters: speed-up {warm[1] / warm[2]:.2f}x, "
        f"efficiency {warm[1] / (2 * warm[2]):.0%}"
    )
    s = ref.summary
    lar = s.filter((s["metric"] == "liq_notional_quote") & (s["stat"] == "LaR99"))["value"][0]
    print(f"  LaR99 (liquidated notional) = {lar / 1e9:.3f}B quote")
    g = copy.deepcopy(raw)
    g["book"]["n_positions"] = min(a.positions, 200_000)
    g["shock"] = {"kind": "garch", "horizon_s": 3600, "step_s": 60}
    g["behaviours"] = {
        "retail_deleverage": {},
        "dip_buying": {"levels": [-0.08], "notional_quote": [3e8]},
        "mm_withdrawal": {},
        "arbitrage": {"linkage": 0.7},
    }
    gr, _ = timed(
        f"prepare: GARCH fit + population {g['book']['n_positions']:,}",
        lambda: prepare(parse_scenario(g), seed=1),
    )
    m = 2000
    timed(
        f"{m:,} GARCH paths x 60 steps, all behaviours, in process",
        lambda: run_stress(gr, paths=m, workers=0),
    )


if __name__ == "__main__":
    main()
