"""The parallel margin kernels survive a fork (stress workers) and concurrent threads (web)."""

from __future__ import annotations

import multiprocessing as mp
import threading

import numpy as np

from liqcascade import margin
from liqcascade.venues import load_venue


def _mean_liq(seed: int) -> float:
    rules = load_venue("binance_usdm", "BTCUSDT")
    rng = np.random.default_rng(seed)
    size = rng.uniform(0.01, 1.0, 50_000)
    entry = np.full(size.shape, 60_000.0)
    lp = margin.liquidation_price(rules, 1, size, entry, size * entry / 20)
    mm = margin.maintenance_margin(rules, size * entry)
    return float(np.nanmean(lp) + mm.sum())


def test_kernels_after_fork_and_in_threads():
    expected = [_mean_liq(s) for s in range(4)]  # the parent has run the parallel kernels
    with mp.get_context("fork").Pool(2) as pool:
        assert pool.map(_mean_liq, range(4)) == expected
    got: dict[int, float] = {}
    threads = [
        threading.Thread(target=lambda s=s: got.__setitem__(s, _mean_liq(s))) for s in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [got[s] for s in range(4)] == expected
