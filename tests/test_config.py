"""The one config loader (liqcascade.config) and each config read through it: unknown keys refused
by name, bad types named by their field path, TOML -> Struct -> JSON -> Struct round trips."""

from __future__ import annotations

import json
import math
from pathlib import Path

import msgspec
import pytest
from typer.testing import CliRunner

from liqcascade import config, policy
from liqcascade.engine.dyn_config import DynamicConfig, VenueProcess
from liqcascade.errors import ConfigError
from liqcascade.resources import examples_dir
from liqcascade.scenarios.schema import Scenario, load_scenario
from liqcascade.venues import load_tier_file
from liqcascade.venues.tier_file import TierFile, read_tier_file

EXAMPLES = Path(str(examples_dir()))


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


# --------------------------------------------------------------------------------------------
# the loader itself
# --------------------------------------------------------------------------------------------
def test_missing_file_and_bad_toml_name_the_file(tmp_path):
    with pytest.raises(ConfigError, match=r"nope\.toml: config file not found"):
        config.load(tmp_path / "nope.toml", DynamicConfig)
    bad = _write(tmp_path, "bad.toml", "dt_s = = 1\n")
    with pytest.raises(ConfigError, match=r"^bad\.toml: invalid TOML"):
        config.load(bad, DynamicConfig)
    bad_json = _write(tmp_path, "bad.json", "{dt_s: 1}")
    with pytest.raises(ConfigError, match=r"^bad\.json: invalid JSON"):
        config.load(bad_json, DynamicConfig)


def test_format_path():
    assert config.format_path(["variants", 2, "max_leverage"]) == "variants[2].max_leverage"
    assert config.format_path([]) == "(top level)"


def test_python_construction_is_checked_like_a_file():
    with pytest.raises(
        ConfigError, match=r"^DynamicConfig: dt_s: expected a number > 0\.0, got -1"
    ):
        DynamicConfig(dt_s=-1.0)
    with pytest.raises(ConfigError, match=r"PolicyVariant: max_leverage: expected a number >= 1"):
        policy.PolicyVariant(name="x", max_leverage=0.5)


def test_nonfinite_numbers_round_trip_through_json_only_where_numbers_are_expected():
    cfg = DynamicConfig(resilience_half_life_s=math.inf, arb_hub="inf")
    text = cfg.to_json()
    doc = json.loads(text)
    assert doc["resilience_half_life_s"] == "inf" and doc["arb_hub"] == "inf"
    back = DynamicConfig.from_json(text)
    assert back.resilience_half_life_s == math.inf and back.arb_hub == "inf"
    assert back == cfg


# --------------------------------------------------------------------------------------------
# DynamicConfig / VenueProcess
# --------------------------------------------------------------------------------------------
DYN_TOML = """
dt_s = 0.5
steps = 120
seed = 7
resilience_half_life_s = inf
shock_venues = ["binance_usdm"]

[venues.hyperliquid]
vault_capital_quote = 1e8
adl_policy = "pro_rata"
"""


def test_dynamic_config_toml_json_round_trip(tmp_path):
    cfg = DynamicConfig.load(_write(tmp_path, "dyn.toml", DYN_TOML))
    assert cfg.dt_s == 0.5 and cfg.steps == 120 and cfg.shock_venues == ("binance_usdm",)
    assert cfg.process_for("hyperliquid").vault_capital_quote == 1e8
    assert cfg.process_for("hyperliquid").process == "hyperliquid"  # venue default kept
    back = DynamicConfig.from_json(cfg.to_json())
    assert back == cfg
    js = _write(tmp_path, "dyn.json", cfg.to_json())
    assert config.load(js, DynamicConfig) == cfg


def test_dynamic_config_refuses_unknown_and_bad_fields(tmp_path):
    p = _write(tmp_path, "dyn.toml", "dt_s = 1\nstep = 3\n")
    with pytest.raises(
        ConfigError, match=r"^dyn\.toml: step: unknown key \(did you mean 'steps'\?\)"
    ):
        DynamicConfig.load(p)
    p = _write(tmp_path, "dyn.toml", 'steps = "many"\n')
    with pytest.raises(ConfigError, match=r"^dyn\.toml: steps: expected an integer, got 'many'"):
        DynamicConfig.load(p)
    p = _write(tmp_path, "dyn.toml", "[venues.hyperliquid]\nvault_capital = 1\n")
    with pytest.raises(ConfigError, match=r"venues\.hyperliquid\.vault_capital: unknown key"):
        DynamicConfig.load(p)
    p = _write(tmp_path, "dyn.toml", "[venues.generic]\npartial_fraction = 1.5\n")
    with pytest.raises(
        ConfigError, match=r"venues\.generic\.partial_fraction: expected a number <= 1\.0, got 1\.5"
    ):
        DynamicConfig.load(p)
    with pytest.raises(ConfigError, match=r"process: expected one of binance\|hyperliquid\|dydx"):
        VenueProcess(process="ftx")


BOOK = """account_id,venue,symbol,side,size_base,entry_price,leverage
1,binance_usdm,BTCUSDT,long,2,100000,20
2,binance_usdm,BTCUSDT,long,1,101000,50
3,binance_usdm,BTCUSDT,short,3,99000,10
"""


def test_dynamic_cli_config_toml_and_json_give_the_same_run(tmp_path):
    from liqcascade.cli import app

    book = _write(tmp_path, "pos.csv", BOOK)
    toml = _write(
        tmp_path, "dyn.toml", "steps = 40\nseed = 3\n[venues.binance_usdm]\ncooldown_s = 5\n"
    )
    js = _write(tmp_path, "dyn.json", DynamicConfig.load(toml).to_json())
    base = ["dynamic", "--positions", str(book), "--price", "100000", "--impact", "linear:5"]
    outs = []
    for cfg in (toml, js):
        r = CliRunner().invoke(app, [*base, "--shock", "-0.05", "--config", str(cfg), "--json"])
        assert r.exit_code == 0, r.output
        outs.append(json.loads(r.output))
    assert outs[0]["config"]["steps"] == 40
    assert outs[0]["config"]["venues"]["binance_usdm"]["cooldown_s"] == 5
    assert outs[0]["summary"] == outs[1]["summary"]
    bad = _write(tmp_path, "bad.toml", "stepz = 4\n")
    r = CliRunner().invoke(app, [*base, "--shock", "-0.05", "--config", str(bad)])
    assert r.exit_code != 0 and "bad.toml: stepz: unknown key" in r.output


# --------------------------------------------------------------------------------------------
# policy files
# --------------------------------------------------------------------------------------------
def test_policy_file_errors_name_the_variant_and_field(tmp_path):
    head = '[policy]\nscenario = "x.toml"\n'
    rows = '[[variants]]\nname = "a"\n[[variants]]\nname = "b"\n'
    p = _write(
        tmp_path, "policy.toml", head + rows + '[[variants]]\nname = "c"\nmax_leverage = "x"\n'
    )
    with pytest.raises(
        ConfigError, match=r"^policy\.toml: variants\[2\]\.max_leverage: expected a number, got 'x'"
    ):
        policy.load_policy(p)
    p = _write(tmp_path, "policy.toml", head + '[[variants]]\nname = "a"\nmax_leverage = 2000\n')
    with pytest.raises(
        ConfigError, match=r"variants\[0\]\.max_leverage: expected a number <= 1001"
    ):
        policy.load_policy(p)
    p = _write(tmp_path, "policy.toml", head + "paths = 0\n")
    with pytest.raises(ConfigError, match=r"policy\.paths: expected an integer >= 1, got 0"):
        policy.load_policy(p)
    p = _write(tmp_path, "policy.toml", head + "[extra]\nx = 1\n")
    with pytest.raises(ConfigError, match=r"^policy\.toml: extra: unknown key"):
        policy.load_policy(p)
    p = _write(
        tmp_path, "policy.toml", head + '[[variants]]\nname = "a"\ncircuit_breaker = "0.05/300"\n'
    )
    with pytest.raises(ConfigError, match=r"variants\[0\]: circuit_breaker '0\.05/300'"):
        policy.load_policy(p)


def test_shipped_policy_file_loads_and_round_trips():
    lab = policy.load_policy(EXAMPLES / "policy_leverage_adl.toml")
    assert [v.name for v in lab.variants][:2] == ["cap 125x", "cap 50x"]
    cb = lab.variants[-1].circuit_breaker
    assert isinstance(cb, policy.CircuitBreaker) and (cb.move_frac, cb.window_s) == (0.04, 60.0)
    assert Path(lab.scenario).name == "policy_scenario_crash.toml"
    back = policy.PolicyLab.from_json(lab.to_json())
    assert back == lab
    # the short circuit-breaker form and the table form give the same variant
    a = policy.PolicyVariant.from_dict({"name": "b", "circuit_breaker": "0.04/60/300"})
    b = policy.PolicyVariant.from_dict(
        {"name": "b", "circuit_breaker": {"move_frac": 0.04, "window_s": 60, "halt_s": 300}}
    )
    assert a == b


def test_policy_lab_replace_is_validated():
    lab = policy.load_policy(EXAMPLES / "policy_leverage_adl.toml")
    assert msgspec.structs.replace(lab, paths=2).paths == 2
    with pytest.raises(ConfigError, match=r"paths: expected an integer >= 1, got 0"):
        msgspec.structs.replace(lab, paths=0)


# --------------------------------------------------------------------------------------------
# scenarios
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name",
    [
        "stress_btc_crash.toml",
        "stress_bridge_tail.toml",
        "stress_collateral_depeg.toml",
        "stress_positions_file.toml",
        "policy_scenario_crash.toml",
    ],
)
def test_shipped_scenarios_load_and_round_trip(name):
    sc = load_scenario(EXAMPLES / name)
    assert sc.source_path is not None and sc.source_path.endswith(name)
    assert Scenario.from_json(sc.to_json()) == sc


def test_scenario_errors_use_the_field_path(tmp_path):
    text = (EXAMPLES / "stress_btc_crash.toml").read_text()
    p = _write(tmp_path, "s.toml", text.replace("[shock]", "[shock]\nsze = 1", 1))
    with pytest.raises(ConfigError, match=r"^s\.toml: shock\.sze: unknown key"):
        load_scenario(p)


# --------------------------------------------------------------------------------------------
# tier files
# --------------------------------------------------------------------------------------------
def test_tier_file_toml_refuses_unknown_keys_and_bad_types(tmp_path):
    good = "[[tiers]]\nfloor_quote = 0\nmax_leverage = 100\n"
    p = _write(tmp_path, "t.toml", good + "[[tiers]]\nfloor_quote = 1e5\nmax_lev = 50\n")
    with pytest.raises(ConfigError, match=r"^t\.toml: tiers\[1\]\.max_lev: unknown key"):
        load_tier_file(p)
    p = _write(tmp_path, "t.toml", good + '[[tiers]]\nfloor_quote = "lots"\nmax_leverage = 50\n')
    with pytest.raises(
        ConfigError, match=r"^t\.toml: tiers\[1\]\.floor_quote: expected a number, got 'lots'"
    ):
        load_tier_file(p)
    p = _write(tmp_path, "t.toml", 'source = "x"\n' + good)
    with pytest.raises(
        ConfigError, match=r"^t\.toml: source: unknown key \(did you mean 'source_url'"
    ):
        load_tier_file(p)
    p = _write(tmp_path, "t.csv", "floor_quote,max_leverage\n0,100\n1e5,x\n")
    with pytest.raises(
        ConfigError, match=r"^t\.csv row 2: max_leverage: expected a number, got 'x'"
    ):
        load_tier_file(p)


def test_tier_file_aliases_and_round_trip(tmp_path):
    rows = [
        {"bracket": 1, "notionalFloor": 0, "notionalCap": 5e4, "maintMarginRatio": 0.004,
         "initialLeverage": 125, "cum": 0},
        {"bracket": 2, "notionalFloor": 5e4, "notionalCap": 5e5, "maintMarginRatio": 0.005,
         "initialLeverage": 100, "cum": 50},
    ]  # fmt: skip
    p = _write(tmp_path, "b.json", json.dumps({"tiers": rows, "effective_date": "2025-10-01"}))
    doc = read_tier_file(p)
    assert isinstance(doc, TierFile) and doc.tiers[1].mmr == 0.005 and doc.tiers[1].cum_quote == 50
    assert TierFile.from_json(doc.to_json()) == doc
    rules = load_tier_file(p, venue="generic")
    assert rules.effective_date == "2025-10-01" and rules.max_leverage == 125


# --------------------------------------------------------------------------------------------
# event and prior files
# --------------------------------------------------------------------------------------------
def _shipped(folder: str) -> list[Path]:
    from liqcascade.resources import package_path

    return sorted(Path(str(package_path(folder))).glob("*.toml"))


def test_shipped_event_and_prior_files_load_and_round_trip():
    from liqcascade.file_schemas import EventFile, PriorFile, load_event_file, load_prior_file

    events, priors = _shipped("events"), _shipped("priors")
    assert events and priors
    for p in events:
        ev = load_event_file(p)
        assert ev.date == p.stem and EventFile.from_json(ev.to_json()) == ev
    for p in priors:
        pr = load_prior_file(p)
        assert p.name.startswith(pr.venue) and PriorFile.from_json(pr.to_json()) == pr


def test_event_and_prior_files_refuse_unknown_and_bad_fields(tmp_path):
    from liqcascade.file_schemas import load_event_file, load_prior_file

    ev = _shipped("events")[0]
    text = ev.read_text(encoding="utf-8")
    p = _write(tmp_path, ev.name, text.replace("[window]", "[window]\nstart = 1", 1))
    with pytest.raises(ConfigError, match=rf"^{ev.stem}\.toml: window\.start: unknown key"):
        load_event_file(p)
    p = _write(tmp_path, ev.name, text.replace("\nvalue = ", '\nvalue = "big"\n# ', 1))
    with pytest.raises(ConfigError, match=r"reported\[0\]\.value: expected a number, got 'big'"):
        load_event_file(p)
    pr = _shipped("priors")[0]
    text = pr.read_text(encoding="utf-8")
    p = _write(tmp_path, pr.name, text.replace("half_life_hours = ", "half_life_hours = -", 1))
    with pytest.raises(ConfigError, match=r"half_life_hours: expected a number > 0\.0, got -"):
        load_prior_file(p)
