"""Benchmark: dynamic cascade, 1M positions over 3,600 one-second steps (target < 10 s).

Run: .venv/bin/python benchmarks/bench_dynamic.py [--positions N] [--steps S] [--venues 1|3]

The book is synthetic (seeded): isolated positions, leverage 2-50x, entries around 100,000 on
Binance / Hyperliquid / dYdX (or Binance only), all three liquidation processes; the exogenous
path is a -8% crash over the first minute followed by a seeded random walk (0.05%/s), so
liquidations, partial liquidations, vault takeovers and ADL happen throughout the hour. Prints the
wall and CPU time of the run (numba kernels compiled/cached beforehand by a small warm-up run).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from liqcascade.engine.dynamic import DynamicConfig, PositionArrays, simulate
from liqcascade.impact import LinearImpact
from liqcascade.margin import PositionsAtRate


def make_book(n: int, venues: tuple[str, ...], seed: int = 7) -> PositionArrays:
    rng = np.random.default_rng(seed)
    side = np.where(rng.random(n) < 0.55, 1, -1).astype(np.int8)
    entry = 100_000.0 * np.exp(rng.normal(0.0, 0.03, n))
    size = np.exp(rng.normal(-3.0, 1.5, n))  # median ~0.05 BTC, fat tail
    lev = rng.uniform(2.0, 50.0, n)
    return PositionArrays.isolated(
        PositionsAtRate(
            side=side, size_base=size, entry_price=entry, margin_quote=size * entry / lev, mmr=0.005
        ),
        venue_code=rng.integers(0, len(venues), n),
        venues=venues,
        account_id=np.arange(n),
    )


def make_path(steps: int, seed: int = 11) -> np.ndarray:
    rng = np.random.default_rng(seed)
    path = rng.normal(0.0, 0.0005, steps)
    path[:60] += np.log(0.92) / 60.0
    return np.expm1(path)


def run(n: int, steps: int, nvenues: int) -> tuple[float, float, dict]:
    venues = ("binance_usdm", "hyperliquid", "dydx_v4")[:nvenues]
    book = make_book(n, venues)
    cfg = DynamicConfig(
        steps=steps,
        seed=1,
        stress_beta=2.0,
        venues={
            "binance_usdm": {"insurance_fund_quote": 5e6},
            "hyperliquid": {"vault_capital_quote": 5e6},
            "dydx_v4": {"insurance_fund_quote": 1e6},
        },
    )
    impact = LinearImpact(depth_1pct_base=max(50.0, n / 2000.0))
    path = make_path(steps)
    t0, c0 = time.perf_counter(), time.process_time()
    res = simulate(book, impact, path, cfg, initial_price=100_000.0)
    return time.perf_counter() - t0, time.process_time() - c0, res.summary()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--positions", type=int, default=1_000_000)
    ap.add_argument("--steps", type=int, default=3600)
    ap.add_argument("--venues", type=int, default=3, choices=(1, 2, 3))
    a = ap.parse_args()
    run(2_000, 120, a.venues)  # warm-up: load/compile the numba kernels
    wall, cpu, s = run(a.positions, a.steps, a.venues)
    print(
        f"dynamic: {a.positions:,} positions, {a.steps:,} steps, {a.venues} venue(s): wall {wall:.2f} s, "
        f"cpu {cpu:.2f} s ({wall / a.steps * 1e3:.2f} ms/step wall); liquidated {s['liquidated_count']:,} positions, "
        f"{s['liquidated_notional_fill'] / 1e9:.3f} B quote; ADL {s['adl_notional_total'] / 1e6:.1f} M; "
        f"final price {s['final_price']:,.0f}; conservation residual {s['conservation_residual']:.3e} "
        f"of {s['notional_involved']:.3e} involved"
    )


if __name__ == "__main__":
    main()
