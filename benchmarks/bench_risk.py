"""Benchmark the trader risk tools, the systemic indicators and the policy lab.

Run: .venv/bin/python benchmarks/bench_risk.py [--quick]
Prints wall-clock figures (the machine may be shared: figures are noisy; no asserts).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from liqcascade import metrics, policy, risk
from liqcascade.engine.static import StaticCascade
from liqcascade.impact import LinearImpact
from liqcascade.venues import load_venue

ROOT = Path(__file__).resolve().parents[1]


def timed(label: str, fn, repeat: int = 3):
    best = float("inf")
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    print(f"{label:70s} {best * 1e3:10.1f} ms (best of {repeat})")
    return out, best


def main(quick: bool) -> None:
    rng = np.random.default_rng(0)
    n = 1_000_000
    c = -rng.uniform(0.001, 0.5, n)
    _, t = timed(
        f"GBM closed form, {n:,} barriers (vectorised prob_hit_gbm)",
        lambda: risk.prob_hit_gbm(c, -0.18, 0.6, 7 / 365),
    )
    print(f"{'':70s} {n / t / 1e6:10.2f} M probabilities/s")
    paths = 20_000 if quick else 100_000
    r, t = timed(
        f"jump-diffusion MC, {paths:,} paths x 168 steps (7 days)",
        lambda: risk.prob_liquidation(
            100_000,
            90_000,
            1,
            0.6,
            7,
            model="jump",
            n_paths=paths,
            jump_intensity_annual=20,
            jump_mean_log=-0.05,
            jump_std_log=0.05,
        ),
        repeat=2,
    )
    print(
        f"{'':70s} {paths * 168 / t / 1e6:10.2f} M path-steps/s  (p={r.probability:.4f} "
        f"[{r.ci_low:.4f}, {r.ci_high:.4f}])"
    )
    rules = load_venue("binance_usdm", "BTCUSDT")
    timed(
        "safe_size, GBM (two brentq solves on the venue formula)",
        lambda: risk.safe_size(rules, "long", 100_000, 1_000, 0.05, vol_annual=0.6, horizon_days=7),
    )
    timed(
        f"safe_size, jump model ({paths:,} paths)",
        lambda: risk.safe_size(
            rules,
            "long",
            100_000,
            1_000,
            0.05,
            vol_annual=0.6,
            horizon_days=7,
            model="jump",
            n_paths=paths,
            jump=dict(jump_intensity_annual=20, jump_mean_log=-0.05, jump_std_log=0.05),
        ),
        repeat=1,
    )
    timed(
        f"stop_analysis, stop + hedge + cut ({paths:,} paths, 4 scenarios)",
        lambda: risk.stop_analysis(
            rules,
            "long",
            1,
            100_000,
            5_000,
            vol_annual=0.6,
            horizon_days=7,
            stop_price=97_000,
            hedge_ratio=0.5,
            n_paths=paths,
            jump=dict(jump_intensity_annual=30, jump_mean_log=-0.03, jump_std_log=0.04),
        ),
        repeat=1,
    )
    m = 200_000
    side = rng.choice(np.array([1, -1], dtype=np.int8), m)
    size = rng.lognormal(0, 1, m)
    liq = 100.0 * (1 - side * rng.uniform(0.002, 0.4, m))
    cas = StaticCascade(
        (side, size, liq), LinearImpact(depth_1pct_base=2_000.0), initial_price=100.0
    )
    timed(
        f"critical shock (ladder of 80 + bisection), {m:,} positions",
        lambda: metrics.critical_shock(cas, 100.0, -1),
    )
    lab = policy.load_policy(ROOT / "examples" / "policy_leverage_adl.toml")
    if quick:
        from dataclasses import replace

        lab = replace(lab, paths=1)
    t0 = time.perf_counter()
    res = policy.run_policy(lab)
    dt = time.perf_counter() - t0
    runs = res.runs.height
    print(
        f"{'policy example ' + lab.scenario.name + f' ({len(res.table)} variants x {lab.paths} paths)':70s} "
        f"{dt:10.1f} s total, {dt / runs:.2f} s per run, {res.meta['positions']:,} positions"
    )


if __name__ == "__main__":
    main("--quick" in sys.argv)
