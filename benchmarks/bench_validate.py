"""Benchmark: ``liqcascade.validate.validate_files`` on 15 windows of 6 hours. Prints figures.

The windows are the ten shipped 6-hour BTCUSDT windows and five 6-hour slices (360 bars) of
the two shipped day files: 10 Oct 2025 00:00, 06:00, 12:00, 18:00 and 11 Oct 2025 00:00 UTC.
Every file gets the event replay (model and impact-only, 120 bars) and the rolling forecast
(model and impact-only ensembles of 1,000 paths over the next 30 bars at every bar's close
from the 60th bar on). A warm-up call on one small file (80 bars) runs first so that numba
compilation is timed apart. No output directory: only the computation is timed.

Run: .venv/bin/python benchmarks/bench_validate.py
"""

from __future__ import annotations

import os
import tempfile
import time
from importlib import resources
from pathlib import Path

import numba

from liqcascade.validate import validate_files

KLINES = Path(str(resources.files("liqcascade") / "sample_data" / "binance" / "um" / "klines"))
WINDOW_BARS = 360
DAY_SLICES = (("BTCUSDT-1m-2025-10-10.csv", (0, 1, 2, 3)), ("BTCUSDT-1m-2025-10-11.csv", (0,)))
N_PATHS = 1000


def write_slice(src: Path, first: int, n: int, out: Path) -> Path:
    """Write bars ``first .. first + n - 1`` of a kline CSV (with its header) to ``out``."""
    lines = src.read_text().splitlines()
    out.write_text("\n".join([lines[0], *lines[1 + first : 1 + first + n]]) + "\n")
    return out


def main() -> None:
    windows = sorted(KLINES.glob("BTCUSDT-1m-2025-1*T*.csv"))
    assert len(windows) == 10, windows
    with tempfile.TemporaryDirectory() as tmp:
        files = [str(p) for p in windows]
        for day, slices in DAY_SLICES:
            for k in slices:
                name = f"{Path(day).stem}-slice{6 * k:02d}h.csv"
                p = write_slice(KLINES / day, k * WINDOW_BARS, WINDOW_BARS, Path(tmp) / name)
                files.append(str(p))
        warm = write_slice(windows[0], 0, 80, Path(tmp) / "warmup.csv")

        t = time.perf_counter()
        validate_files([str(warm)], n_paths=N_PATHS)
        print(f"warm-up (numba compilation or cache load), 1 file of 80 bars: "
              f"{time.perf_counter() - t:.2f} s")  # fmt: skip

        t = time.perf_counter()
        res = validate_files(files, n_paths=N_PATHS)
        sec = time.perf_counter() - t

    n_fc = sum(f.forecast.height for f in res.files if f.forecast is not None)
    n_ev = sum(f.event is not None for f in res.files)
    print(
        f"validate_files: {len(files)} files x {WINDOW_BARS} bars, {N_PATHS:,} paths per "
        f"ensemble: {sec:.1f} s total, {sec / len(files):.2f} s per file"
    )
    print(
        f"{n_fc:,} rolling forecasts (each a model and an impact-only ensemble of {N_PATHS:,} "
        f"paths x 30 bars) and {n_ev} event replays: {n_fc / sec:,.0f} forecasts per second"
    )
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    print(
        f"machine: {os.cpu_count()} cores (usable by this process: {affinity}); "
        f"numba threads {numba.config.NUMBA_NUM_THREADS}"
    )


if __name__ == "__main__":
    main()
