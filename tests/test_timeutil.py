"""The one time module: ms <-> ISO <-> UTC datetime, and clear errors for bad times."""

from __future__ import annotations

import doctest
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from liqcascade import timeutil
from liqcascade.errors import InputError
from liqcascade.timeutil import datetime_to_ms, ms_to_datetime, ms_to_iso, parse_iso, to_ms, to_utc


def test_examples_run():
    res = doctest.testmod(timeutil)
    assert res.attempted > 0 and res.failed == 0


@given(st.integers(1_230_768_000_000, 4_102_444_800_000))  # 2009..2100
def test_ms_round_trips(ms):
    assert datetime_to_ms(ms_to_datetime(ms)) == ms
    assert to_ms(ms) == ms and to_ms(str(ms)) == ms and to_ms(np.int64(ms)) == ms
    # ISO text has second resolution: it round-trips to the second
    assert to_ms(ms_to_iso(ms)) == ms - ms % 1000


def test_offsets_and_naive_times_are_utc():
    assert parse_iso("2025-10-10T23:00+02:00") == datetime(2025, 10, 10, 21, tzinfo=UTC)
    assert to_utc(datetime(2025, 10, 10, 21)) == datetime(2025, 10, 10, 21, tzinfo=UTC)
    east = datetime(2025, 10, 11, 2, tzinfo=timezone(timedelta(hours=5)))
    assert to_ms(east) == to_ms("2025-10-10T21:00:00Z")
    assert to_utc(None) is None


@pytest.mark.parametrize("bad", ["yesterday", True, float("nan"), [1]])
def test_bad_times_name_the_field(bad):
    with pytest.raises(InputError, match="since"):
        to_ms(bad, "since")
