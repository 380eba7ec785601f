"""Policy lab: variants, same seeded paths, conservation, circuit breakers, CLI, reference data."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from liqcascade import policy
from liqcascade.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "policy_leverage_adl.toml"
SCENARIO = ROOT / "examples" / "policy_scenario_crash.toml"


def _small_lab(tmp_path: Path, paths: int = 2, variants: str = "") -> Path:
    sc = SCENARIO.read_text().replace("n_positions = 10000", "n_positions = 1500")
    sc = sc.replace("horizon_s = 1800.0", "horizon_s = 600.0")
    (tmp_path / "sc.toml").write_text(sc)
    p = tmp_path / "policy_small.toml"
    p.write_text(
        f'[policy]\nscenario = "sc.toml"\npaths = {paths}\nseed = 11\ndt_s = 10.0\ntail_s = 60.0\n'
        + variants
    )
    return p


def test_same_paths_every_variant_and_money_conserved(tmp_path):
    variants = """
[[variants]]
name = "no-op (fund x1)"
insurance_fund_scale = 1.0
[[variants]]
name = "cap at the venue max"
max_leverage = 1001
[[variants]]
name = "cap 20x"
max_leverage = 20
[[variants]]
name = "cap 20x same size"
max_leverage = 20
leverage_cap_mode = "same_size"
[[variants]]
name = "no fund, pro-rata"
insurance_fund_quote = 0.0
adl_policy = "pro_rata"
[[variants]]
name = "no fund, capped"
insurance_fund_quote = 0.0
adl_policy = "capped_pro_rata:0.5"
[[variants]]
name = "breaker"
circuit_breaker = "0.02/60/120"
"""
    lab = policy.load_policy(_small_lab(tmp_path, variants=variants))
    res = policy.run_policy(lab)
    runs = res.runs
    assert runs.height == 8 * 2
    cols = [c for c in runs.columns if c not in ("variant", "path")]
    base = runs.filter(pl.col("variant") == "baseline").select(cols)
    # a variant that changes nothing reproduces the baseline exactly: same paths, same seeds
    assert runs.filter(pl.col("variant") == "no-op (fund x1)").select(cols).equals(base)
    assert runs.filter(pl.col("variant") == "cap at the venue max").select(cols).equals(base)
    # every run conserves money
    assert runs["conservation_residual_quote"].abs().max() < 1e-6
    meta = {m["name"]: m for m in res.meta["variants"]}
    assert meta["cap 20x"]["resized"] > 0 and meta["baseline"]["resized"] == 0
    t = {r["variant"]: r for r in res.table.to_dicts()}
    # loss shares add up
    for r in t.values():
        if not math.isnan(r["retail_loss_share"]):
            assert r["retail_loss_share"] + r["institutional_loss_share"] == pytest.approx(1.0)
    # same-margin caps shrink positions, so less is liquidated than with same-size caps
    assert (
        t["cap 20x"]["liquidated_notional_quote"]
        <= t["cap 20x same size"]["liquidated_notional_quote"]
    )
    assert t["breaker"]["halts"] >= 1
    assert res.seed == 11 and res.paths == 2


def test_halt_helpers_defer_moves_and_freeze_depth():
    rets = np.array([0.0, -0.01, -0.02, -0.03, 0.01, 0.0])
    r, scale = policy._apply_halts(rets, [(2, 4)], 8)
    # the moves inside the halt are applied in one step at the reopening: the path's end is kept
    assert np.prod(1 + r) == pytest.approx(np.prod(1 + rets))
    assert r[2] == 0 and r[3] == 0 and r[4] == pytest.approx((0.98 * 0.97 * 1.01) - 1)
    assert np.all(scale[2:4] == policy.HALT_DEPTH_SCALE) and scale[1] == 1 and scale[4] == 1
    price = 100 * np.cumprod(1 + np.r_[0.0, rets])
    cb = policy.CircuitBreaker(move_frac=0.025, window_s=10.0, halt_s=30.0)
    # 100 -> 99 -> 97.02 (2.0% in one 5 s step: no) -> 94.1 (5.0% within 10 s: halt)
    assert policy._find_halt(price, 1, cb, 5.0) == 3


def test_variant_and_file_validation(tmp_path):
    with pytest.raises(ConfigError, match="KEY=V1"):
        policy.parse_vary("leverage 20")
    with pytest.raises(ConfigError, match="not a number"):
        policy.parse_vary("max_leverage=abc")
    with pytest.raises(ConfigError, match=r"max_leverage: expected a number <= 1001\.0, got 2000"):
        policy.parse_vary("max_leverage=2000")
    with pytest.raises(ConfigError, match="adl_policy"):
        policy.parse_vary("adl=fifo")
    with pytest.raises(ConfigError, match="MOVE/WINDOW_S/HALT_S"):
        policy.parse_vary("circuit_breaker=0.05/300")
    vs = policy.parse_vary("adl=queue:hyperliquid,pro_rata,capped_pro_rata:0.3")
    assert [v.adl_policy for v in vs] == ["queue:hyperliquid", "pro_rata", "capped_pro_rata:0.3"]
    cb = policy.parse_vary("breaker=0.05/300/600")[0].circuit_breaker
    assert (cb.move_frac, cb.window_s, cb.halt_s) == (0.05, 300.0, 600.0)
    bad = tmp_path / "bad.toml"
    bad.write_text('[policy]\nscenario = "x.toml"\npath = 3\n')
    with pytest.raises(
        ConfigError, match=r"^bad\.toml: policy\.path: unknown key \(did you mean 'paths'"
    ):
        policy.load_policy(bad)
    bad.write_text('[policy]\nscenario = "x.toml"\n[[variants]]\nname = "a"\nmax_lev = 3\n')
    with pytest.raises(ConfigError, match=r"^bad\.toml: variants\[0\]\.max_lev: unknown key"):
        policy.load_policy(bad)
    lab = policy.load_policy(SCENARIO)  # a plain scenario is a lab without variants
    assert lab.variants == () and lab.scenario == str(SCENARIO)


def test_chitra_reference_totals_match_the_paper():
    ref = {r["policy"]: r for r in policy.chitra_reference().to_dicts()}
    prod = ref["Hyperliquid production queue"]
    # Chitra (2025) v3: needed 15.08M, production 60.11M, overshoot 45.03M over 16 waves
    assert prod["waves"] == 16
    assert prod["needed_usd"] == pytest.approx(15.08e6, rel=1e-3)
    assert prod["taken_usd"] == pytest.approx(60.11e6, rel=1e-3)
    assert prod["overshoot_usd"] == pytest.approx(45.03e6, rel=1e-3)
    assert abs(ref["pro-rata (wealth)"]["overshoot_usd"]) < 1.0
    assert ref["min-max ILP"]["overshoot_usd"] == pytest.approx(92_187, rel=1e-3)


@pytest.mark.slow
def test_shipped_example_prints_the_table(monkeypatch):
    from liqcascade.cli import _common, app

    # a wide console so that no cell is cut, whatever width the test session detected
    monkeypatch.setattr(_common.console, "_width", 250)
    res = CliRunner().invoke(app, ["policy", str(EXAMPLE)])
    assert res.exit_code == 0, res.output
    out = res.stdout
    lab = policy.load_policy(EXAMPLE)
    for name in ["baseline"] + [v.name for v in lab.variants]:
        assert name in out
    for col in (
        "liquidated",
        "bad debt",
        "fund used",
        "ADL taken",
        "overshoot",
        "multiplier",
        "accounts hit",
        "retail loss",
        "instit. loss",
        "leverage ratio",
        "critical shock",
    ):
        assert col in out
    assert "Chitra (2025)" in out and "money conservation" in out
