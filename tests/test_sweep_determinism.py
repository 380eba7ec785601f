"""Monte Carlo: per-path seeds, bitwise-identical results whatever the backend and chunking."""

from __future__ import annotations

import copy

import numpy as np
import polars as pl
import pytest

from liqcascade.scenarios.schema import parse_scenario
from liqcascade.sweep import path_seed, prepare, run_stress

RAW = {
    "scenario": {"name": "det"},
    "venues": [
        {
            "name": "binance_usdm",
            "symbol": "BTCUSDT",
            "impact": "linear:300",
            "share": 0.6,
            "insurance_fund_quote": 1e6,
        },
        {
            "name": "generic",
            "symbol": "BTCUSDT",
            "impact": "linear:60",
            "share": 0.4,
            "insurance_fund_quote": 1e5,
        },
    ],
    "book": {
        "source": "synthetic",
        "n_positions": 20000,
        "history_end": "2025-10-10T20:50:00",
    },
    "shock": {"kind": "news", "impulse_range": [-0.12, -0.02], "horizon_s": 1800, "step_s": 60},
    "behaviours": {
        "retail_deleverage": {"vol_threshold_annual": 1.0},
        "dip_buying": {"levels": [-0.06], "notional_quote": [5e7]},
        "mm_withdrawal": {},
        "arbitrage": {"linkage": 0.5},
    },
}


@pytest.fixture(scope="module")
def runner():
    return prepare(parse_scenario(copy.deepcopy(RAW)), seed=123)


def test_path_seed_is_the_spawned_child() -> None:
    kids = np.random.SeedSequence(99).spawn(5)
    for i, kid in enumerate(kids):
        a = np.random.default_rng(kid).random(4)
        b = np.random.default_rng(path_seed(99, i)).random(4)
        assert np.array_equal(a, b)


def test_inline_chunking_does_not_change_results(runner) -> None:
    a = run_stress(runner, paths=40, workers=0, chunk_size=40).paths
    b = run_stress(runner, paths=40, workers=0, chunk_size=3).paths
    assert a.equals(b)
    assert a["seed"].unique().to_list() == [123]
    assert a["path"].to_list() == list(range(40))
    # path i does not depend on how many paths run
    c = run_stress(runner, paths=25, workers=0).paths
    assert c.equals(a.head(25))
    assert a["liq_notional_quote"].n_unique() > 30


def test_different_seed_differs() -> None:
    r2 = prepare(parse_scenario(copy.deepcopy(RAW)), seed=124)
    a = run_stress(r2, paths=10, workers=0).paths
    assert a["seed"][0] == 124
    assert not a["exo_min_move"].equals(
        run_stress(
            prepare(parse_scenario(copy.deepcopy(RAW)), seed=123), paths=10, workers=0
        ).paths["exo_min_move"]
    )


@pytest.mark.slow
def test_backends_bitwise_equal(runner) -> None:
    """1 worker (in process) vs a local pool of 2 processes vs a Dask LocalCluster of 2 workers.

    (A 1-process pool runs the same code as in-process; it is left out to keep the test short:
    each spawned process pays its own imports.)
    """
    n = 60
    ref = run_stress(runner, paths=n, workers=0).paths
    two = run_stress(runner, paths=n, workers=2, chunk_size=7).paths
    dask = run_stress(runner, paths=n, dask_local=2, chunk_size=9).paths
    for other in (two, dask):
        assert other.equals(ref)
    assert ref.select(pl.col("liq_notional_quote") > 0).to_series().any()
