"""Liquidation map on real shipped klines (BTCUSDT 1m, 10 Oct 2025)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from liqcascade.errors import ConfigError, DataError
from liqcascade.estimate import (
    LeveragePrior,
    compare_priors,
    estimate_map,
    load_prior,
    sensitivity_table,
)

KL = (
    Path(str(resources.files("liqcascade") / "sample_data"))
    / "binance/um/klines/BTCUSDT-1m-2025-10-10.csv"
)


@pytest.fixture(scope="module")
def bars() -> pl.DataFrame:
    # a small real slice: 18:00-20:50 UTC before the crash
    df = pl.read_csv(KL)
    return df.filter(pl.col("open_time").is_between(1760119200000, 1760129340000))


def test_map_scaled_to_open_interest_and_priced_correctly(bars: pl.DataFrame) -> None:
    m = estimate_map(
        bars,
        venue="binance_usdm",
        symbol="BTCUSDT",
        at="2025-10-10T20:50",
        open_interest_base=1000.0,
    )
    tot = {r["side"]: r["size_base"] for r in m.totals.to_dicts()}
    assert tot[1] == pytest.approx(1000.0) and tot[-1] == pytest.approx(1000.0)
    assert m.levels["size_base"].sum() == pytest.approx(2000.0)
    assert set(m.levels.columns) >= {"price_level", "side", "venue", "notional_quote"}
    ref = m.meta["reference_price"]
    longs = m.cohorts.filter(pl.col("side") == 1)
    shorts = m.cohorts.filter(pl.col("side") == -1)
    # surviving longs liquidate below every later low, shorts above every later high
    assert (longs["liquidation_price"] < ref).all()
    assert (shorts["liquidation_price"] > ref).all()
    # 10x long from the margin rules: liq about 9.6% below entry (mmr 0.4% at 20k notional)
    ten = longs.filter(pl.col("leverage") == 10.0).row(0, named=True)
    assert ten["liquidation_price"] / ten["entry_price"] == pytest.approx(
        (1 - 0.1) / (1 - 0.004), rel=1e-3
    )


def test_crossed_cohorts_are_closed(bars: pl.DataFrame) -> None:
    m = estimate_map(
        bars,
        venue="binance_usdm",
        symbol="BTCUSDT",
        at="2025-10-10T20:50",
        open_interest_base=1000.0,
    )
    entry_t = m.cohorts["entry_time_ms"].to_numpy()
    lp = m.cohorts["liquidation_price"].to_numpy()
    side = m.cohorts["side"].to_numpy()
    t = bars["open_time"].to_numpy()
    lows, highs = bars["low"].to_numpy(), bars["high"].to_numpy()
    for i in np.random.default_rng(3).choice(len(lp), 200, replace=False):
        later = t > entry_t[i]
        if later.any():
            if side[i] == 1:
                assert lp[i] < lows[later].min()
            else:
                assert lp[i] > highs[later].max()
    assert m.totals["liquidated_before_size_base"].sum() > 0


def test_high_prior_puts_more_near_price(bars: pl.DataFrame) -> None:
    wide, maps = compare_priors(
        bars,
        ["default", "high"],
        venue="binance_usdm",
        symbol="BTCUSDT",
        at="2025-10-10T20:50",
        open_interest_base=1000.0,
    )
    assert {"notional_quote__default", "notional_quote__high"} <= set(wide.columns)
    s = sensitivity_table(maps).to_dicts()
    assert s[1]["long_within_2pct_quote"] > s[0]["long_within_2pct_quote"]


def test_prior_cap_from_venue_rules(bars: pl.DataFrame) -> None:
    p = load_prior("generic.default")
    # the generic prior reaches 1001x; Binance BTCUSDT caps at 125x: the excess moves to the cap
    p2 = LeveragePrior(venue="binance_usdm", name="t", leverage=p.leverage, weight=p.weight)
    m = estimate_map(
        bars,
        venue="binance_usdm",
        symbol="BTCUSDT",
        at="2025-10-10T20:50",
        prior=p2,
        open_interest_base=10.0,
    )
    assert max(m.meta["leverage_used"]) == 125.0
    assert m.meta["weight_moved_to_cap"] == pytest.approx(0.04 + 0.03 + 0.03)  # 200x, 500x, 1001x
    assert sum(m.meta["weight_used"]) == pytest.approx(1.0)


def test_bad_inputs_name_the_problem(tmp_path: Path, bars: pl.DataFrame) -> None:
    f = tmp_path / "p.toml"
    f.write_text(
        'schema = "liqcascade.prior/1"\nvenue = "binance_usdm"\nname = "x"\n[leverage]\nlevels = [2, 5]\nweights = [0.5, 0.4]\n'
    )
    with pytest.raises(
        ConfigError, match="p.toml: leverage: weights: expected fractions summing to 1"
    ):
        load_prior(f)
    with pytest.raises(DataError, match="no bar"):
        estimate_map(
            bars,
            venue="binance_usdm",
            symbol="BTCUSDT",
            at="2025-10-01T00:00",
            open_interest_base=1.0,
        )
    with pytest.raises(DataError, match="missing column"):
        estimate_map(
            bars.drop("low"), venue="binance_usdm", symbol="BTCUSDT", at="2025-10-10T20:50"
        )
