"""Summary statistics: Wilson and order-statistic intervals cover at their nominal rate."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from liqcascade.sweep import (
    PROBABILITIES,
    SUMMARY_METRICS,
    quantile_ci,
    summarize,
    wilson_interval,
)


def test_wilson_known_values() -> None:
    # Wilson (1927) 95 %: 0/10 -> [0, 0.2775]; 5/10 -> [0.2366, 0.7634]
    lo, hi = wilson_interval(0, 10)
    assert lo == 0.0 and hi == pytest.approx(0.27753, abs=1e-4)
    lo, hi = wilson_interval(5, 10)
    assert lo == pytest.approx(0.23659, abs=1e-4) and hi == pytest.approx(0.76341, abs=1e-4)
    assert wilson_interval(10, 10)[1] == 1.0
    assert all(math.isnan(v) for v in wilson_interval(0, 0))


def test_wilson_coverage() -> None:
    g = np.random.default_rng(1)
    p, n = 0.07, 200
    hits = 0
    for _ in range(2000):
        lo, hi = wilson_interval(int(g.binomial(n, p)), n)
        hits += lo <= p <= hi
    assert 0.93 <= hits / 2000 <= 0.975


def test_quantile_ci_coverage_and_order() -> None:
    g = np.random.default_rng(2)
    q, n = 0.95, 400
    true = -math.log(1 - q)  # exponential(1) quantile
    hits = 0
    for _ in range(600):
        v, lo, hi = quantile_ci(g.exponential(size=n), q)
        assert lo <= v <= hi
        hits += lo <= true <= hi
    assert hits / 600 >= 0.93


def test_summary_rows() -> None:
    g = np.random.default_rng(3)
    n = 500
    liq = g.lognormal(20, 1, n)
    df = pl.DataFrame(
        {
            "liq_notional_quote": liq,
            "liq_long_notional_quote": liq,
            "liq_short_notional_quote": np.zeros(n),
            "deficit_quote": np.maximum(g.normal(0, 1e6, n), 0),
            "bad_debt_quote": np.zeros(n),
            "insurance_used_quote": np.zeros(n),
            "adl_notional_quote": np.zeros(n),
            "final_drawdown": g.normal(-0.1, 0.02, n),
            "max_drawdown": g.normal(-0.12, 0.02, n),
            "cascade_multiplier": np.full(n, np.nan),
            "fund_exhausted": g.random(n) < 0.1,
            "adl_triggered": g.random(n) < 0.05,
            "deficit_positive": g.random(n) < 0.5,
            "bad_debt_positive": np.zeros(n, dtype=bool),
            "book_exhausted": np.zeros(n, dtype=bool),
        }
    )
    s = summarize(df)
    lar = s.filter((pl.col("metric") == "liq_notional_quote") & (pl.col("stat") == "LaR99"))
    assert lar["value"][0] == pytest.approx(np.quantile(liq, 0.99))
    assert lar["ci_low"][0] <= lar["value"][0] <= lar["ci_high"][0]
    pf = s.filter((pl.col("metric") == "fund_exhausted") & (pl.col("stat") == "probability"))
    assert pf["value"][0] == pytest.approx(df["fund_exhausted"].mean())
    mean = s.filter((pl.col("metric") == "final_drawdown") & (pl.col("stat") == "mean"))
    assert mean["ci_low"][0] < mean["value"][0] < mean["ci_high"][0]
    assert math.isnan(s.filter(pl.col("metric") == "cascade_multiplier")["value"][0])


def test_drawdown_quantiles_name_both_tails():
    # A drawdown is P/P0 - 1 (negative in a crash): its worst 5 % sits below q5, not above q95.
    g = np.random.default_rng(np.random.SeedSequence(11).spawn(1)[0])
    n = 4_000
    dd = g.normal(-0.1, 0.03, n)
    df = pl.DataFrame(
        {
            **{m: np.abs(g.normal(0, 1, n)) for m in SUMMARY_METRICS},
            "final_drawdown": dd,
            "max_drawdown": dd - 0.01,
            **{p: np.zeros(n, dtype=bool) for p in PROBABILITIES},
        }
    )
    s = summarize(df)
    stats = s.filter(pl.col("metric") == "final_drawdown")["stat"].to_list()
    assert stats == ["mean", "q1", "q5", "q50", "q95", "q99"]
    q5 = s.filter((pl.col("metric") == "final_drawdown") & (pl.col("stat") == "q5"))["value"][0]
    assert q5 == pytest.approx(np.quantile(dd, 0.05))
    assert (dd <= q5).mean() == pytest.approx(0.05, abs=0.002)
    # one-sided metrics keep the configured levels only
    liq = s.filter(pl.col("metric") == "liq_notional_quote")["stat"].to_list()
    assert liq[:4] == ["mean", "q50", "q95", "q99"]
