"""`liqcascade vectors check`: shared file, shipped sample, failures, tolerances."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from liqcascade import vectors
from liqcascade.cli import app

DATA = Path(__file__).parent / "data" / "margin_cases_sample.json"
RUNNER = CliRunner()


class _Run:
    def __init__(self, res) -> None:
        self.returncode = res.exit_code
        self.stdout = res.stdout


def run_cli(*args: str) -> _Run:
    """Run the CLI in-process (CliRunner); exit code and stdout as a subprocess would give."""
    return _Run(RUNNER.invoke(app, list(args)))


def test_shared_vectors_all_pass(shared_dir):
    path = shared_dir / "vectors" / "margin_cases.json"
    proc = run_cli("vectors", "check", str(path))
    n = len(json.loads(path.read_text()))
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == f"{n} passed, 0 failed"


def test_shipped_sample_all_pass_and_cover_every_group():
    cases = vectors.load_cases(DATA)
    groups = {(c["venue"], c["mode"], c["quantity"]) for c in cases}
    assert len(groups) >= 18
    results = vectors.check_cases(cases)
    assert all(r.passed for r in results), [(r.id, r.reason) for r in results if not r.passed]
    proc = run_cli("vectors", "check", str(DATA))
    assert proc.returncode == 0
    assert proc.stdout.strip().splitlines()[-1] == f"{len(cases)} passed, 0 failed"


def _mutate(e):
    """A wrong expectation: every number off by 1 % + 1, booleans flipped, rationals changed."""
    if isinstance(e, bool):
        return not e
    if isinstance(e, (int, float)):
        return e * 1.01 + 1
    if isinstance(e, str):
        return e + "1"
    if isinstance(e, list):
        return [_mutate(x) for x in e]
    if isinstance(e, dict):
        return {k: _mutate(v) for k, v in e.items()}
    return e


def test_result_comes_from_inputs_not_expected(tmp_path):
    cases = vectors.load_cases(DATA)
    bad = copy.deepcopy(cases)
    for c in bad:
        c.pop("computed", None)
        c["expected"] = _mutate(c["expected"])
    results = vectors.check_cases(bad)
    assert not any(r.passed for r in results), [r.id for r in results if r.passed]
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(bad))
    proc = run_cli("vectors", "check", str(p))
    assert proc.returncode == 1
    assert proc.stdout.strip().splitlines()[-1] == f"0 passed, {len(bad)} failed"


def test_changed_inputs_change_the_answer():
    case = copy.deepcopy(
        next(c for c in vectors.load_cases(DATA) if c["id"] == "hl-derived-iso-long-btc40x")
    )
    case["inputs"]["isolated_margin"] = 5_000.0
    # recompute by hand: l = 1/80, MM = 1250, available 3750 -> LP = 100000 - 3750/(1 - 1/80)
    case["expected"] = 100_000 - 3_750 / (1 - 1 / 80)
    assert vectors.check_case(case).passed


def test_unknown_group_is_a_failure_with_reason():
    case = {
        "id": "x",
        "venue": "kraken",
        "mode": "n/a",
        "quantity": "liquidation_price",
        "inputs": {"side": "long"},
        "expected": 1.0,
    }
    r = vectors.check_case(case)
    assert not r.passed and "no evaluator" in r.reason


def test_tolerance_parsing_and_rounding():
    t = vectors.parse_tolerance({"tolerance": "rel 1e-4 (pytest.approx(rel=0.0001))"})
    assert t.rel == 1e-4 and not t.exact
    assert vectors.parse_tolerance({"tolerance": "exact integer"}).exact
    assert (
        vectors.parse_tolerance(
            {"notes": "treat the last 0.5 as tick rounding (tolerance 0.5)"}
        ).abs
        == 0.5
    )
    assert vectors.parse_tolerance({}).rel == 1e-6
    case = {
        "id": "r",
        "venue": "binance_usdm",
        "mode": "isolated_oneway",
        "quantity": "liquidation_price",
        "inputs": {
            "WB_usdt": 1_535_443.01,
            "side": "long",
            "position_base": 109.488,
            "entry_price": 32_481.98,
            "MMR": 0.025,
            "cum_usdt": 16_300.0,
        },
        "expected": 18_779.0,
        "expected_rounding": "round(x,0)",
    }
    assert vectors.check_case(case).passed
    case.pop("expected_rounding")
    assert not vectors.check_case(case).passed  # 18,778.726 is 1.5e-5 away without the rounding


def _bisect_liq(rules, side, q, ep, m):
    """Independent oracle: bisection on equity(P) - MM(P) (MM from the tier table at Q*P)."""
    from liqcascade import margin as mg

    def f(p):
        return m + side * q * (p - ep) - float(mg.maintenance_margin_numpy(rules, q * p))

    lo, hi = (1e-9, ep * 1.5) if side > 0 else (ep * 0.5, ep * 100)
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if (f(mid) > 0) == (side > 0):
            hi = mid
        else:
            lo = mid
    return 0.5 * (lo + hi)


@pytest.mark.parametrize(
    ("table", "side", "q", "ep", "lev"),
    [
        ("BTCUSDT 2024-10", "long", 0.85, 60_000.0, 20),
        ("BTCUSDT 2024-10", "short", 9.0, 60_000.0, 100),
        ("ETHUSDT 2024-10", "short", 13_000.0, 3_800.0, 20),
        ("ETHUSDT 2024-10", "long", 160.0, 3_700.0, 75),
        ("BTCUSDT snapshot B", "long", 5.0, 59_000.0, 100),
    ],
)
def test_binance_derived_tier_cases_match_bisection(table, side, q, ep, lev):
    from liqcascade.venues import load_venue

    case = {
        "id": "derived",
        "venue": "binance_usdm",
        "mode": "isolated_oneway",
        "quantity": "liquidation_price",
        "inputs": {
            "WB_usdt": q * ep / lev,
            "side": side,
            "position_base": q,
            "entry_price": ep,
            "leverage": lev,
            "bracket_table": table,
        },
    }
    got = vectors.evaluate_case(case)
    rules = load_venue(
        "binance_usdm", table.split()[0], version="2025-B" if "B" in table.split()[-1] else None
    )
    s = 1 if side == "long" else -1
    assert got == pytest.approx(_bisect_liq(rules, s, q, ep, q * ep / lev), rel=1e-9)


@pytest.mark.parametrize(
    ("coin", "side", "q", "px", "margin"),
    [
        ("BTC", "long", 1_400.0, 120_000.0, 20e6),
        ("ETH", "short", 30_000.0, 3_000.0, 5e6),
        ("SOL", "long", 300_000.0, 240.0, 7e6),
    ],
)
def test_hyperliquid_tiered_cases_match_bisection(coin, side, q, px, margin):
    from liqcascade.venues import load_venue

    case = {
        "id": "hl-derived",
        "venue": "hyperliquid",
        "mode": "isolated",
        "quantity": "liquidation_price",
        "inputs": {"coin": coin, "side": side, "size": q, "price": px, "isolated_margin": margin},
    }
    got = vectors.evaluate_case(case)
    s = 1 if side == "long" else -1
    assert got == pytest.approx(
        _bisect_liq(load_venue("hyperliquid", coin), s, q, px, margin), rel=1e-9
    )
