"""Books from files and collateral shocks through the whole runner."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

from liqcascade.errors import ConfigError
from liqcascade.scenarios import load_scenario
from liqcascade.scenarios.schema import parse_scenario
from liqcascade.sweep import prepare, run_stress

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_positions_file_book_gets_venue_rules() -> None:
    sc = load_scenario(EXAMPLES / "stress_positions_file.toml")
    r = prepare(sc, seed=1)
    assert r.meta["n_positions"] == 1976 and r.meta["population"] is None
    res = run_stress(r, paths=20, workers=0)
    assert (res.paths["liq_notional_quote"] > 0).any()
    assert set(r.venue_labels) == {"binance_usdm", "hyperliquid"}


def test_positions_on_undeclared_venue_are_rejected(tmp_path: Path) -> None:
    sc = load_scenario(EXAMPLES / "stress_positions_file.toml")
    raw = sc.to_dict()
    raw.pop("source_path")
    raw["venues"] = [raw["venues"][0]]
    raw["venues"][0]["share"] = 1.0
    raw["book"]["path"] = str(EXAMPLES / "stress_positions_sample.csv")
    with pytest.raises(
        ConfigError, match=r"positions on hyperliquid/BTC but no \[\[venues\]\] entry"
    ):
        prepare(parse_scenario(raw), seed=1)


COLL = {
    "scenario": {"name": "coll"},
    "venues": [
        {
            "name": "binance_usdm",
            "symbol": "BTCUSDT",
            "impact": "linear:300",
            "insurance_fund_quote": 1e6,
        }
    ],
    "book": {"source": "synthetic", "n_positions": 20000, "history_end": "2025-10-10T21:36:00"},
    "shock": {
        "kind": "collateral",
        "horizon_s": 1200,
        "step_s": 60,
        "assets": [{"asset": "USDe", "depeg": 0.33, "holder_fraction": 0.3, "wallet_share": 0.9}],
    },
}


def test_collateral_depeg_liquidates_only_through_holders() -> None:
    r = prepare(parse_scenario(copy.deepcopy(COLL)), seed=4)
    assert r.meta["collateral_positions"] > 0
    res = run_stress(r, paths=5, workers=0).paths
    assert (res["liq_count"] > 0).all()
    assert np.allclose(res["exo_min_move"].to_numpy(), 0.0)
    assert res["collateral_min.USDe"].to_list() == pytest.approx([0.67] * 5)
    none = copy.deepcopy(COLL)
    none["shock"]["assets"][0]["holder_fraction"] = 0.0
    r0 = prepare(parse_scenario(none), seed=4)
    assert r0.meta["collateral_positions"] == 0
    assert (run_stress(r0, paths=3, workers=0).paths["liq_count"] == 0).all()


def test_collateral_asset_on_unknown_venue() -> None:
    raw = copy.deepcopy(COLL)
    raw["shock"]["assets"][0]["venues"] = ["bybit_linear"]
    with pytest.raises(
        ConfigError, match=r"\[shock.assets\[0\]\].venues: \['bybit_linear'\] are not declared"
    ):
        prepare(parse_scenario(raw), seed=1)
