"""``[monte_carlo].engine = "dynamic"``: paths through liqcascade.engine.dynamic.simulate."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from liqcascade.errors import ConfigError
from liqcascade.scenarios.schema import parse_scenario
from liqcascade.sweep import prepare, run_stress

RAW = {
    "scenario": {"name": "dyn"},
    "venues": [
        {
            "name": "binance_usdm",
            "symbol": "BTCUSDT",
            "impact": "linear:300",
            "share": 0.6,
            "insurance_fund_quote": 1e6,
        },
        {
            "name": "hyperliquid",
            "symbol": "BTC",
            "impact": "linear:100",
            "share": 0.4,
            "insurance_fund_quote": 1e5,
        },
    ],
    "book": {"source": "synthetic", "n_positions": 3000, "history_end": "2025-10-10T20:50:00"},
    "shock": {"kind": "news", "impulse_range": [-0.1, -0.03], "horizon_s": 600, "step_s": 60},
    "behaviours": {"mm_withdrawal": {}, "arbitrage": {"linkage": 0.5}},
    "monte_carlo": {"engine": "dynamic", "settle_s": 120},
}


def _run(engine: str, paths: int = 8):
    raw = copy.deepcopy(RAW)
    raw["monte_carlo"]["engine"] = engine
    return run_stress(prepare(parse_scenario(raw), seed=2), paths=paths, workers=0)


def test_dynamic_engine_runs_seeded_and_agrees_in_size_with_index() -> None:
    dyn = _run("dynamic")
    assert dyn.meta["engine"] == "dynamic"
    again = _run("dynamic", paths=3)
    assert again.paths.equals(dyn.paths.head(3))
    idx = _run("index")
    # same book, same exogenous paths: the two engines' liquidated notional is of the same size
    # (the dynamic engine refills depth and liquidates partially, so it is not identical)
    np.testing.assert_array_equal(
        dyn.paths["exo_min_move"].to_numpy(), idx.paths["exo_min_move"].to_numpy()
    )
    ratio = dyn.paths["liq_notional_quote"].to_numpy() / idx.paths["liq_notional_quote"].to_numpy()
    assert np.all((ratio > 0.5) & (ratio < 2.0))
    assert (dyn.paths["liq_count"] > 0).all()


def test_dynamic_engine_rejects_behaviours_without_hooks() -> None:
    raw = copy.deepcopy(RAW)
    raw["behaviours"]["dip_buying"] = {}
    with pytest.raises(
        ConfigError,
        match=r"\[behaviours.dip_buying\]: not available with \[monte_carlo\].engine = 'dynamic'",
    ):
        prepare(parse_scenario(raw), seed=1)
    raw = copy.deepcopy(RAW)
    raw["monte_carlo"]["engine"] = "dynamc"
    with pytest.raises(ConfigError, match=r"monte_carlo: engine: expected one of index\|dynamic"):
        parse_scenario(raw)
