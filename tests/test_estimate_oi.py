"""Liquidation map driven by an open-interest series (real klines, constructed OI steps)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import polars as pl
import pytest

from liqcascade.errors import DataError
from liqcascade.estimate import estimate_map

KL = (
    Path(str(resources.files("liqcascade") / "sample_data"))
    / "binance/um/klines/BTCUSDT-1m-2025-10-10.csv"
)
AT = 1760129400000  # 2025-10-10 20:50 UTC


@pytest.fixture(scope="module")
def bars() -> pl.DataFrame:
    return pl.read_csv(KL).filter(pl.col("open_time").is_between(AT - 3 * 3_600_000, AT - 60_000))


def test_positions_open_only_where_open_interest_rises(bars: pl.DataFrame) -> None:
    t0 = int(bars["open_time"][0])
    # OI (base) rises by 100 at 30 min, falls at 60 min, rises by 300 at 120 min; sampled every 5 min
    times = list(range(t0, AT, 300_000))
    level = [
        1000.0
        + 100.0 * (t >= t0 + 1_800_000)
        - 50.0 * (t >= t0 + 3_600_000)
        + 300.0 * (t >= t0 + 7_200_000)
        for t in times
    ]
    oi = pl.DataFrame({"time_ms": times, "open_interest_base": level})
    m = estimate_map(bars, venue="binance_usdm", symbol="BTCUSDT", at=AT, open_interest=oi)
    assert m.meta["weight_mode"] == "open_interest_increase"
    assert m.meta["open_interest_base"] == pytest.approx(level[-1])
    opened = sorted(set(m.cohorts["entry_time_ms"].to_list()))
    # the bars whose close first sees each increase, and nothing else
    assert all(
        abs(t - (t0 + 1_800_000)) <= 120_000 or abs(t - (t0 + 7_200_000)) <= 120_000 for t in opened
    )
    tot = {r["side"]: r["size_base"] for r in m.totals.to_dicts()}
    assert tot[1] == pytest.approx(level[-1]) and tot[-1] == pytest.approx(level[-1])


def test_open_interest_series_checked(bars: pl.DataFrame) -> None:
    with pytest.raises(DataError, match="open_interest"):
        estimate_map(
            bars,
            venue="binance_usdm",
            symbol="BTCUSDT",
            at=AT,
            open_interest=pl.DataFrame({"t": [1]}),
        )
    late = pl.DataFrame({"time_ms": [AT + 60_000], "open_interest_base": [5.0]})
    with pytest.raises(DataError, match="no value"):
        estimate_map(bars, venue="binance_usdm", symbol="BTCUSDT", at=AT, open_interest=late)
