"""One impact config shape for TOML, web requests, Python and the CLI's short form."""

from __future__ import annotations

import importlib.resources
from pathlib import Path

import msgspec
import pytest

from liqcascade.errors import ConfigError, InputError
from liqcascade.impact import DepthCurveImpact, LinearImpact, SqrtImpact, parse_impact
from liqcascade.impact_config import (
    DepthImpactConfig,
    LinearImpactConfig,
    MarketImpactConfig,
    SqrtImpactConfig,
    build_impact,
    impact_config,
    sample_bookdepth_files,
    short_form,
)

SAMPLE = "BTCUSDT-bookDepth-2025-10-10.csv"

CONFIGS = [
    LinearImpactConfig(depth_1pct_base=500.0),
    SqrtImpactConfig(y=0.8, sigma_daily=0.035, adv_base=150_000.0),
    DepthImpactConfig(depth_file=SAMPLE, depth_at="20:00", depth_source="sample"),
    DepthImpactConfig(depth_file="books/depth.csv"),
    MarketImpactConfig(),
    MarketImpactConfig(params="my_params.toml"),
]


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: short_form(c))
def test_every_form_gives_the_same_config(cfg) -> None:
    fields = msgspec.to_builtins(cfg)
    assert (
        fields["model"]
        == {
            LinearImpactConfig: "linear",
            SqrtImpactConfig: "sqrt",
            DepthImpactConfig: "depth",
            MarketImpactConfig: "market",
        }[type(cfg)]
    )
    assert impact_config(fields) == cfg  # a TOML table or a web request body
    assert impact_config(short_form(cfg)) == cfg  # the CLI's short form
    assert impact_config(cfg) is cfg


def test_models_built_from_a_config_equal_the_cli_parser() -> None:
    assert build_impact({"model": "linear", "depth_1pct_base": 500}) == LinearImpact(500.0)
    assert build_impact({"model": "sqrt", "y": 0.7, "sigma_daily": 0.03, "adv_base": 1e5}) == (
        SqrtImpact(0.7, 0.03, 1e5)
    )
    a = build_impact(
        {"model": "depth", "depth_source": "sample", "depth_file": SAMPLE, "depth_at": "21:15"}
    )
    b = parse_impact(f"depth:{sample_bookdepth_files()[SAMPLE]}@21:15")
    assert isinstance(a, DepthCurveImpact) and a.timestamp == b.timestamp
    assert list(a.bid_depth_base) == list(b.bid_depth_base)
    assert build_impact({"model": "market"}) == parse_impact("market")


def test_file_paths_are_relative_to_the_base_dir(tmp_path: Path) -> None:
    src = sample_bookdepth_files()[SAMPLE]
    (tmp_path / "d.csv").write_bytes(src.read_bytes())
    m = build_impact(
        {"model": "depth", "depth_file": "d.csv", "depth_at": "21:15"}, base_dir=tmp_path
    )
    assert isinstance(m, DepthCurveImpact) and m.timestamp.startswith("2025-10-10 21:1")
    with pytest.raises(InputError):
        build_impact({"model": "depth", "depth_file": "d.csv"}, base_dir=tmp_path / "nowhere")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            {"model": "cubic", "depth_1pct_base": 1},
            "impact: model: expected one of linear|sqrt|depth|market",
        ),
        ({"model": "linear"}, "impact: depth_1pct_base: missing required key"),
        (
            {"model": "linear", "depth_1pct_base": -3},
            "impact: depth_1pct_base: expected a number > 0",
        ),
        ({"model": "linear", "depth": 3}, "impact: depth: unknown key"),
        ({"depth_1pct_base": 3}, "impact: model: missing required key"),
        ({"model": "depth", "depth_file": SAMPLE, "depth_source": "web"}, "impact: depth_source"),
    ],
)
def test_bad_tables_name_the_field(raw, message) -> None:
    with pytest.raises(ConfigError) as exc:
        impact_config(raw)
    assert str(exc.value).startswith(message), str(exc.value)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("linear", "expected linear:DEPTH_1PCT"),
        ("linear:abc", "DEPTH_1PCT must be a number"),
        ("linear:-5", "depth_1pct_base: expected a number > 0"),
        ("sqrt:1,0,5", "sigma_daily: expected a number > 0"),
        ("depth:", "needs a bookDepth file"),
        ("cubic:3", "unknown model 'cubic'"),
    ],
)
def test_bad_short_forms_name_the_spec(spec, message) -> None:
    with pytest.raises(InputError, match=message) as exc:
        impact_config(spec)
    assert str(exc.value).startswith(f"impact {spec!r}")


def test_unknown_sample_file_is_refused() -> None:
    with pytest.raises(InputError, match="no shipped bookDepth file"):
        build_impact({"model": "depth", "depth_source": "sample", "depth_file": "nope.csv"})
    with pytest.raises(InputError, match="no shipped bookDepth file"):
        build_impact(
            {"model": "depth", "depth_source": "sample", "depth_file": "../../pyproject.toml"}
        )


def test_scenario_table_and_short_form_give_the_same_stress_run(tmp_path: Path) -> None:
    """A venue's impact written as a TOML table runs exactly as its short form."""
    from liqcascade.scenarios import load_scenario
    from liqcascade.sweep import run_stress

    root = Path(str(importlib.resources.files("liqcascade")))
    text = (root / "examples" / "stress_btc_crash.toml").read_text(encoding="utf-8")
    assert 'impact = "linear:3000"' in text
    text = text.replace('"sample:', '"' + str(root / "sample_data") + "/")
    short = tmp_path / "short.toml"
    short.write_text(text, encoding="utf-8")
    table = tmp_path / "table.toml"
    table.write_text(
        text.replace(
            'impact = "linear:3000"', 'impact = { model = "linear", depth_1pct_base = 3000 }'
        ),
        encoding="utf-8",
    )
    a = run_stress(load_scenario(short), 4, workers=0)
    b = run_stress(load_scenario(table), 4, workers=0)
    assert a.paths.equals(b.paths)
    bad = tmp_path / "bad.toml"
    bad.write_text(
        text.replace('impact = "linear:3000"', 'impact = { model = "linear", depth_1pct = 3000 }'),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=r"bad.toml: venues\[0\].impact.depth_1pct: unknown key"):
        load_scenario(bad)
