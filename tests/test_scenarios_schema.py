"""Scenario files: valid files load; invalid ones fail naming the file and the key."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from liqcascade.errors import ConfigError
from liqcascade.scenarios import schema as S
from liqcascade.scenarios.schema import load_scenario, parse_scenario

ROOT = Path(__file__).resolve().parents[1]
BASE = {
    "scenario": {"name": "t"},
    "venues": [{"name": "generic", "symbol": "BTCUSDT", "impact": "linear:100"}],
    "book": {"source": "synthetic", "n_positions": 1000},
    "shock": {"kind": "jump", "size": -0.1},
}


def _err(mutate) -> str:
    raw = copy.deepcopy(BASE)
    mutate(raw)
    with pytest.raises(ConfigError) as exc:
        parse_scenario(raw, name="scenario.toml")
    return str(exc.value)


@pytest.mark.parametrize("path", sorted((ROOT / "examples").glob("stress_*.toml")))
def test_shipped_examples_load(path: Path) -> None:
    sc = load_scenario(path)
    assert sc.scenario.name
    assert sc.source_path == str(path.resolve())


def test_round_trip_through_dict() -> None:
    sc = parse_scenario(copy.deepcopy(BASE))
    again = parse_scenario({k: v for k, v in sc.to_dict().items() if k != "source_path"})
    assert again == sc


def test_unknown_kind_names_key_and_choices() -> None:
    msg = _err(lambda r: r["shock"].update(kind="jmp"))
    assert msg.startswith(
        "scenario.toml: shock.kind: expected one of jump|news|bridge|jump_diffusion|garch|collateral"
    )
    assert "'jmp'" in msg and "did you mean 'jump'" in msg


def test_unknown_key_suggests_nearest() -> None:
    msg = _err(lambda r: r["shock"].update(sze=-0.2))
    assert "shock.sze: unknown key" in msg and "did you mean 'size'" in msg


def test_unknown_top_level_table() -> None:
    msg = _err(lambda r: r.update(behaviour={}))
    assert "behaviour: unknown key" in msg and "behaviours" in msg


def test_wrong_type_names_key() -> None:
    msg = _err(lambda r: r["shock"].update(size="big"))
    assert "shock.size: expected a number, got 'big'" in msg


def test_out_of_range_leverage_names_venue_row() -> None:
    msg = _err(lambda r: r["venues"][0].update(max_leverage=2000))
    assert "venues[0].max_leverage" in msg and "1001" in msg


def test_missing_table_and_missing_tag() -> None:
    assert "book: missing required key" in _err(lambda r: r.pop("book"))
    msg = _err(lambda r: r["shock"].pop("kind"))
    assert "shock.kind: missing required key" in msg


def test_cross_field_rules_point_at_table() -> None:
    msg = _err(lambda r: r["shock"].update(size_range=[-0.2, -0.1]))
    assert "shock: give exactly one of size or size_range" in msg
    seg = {
        "share": 0.5,
        "leverage": {"dist": "fixed", "value": 2},
        "size": {"dist": "fixed", "value": 10},
    }
    msg = _err(lambda r: r["book"].update(segments={"retail": seg}))
    assert "book: segment shares add up to 0.5" in msg


def test_nested_dict_key_is_named() -> None:
    seg = {
        "share": 1.0,
        "leverage": {"dist": "pareto", "alpha": 1.0, "x_min": 5.0, "x_max": 2.0},
        "size": {"dist": "fixed", "value": 10},
    }
    msg = _err(lambda r: r["book"].update(segments={"retail": seg}))
    assert "book.segments.retail.leverage" in msg and "x_max" in msg
    msg = _err(
        lambda r: r["book"].update(segments={"retail": {**seg, "leverage": {"dist": "paretto"}}})
    )
    assert (
        "book.segments.retail.leverage.dist: expected one of pareto|lognormal|uniform|fixed" in msg
    )


def test_collateral_asset_errors_name_index() -> None:
    msg = _err(
        lambda r: r.update(
            shock={"kind": "collateral", "assets": [{"asset": "USDe", "depeg": 1.5}]}
        )
    )
    assert "shock.assets[0].depeg" in msg


def test_path_grid_must_divide() -> None:
    msg = _err(
        lambda r: r.update(shock={"kind": "news", "impulse": -0.1, "horizon_s": 100, "step_s": 30})
    )
    assert "shock: horizon_s=100.0 is not a multiple of step_s=30.0" in msg


def test_venue_shares_must_add_up() -> None:
    msg = _err(
        lambda r: r["venues"].append(
            {"name": "binance_usdm", "symbol": "BTCUSDT", "impact": "linear:1"}
        )
    )
    assert "share values add up to 2" in msg


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_scenario(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[shock\nkind = 1\n")
    with pytest.raises(ConfigError, match=r"bad\.toml: invalid TOML"):
        load_scenario(bad)
    typo = tmp_path / "typo.toml"
    typo.write_text(
        '[scenario]\nname="x"\n[[venues]]\nname="generic"\nsymbol="BTC"\nimpact="linear:1"\n'
        '[book]\nsource="synthetic"\nn_positions=10\n[shock]\nkind="jmp"\n'
    )
    with pytest.raises(ConfigError, match=r"^typo\.toml: shock\.kind: expected one of"):
        load_scenario(typo)


def test_behaviours_active_respects_enabled() -> None:
    b = S.Behaviours(arbitrage=S.Arbitrage(enabled=False), dip_buying=S.DipBuying())
    assert b.active() == ["dip_buying"]


def test_configs_are_frozen() -> None:
    sc = parse_scenario(copy.deepcopy(BASE))
    with pytest.raises(AttributeError):
        sc.shock.size = 0.5  # type: ignore[misc]


def test_default_segments_come_from_the_shipped_file() -> None:
    """A synthetic book without ``segments`` gets the shipped table, which ships in the package."""
    from liqcascade.resources import package_path

    path = package_path(*S.DEFAULT_SEGMENTS_FILE.split("/"))
    assert path.is_file()
    segs = parse_scenario(copy.deepcopy(BASE)).book.segments
    assert tuple(segs) == S.SEGMENTS
    assert sum(s.share for s in segs.values()) == pytest.approx(1.0)
    retail, inst, mm = (segs[name] for name in S.SEGMENTS)
    assert (retail.share, retail.long_fraction, retail.cross_fraction) == (0.9, 0.7, 0.4)
    assert retail.cross_excess == 0.5  # SegmentConfig's default, not in the file
    assert retail.leverage == S.ParetoDist(alpha=1.2, x_min=2.0, x_max=1001.0)
    assert inst.size == S.ParetoDist(alpha=1.3, x_min=100_000.0, x_max=5e7)
    assert mm.leverage == S.LognormalDist(median=3.0, sigma=0.4, x_min=1.0, x_max=20.0)
    assert (mm.cross_fraction, mm.cross_excess) == (1.0, 2.0)
    # each book gets its own table: changing one does not change the next default
    segs.pop("retail")
    assert "retail" in parse_scenario(copy.deepcopy(BASE)).book.segments
