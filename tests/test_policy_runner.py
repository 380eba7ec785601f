"""The policy lab and the stress runner on one path runner: identical results in process, on a
local pool and on Dask (a LocalCluster passed as a Client); seeds from SeedSequence.spawn;
loss amounts never negative, with an interval for every mean."""

from __future__ import annotations

import copy
import math

import numpy as np
import polars as pl
import pytest

from liqcascade import policy, runner
from liqcascade.ledger import AMOUNT_TOL_QUOTE
from test_policy_lab import _small_lab

VARIANTS = (
    '[[variants]]\nname = "no fund queue"\ninsurance_fund_quote = 0.0\n'
    '[[variants]]\nname = "no fund pro-rata"\ninsurance_fund_quote = 0.0\nadl_policy = "pro_rata"\n'
)
AMOUNTS = (
    "bad_debt_quote",
    "deficit_quote",
    "insurance_fund_used_quote",
    "vault_loss_quote",
    "fees_quote",
    "adl_taken_quote",
    "adl_paid_to_counterparties_quote",
    "adl_needed_quote",
    "trader_loss_quote",
)


def test_engine_seeds_are_spawned_streams_not_seed_plus_path() -> None:
    # seed + path made (seed 7, path 1) and (seed 8, path 0) the same engine stream
    assert runner.engine_seed(7, 1) != runner.engine_seed(8, 0)
    child = np.random.SeedSequence(7).spawn(3)[2].spawn(1)[0]
    assert runner.engine_seed(7, 2) == int(child.generate_state(1, np.uint64)[0])
    a = np.random.default_rng(runner.path_seed(7, 2)).random(3)
    b = np.random.default_rng(np.random.SeedSequence(7).spawn(3)[2]).random(3)
    assert np.array_equal(a, b)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    return policy.load_policy(_small_lab(tmp_path_factory.mktemp("pol"), 3, VARIANTS))


@pytest.fixture(scope="module")
def inline(lab):
    return policy.run_policy(lab, workers=0)


def test_amounts_non_negative_with_intervals(inline) -> None:
    runs, table = inline.runs, inline.table
    assert runs["seed"].unique().to_list() == [11] and table["seed"].unique().to_list() == [11]
    for c in AMOUNTS:
        x = runs[c].to_numpy()
        assert (x >= 0).all(), c
        # rounding noise is reported as 0, never as 1e-10
        assert not ((x > 0) & (x < AMOUNT_TOL_QUOTE)).any(), c
        lo, hi = table[f"{c}_ci_low"].to_numpy(), table[f"{c}_ci_high"].to_numpy()
        mean = table[c].to_numpy()
        assert (lo <= mean + 1e-9).all() and (mean <= hi + 1e-9).all(), c
    # the t interval over paths, from the per-path runs
    from scipy import stats

    x = runs.filter(pl.col("variant") == "no fund queue")["liquidated_notional_quote"].to_numpy()
    half = stats.t.ppf(0.95, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x))
    row = table.filter(pl.col("variant") == "no fund queue")
    assert row["liquidated_notional_quote_ci_high"][0] == pytest.approx(x.mean() + half)
    # ADL takes from counterparties exactly what the bankrupt positions needed, less bad debt
    for name in ("no fund queue", "no fund pro-rata"):
        r = table.filter(pl.col("variant") == name)
        assert r["adl_taken_quote"][0] >= 0.0
        assert r["adl_taken_quote"][0] + r["bad_debt_quote"][0] == pytest.approx(
            r["adl_needed_quote"][0], rel=1e-9, abs=1e-6
        )


@pytest.mark.slow
def test_policy_identical_inline_pool_and_dask_client(lab, inline) -> None:
    from dask.distributed import Client, LocalCluster

    pool = policy.run_policy(lab, workers=2, chunk_size=2)
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0") as cluster,
        Client(cluster) as client,
    ):
        dask = policy.run_policy(lab, dask=client, chunk_size=1)
        assert client.status == "running"  # a Client passed in is left open
    for other in (pool, dask):
        assert other.runs.equals(inline.runs)
        assert other.table.equals(inline.table)
    assert pool.meta["backend"] == "local:2" and dask.meta["backend"].startswith("dask:")


@pytest.mark.slow
def test_stress_identical_inline_pool_and_dask_client() -> None:
    from dask.distributed import Client, LocalCluster

    from liqcascade.scenarios.schema import parse_scenario
    from liqcascade.sweep import prepare, run_stress
    from test_sweep_determinism import RAW

    r = prepare(parse_scenario(copy.deepcopy(RAW)), seed=5)
    ref = run_stress(r, paths=24, workers=0).paths
    pool = run_stress(r, paths=24, workers=2, chunk_size=5).paths
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0") as cluster,
        Client(cluster) as client,
    ):
        dask = run_stress(r, paths=24, scheduler=client, chunk_size=7).paths
    assert pool.equals(ref) and dask.equals(ref)
    assert ref["seed"].unique().to_list() == [5]
