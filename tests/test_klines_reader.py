"""The strict 1m kline reader (liqcascade.data.klines) on the shipped files and broken copies."""

from __future__ import annotations

import zipfile
from importlib.resources import files
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from liqcascade import risk
from liqcascade.data import ingest_paths
from liqcascade.data.klines import (
    Tape,
    history_from_store,
    join_history,
    largest_fall,
    read_klines,
    tape_from_frame,
)
from liqcascade.errors import DataError, InputError
from liqcascade.scenarios.shocks import read_klines as shocks_read_klines

KLINES = Path(str(files("liqcascade") / "sample_data")) / "binance/um/klines"
DAY = KLINES / "BTCUSDT-1m-2025-10-10.csv"
NEXT_DAY = KLINES / "BTCUSDT-1m-2025-10-11.csv"
WINDOWS = sorted(KLINES.glob("BTCUSDT-1m-2025-*T*.csv"))
T0 = 1760054400000  # 2025-10-10T00:00:00Z


def _lines(path: Path = DAY) -> list[str]:
    return path.read_text().splitlines()


def _write(tmp_path: Path, lines: list[str], name: str = "BTCUSDT-1m-2025-10-10.csv") -> Path:
    p = tmp_path / name
    p.write_text("\n".join(lines) + "\n")
    return p


# --------------------------------------------------------------------------------------------
# the shipped files
# --------------------------------------------------------------------------------------------
def test_crash_day_reads_into_a_tape() -> None:
    t = read_klines(DAY)
    assert isinstance(t, Tape)
    assert len(t) == 1440 and t.symbol == "BTCUSDT" and t.source == str(DAY)
    assert t.first_line == 2
    assert t.open_ms.dtype == np.int64 and t.close.dtype == np.float64
    assert int(t.open_ms[0]) == T0 and np.all(np.diff(t.open_ms) == 60_000)
    assert t.iso(0) == "2025-10-10T00:00:00Z" and t.iso(-1) == "2025-10-10T23:59:00Z"
    # first data row of the file, byte for byte
    first = _lines()[1].split(",")
    assert t.open[0] == float(first[1]) and t.volume_base[0] == float(first[5])
    assert t.taker_buy_base[0] == float(first[9])
    assert t.net_flow_base[0] == pytest.approx(2 * 46.418 - 85.321)
    k = int(np.argmin(t.low))
    assert t.low[k] == 101516.5 and t.iso(k) == "2025-10-10T21:20:00Z"


@pytest.mark.parametrize("path", WINDOWS, ids=lambda p: p.name)
def test_every_training_window_is_6_hours_of_1m_bars(path: Path) -> None:
    t = read_klines(path)
    assert len(t) == 360 and t.symbol == "BTCUSDT"
    # the file name says the window: BTCUSDT-1m-2025-10-02T1200-1800.csv starts at 12:00
    start = path.stem.rsplit("T", 1)[1].split("-")[0]
    assert t.iso(0)[11:16] == f"{start[:2]}:{start[2:]}"
    assert np.all(t.low <= np.minimum(t.open, t.close))
    assert np.all(t.taker_buy_base <= t.volume_base)


def test_windows_are_all_shipped() -> None:
    assert len(WINDOWS) == 10
    shared = Path(__file__).resolve().parents[2] / "shared/data/binance/um/klines"
    if shared.is_dir():  # byte-for-byte copies of the shared data
        for p in WINDOWS:
            assert p.read_bytes() == (shared / p.name).read_bytes()


def test_slice_and_to_polars_round_trip() -> None:
    t = read_klines(DAY)
    s = t.slice(1270, 1290)
    assert len(s) == 20 and s.iso(0) == "2025-10-10T21:10:00Z"
    assert s.first_line == 2 + 1270
    assert s.low.min() == 101516.5
    assert len(t.slice(-10, len(t))) == 10 and len(t.slice(5, 3)) == 0
    df = s.to_polars()
    assert df.columns[:5] == ["open_time", "open", "high", "low", "close"]
    assert (df["close_time"] - df["open_time"]).unique().to_list() == [59_999]
    back = tape_from_frame(df, "frame", "BTCUSDT")
    for name in ("open_ms", "open", "high", "low", "close", "volume_base", "taker_buy_base"):
        assert np.array_equal(getattr(back, name), getattr(s, name))


def test_tape_rejects_arrays_of_different_lengths() -> None:
    one = np.ones(3)
    with pytest.raises(InputError, match="equal lengths"):
        Tape("x", None, np.arange(3), one, one, one, one, one, np.ones(2))


# --------------------------------------------------------------------------------------------
# errors, each naming the file, the line and what was expected
# --------------------------------------------------------------------------------------------
def test_dropped_row_is_a_gap_naming_its_line(tmp_path: Path) -> None:
    lines = _lines()
    del lines[101]  # line 102 held the 01:40 bar; the 01:41 bar moves up to line 102
    p = _write(tmp_path, lines)
    with pytest.raises(DataError) as e:
        read_klines(p)
    msg = str(e.value)
    assert msg.startswith(f"{p}: line 102, field open_time: ")
    assert "(2025-10-10T01:41:00Z) is a gap of 2 minutes" in msg
    assert msg.endswith(
        "expected open_time = previous + 60000 ms = 1760060400000 (2025-10-10T01:40:00Z)"
    )


def test_duplicate_and_disorder(tmp_path: Path) -> None:
    lines = _lines()
    dup = _write(tmp_path, [*lines[:11], lines[10], *lines[11:]], "dup.csv")
    with pytest.raises(DataError, match=r"line 12, field open_time: .* duplicate"):
        read_klines(dup)
    swapped = lines[:]
    swapped[5], swapped[6] = swapped[6], swapped[5]
    # the close_time of the swapped rows still matches their open_time, so the step fails
    p = _write(tmp_path, swapped, "swap.csv")
    with pytest.raises(DataError, match=r"line 6, field open_time: .* gap of 2 minutes"):
        read_klines(p)
    back = _write(tmp_path, [*lines[:5], lines[2], *lines[6:]], "back.csv")
    with pytest.raises(DataError, match=r"line 6, field open_time: .*\(disorder\)"):
        read_klines(back)


def _five_minute(lines: list[str]) -> list[str]:
    out = [lines[0]]
    for k, line in enumerate(lines[1:50]):
        f = line.split(",")
        f[0] = str(T0 + k * 300_000)
        f[6] = str(T0 + k * 300_000 + 299_999)
        out.append(",".join(f))
    return out


def test_five_minute_file_is_refused_as_another_interval(tmp_path: Path) -> None:
    p = _write(tmp_path, _five_minute(_lines()), "BTCUSDT-5m-2025-10-10.csv")
    with pytest.raises(
        DataError, match=r"line 2, field close_time: .*expected 1-minute bars \(1m\)"
    ):
        read_klines(p)
    # right close_time but 5-minute steps: still the interval message, on the second bar
    lines = _five_minute(_lines())
    fixed = [lines[0]]
    for line in lines[1:]:
        f = line.split(",")
        f[6] = str(int(f[0]) + 59_999)
        fixed.append(",".join(f))
    p2 = _write(tmp_path, fixed, "steps.csv")
    with pytest.raises(DataError, match=r"line 3, .*first step is 300000 ms; expected 1-minute"):
        read_klines(p2)


def test_shipped_5m_price_klines_are_refused() -> None:
    z = Path(str(files("liqcascade") / "sample_data")) / (
        "binance/um/priceKlines/BTCUSDT-5m-2025-10-10.zip"
    )
    with pytest.raises(DataError, match="expected 1-minute bars"):
        read_klines(z)


def test_missing_taker_columns(tmp_path: Path) -> None:
    lines = _lines()
    cut = [",".join(line.split(",")[:9]) for line in lines[:20]]
    p = _write(tmp_path, cut, "header.csv")
    with pytest.raises(DataError, match="taker-buy volume column .* is required") as e:
        read_klines(p)
    assert "header.csv: line 1 (header)" in str(e.value)
    p2 = _write(tmp_path, cut[1:], "noheader.csv")
    with pytest.raises(DataError, match=r"line 1: 9 columns; the taker-buy volume column"):
        read_klines(p2)
    # 10 columns headerless: taker_buy_volume present but taker_buy_quote_volume not -> refused
    ten = [",".join(line.split(",")[:10]) for line in lines[1:20]]
    with pytest.raises(DataError, match="at least 11 columns"):
        read_klines(_write(tmp_path, ten, "ten.csv"))


def test_headerless_file_is_accepted_with_first_line_1(tmp_path: Path) -> None:
    lines = _lines()
    p = _write(tmp_path, lines[1:], "BTCUSDT-1m-2025-10-10.csv")
    t = read_klines(p)
    ref = read_klines(DAY)
    assert t.first_line == 1 and len(t) == 1440 and t.symbol == "BTCUSDT"
    assert np.array_equal(t.close, ref.close) and np.array_equal(t.open_ms, ref.open_ms)
    bad = lines[1:]
    del bad[99]
    with pytest.raises(DataError, match="line 100, field open_time"):
        read_klines(_write(tmp_path, bad, "bad.csv"))


def test_microsecond_timestamps_become_ms(tmp_path: Path) -> None:
    lines = _lines()
    us = [lines[0]]
    for line in lines[1:]:
        f = line.split(",")
        f[0] = f[0] + "000"
        f[6] = f[6] + "999"  # close_time in µs is open + 59 999 999
        us.append(",".join(f))
    assert len(us[1].split(",")[0]) == 16
    t = read_klines(_write(tmp_path, us, "us.csv"))
    assert np.array_equal(t.open_ms, read_klines(DAY).open_ms)
    # one row left in ms among µs rows is refused
    mixed = us[:]
    mixed[7] = lines[7]
    with pytest.raises(DataError, match=r"line 8, field open_time: .* not in us"):
        read_klines(_write(tmp_path, mixed, "mixed.csv"))
    # the loose readers normalise too
    assert risk.read_klines(tmp_path / "us.csv")["open_time"][0] == T0


@pytest.mark.parametrize(
    ("col", "value", "match"),
    [
        (4, "abc", r"line 5, field close: 'abc' is not numeric"),
        (2, "nan", r"line 5, field high: nan is not a finite number"),
        (5, "-1", r"line 5, field volume: volume -1.0; expected a volume >= 0"),
        (3, "0", r"line 5, field price|line 5, field low"),
        (1, "", r"line 5, field open: value missing"),
        (0, "17600544000x0", r"line 5, field open_time: .* not numeric"),
        (9, "1000000", r"line 5, field taker_buy_volume: .* exceeds the volume"),
    ],
)
def test_bad_values_name_line_and_field(tmp_path: Path, col: int, value: str, match: str) -> None:
    lines = _lines()
    f = lines[4].split(",")
    f[col] = value
    lines[4] = ",".join(f)
    with pytest.raises(DataError, match=match):
        read_klines(_write(tmp_path, lines))


def test_low_above_body_and_high_below_body(tmp_path: Path) -> None:
    lines = _lines()
    f = lines[10].split(",")  # open 121579.40-ish; push the low above the close
    f[3] = str(max(float(f[1]), float(f[4])) - 0.05)
    lines[10] = ",".join(f)
    with pytest.raises(DataError, match=r"line 11, field low: .* above min\(open, close\)"):
        read_klines(_write(tmp_path, lines, "low.csv"))
    lines = _lines()
    f = lines[20].split(",")
    f[2] = str(min(float(f[1]), float(f[4])) + 0.05)
    lines[20] = ",".join(f)
    with pytest.raises(DataError, match=r"line 21, field high: .* below max\(open, close\)"):
        read_klines(_write(tmp_path, lines, "high.csv"))


def test_earliest_problem_is_reported(tmp_path: Path) -> None:
    lines = _lines()
    del lines[300]  # gap at line 300
    f = lines[30].split(",")
    f[9] = "99999"  # taker > volume at line 31
    lines[30] = ",".join(f)
    with pytest.raises(DataError, match="line 31, field taker_buy_volume"):
        read_klines(_write(tmp_path, lines))


def test_empty_ragged_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="empty file"):
        read_klines(_write(tmp_path, [], "empty.csv"))
    with pytest.raises(DataError, match="empty file: no kline rows below the header"):
        read_klines(_write(tmp_path, _lines()[:1], "header_only.csv"))
    lines = _lines()[:30]
    lines[12] += ",7"
    with pytest.raises(DataError, match="line 13: 13 fields; expected 12"):
        read_klines(_write(tmp_path, lines, "ragged.csv"))
    lines = _lines()[:30]
    lines[12] = ""
    with pytest.raises(DataError, match="line 13, field open_time: value missing"):
        read_klines(_write(tmp_path, lines, "blank.csv"))
    with pytest.raises(DataError, match="not found"):
        read_klines(tmp_path / "nope.csv")


def test_zip_holding_one_csv(tmp_path: Path) -> None:
    z = tmp_path / "BTCUSDT-1m-2025-10-10.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.write(DAY, DAY.name)
    t = read_klines(z)
    assert len(t) == 1440 and t.symbol == "BTCUSDT"


def test_loose_readers_still_parse_through_it() -> None:
    kl = shocks_read_klines([str(DAY)])
    assert kl.height == 1440 and kl["low"].min() == 101516.5
    df = risk.read_klines(NEXT_DAY)
    assert df.height == 1440 and df["open_time"][0] == T0 + 86_400_000


# --------------------------------------------------------------------------------------------
# frames, the store, joins
# --------------------------------------------------------------------------------------------
def test_tape_from_frame_checks_like_the_file_reader() -> None:
    df = read_klines(DAY).to_polars().head(50)
    gap = pl.concat([df.head(10), df.slice(11)])
    with pytest.raises(DataError, match=r"frm: row 11, field open_time: .* gap"):
        tape_from_frame(gap, "frm")
    with pytest.raises(DataError, match="taker-buy volume column .* is required"):
        tape_from_frame(df.drop("taker_buy_volume"), "frm")
    with pytest.raises(DataError, match="expected 1-minute bars"):
        tape_from_frame(df.with_columns(interval=pl.lit("5m")), "frm")
    alias = df.rename({"volume": "volume_base", "taker_buy_volume": "taker_buy_base"})
    assert len(tape_from_frame(alias.drop("close_time"), "frm")) == 50


def test_history_from_store_and_join(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    ingest_paths([DAY], db, venue="binance_usdm", symbol="BTCUSDT")
    nxt = read_klines(NEXT_DAY)
    start = int(nxt.open_ms[0])
    h = history_from_store(db, "BTCUSDT", start, 120)
    assert h is not None and len(h) == 120 and h.source == "store:BTCUSDT"
    assert int(h.open_ms[-1]) == start - 60_000 and h.symbol == "BTCUSDT"
    day = read_klines(DAY)
    assert np.array_equal(h.close, day.close[-120:])
    assert np.array_equal(h.taker_buy_base, day.taker_buy_base[-120:])
    joined, k = join_history(h, nxt)
    assert k == 120 and len(joined) == 120 + 1440
    assert np.all(np.diff(joined.open_ms) == 60_000)
    assert joined.iso(k) == "2025-10-11T00:00:00Z" and joined.close[k] == nxt.close[0]
    # never at or after before_ms: ask for bars before 21:20 of the stored day
    t2120 = T0 + (21 * 60 + 20) * 60_000
    h2 = history_from_store(db, "BTCUSDT", t2120, 30)
    assert h2 is not None and int(h2.open_ms.max()) == t2120 - 60_000 and len(h2) == 30
    assert 101516.5 not in h2.low
    # nothing stored before the day, another symbol -> None
    assert history_from_store(db, "BTCUSDT", T0, 60) is None
    assert history_from_store(db, "ETHUSDT", start, 60) is None


def test_join_history_when_not_adjacent() -> None:
    day = read_klines(DAY)
    tape = day.slice(600, 700)
    # a gap between history and tape: just the tape
    j, k = join_history(day.slice(100, 200), tape)
    assert j is tape and k == 0
    assert join_history(None, tape) == (tape, 0)
    # overlapping history: only its part before the tape
    j, k = join_history(day.slice(500, 650), tape)
    assert k == 100 and len(j) == 200 and np.array_equal(j.close, day.close[500:700])
    # a gap inside the history: only its contiguous tail
    a, b = day.slice(400, 450), day.slice(520, 600)
    holey = Tape(
        "h",
        "BTCUSDT",
        np.concatenate([a.open_ms, b.open_ms]),
        *(np.concatenate([getattr(a, n), getattr(b, n)]) for n in ("open", "high", "low")),
        np.concatenate([a.close, b.close]),
        np.concatenate([a.volume_base, b.volume_base]),
        np.concatenate([a.taker_buy_base, b.taker_buy_base]),
    )
    j, k = join_history(holey, tape)
    assert k == 80 and j.iso(0) == day.iso(520) and np.all(np.diff(j.open_ms) == 60_000)


# --------------------------------------------------------------------------------------------
# largest fall
# --------------------------------------------------------------------------------------------
def test_largest_fall_of_the_crash_day() -> None:
    t = read_klines(DAY)
    i, j = largest_fall(t, 60)
    assert t.low[j] == 101516.5 and t.iso(j) == "2025-10-10T21:20:00Z"
    assert i <= j < i + 60
    assert t.iso(i) == "2025-10-10T20:44:00Z"
    # brute force: no bar does better
    best = max(t.high[a] / t.low[a : a + 60].min() for a in range(len(t)))
    assert t.high[i] / t.low[j] == best


def test_largest_fall_small_cases_and_ties() -> None:
    def tape(high: list[float], low: list[float]) -> Tape:
        n = len(high)
        h, lo = np.array(high), np.array(low)
        mid = (h + lo) / 2
        return Tape("t", None, T0 + 60_000 * np.arange(n), mid, h, lo, mid, np.ones(n), np.ones(n))

    # fall 10/8 from bar 0 to bar 2, and a tie 10/8 later: the earliest wins
    t = tape([10, 9, 9, 10, 9, 9], [9, 8.5, 8, 9, 8, 8])
    assert largest_fall(t, 3) == (0, 2)
    # window truncated at the end: the last bar's fall is its own range
    t = tape([10, 10, 12], [9.5, 9.5, 6])
    assert largest_fall(t, 5) == (2, 2)
    # a window too short to reach the deep low
    t = tape([10, 10, 10, 10], [9.9, 9.9, 9.9, 5])
    assert largest_fall(t, 2) == (2, 3)
    assert largest_fall(t, 1) == (3, 3)
    with pytest.raises(InputError):
        largest_fall(t, 0)
