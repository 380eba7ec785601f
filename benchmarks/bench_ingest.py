"""Ingestion speed: a generated Binance USDⓈ-M aggTrades CSV (default 10M rows) into a fresh store.

Run: ``.venv/bin/python benchmarks/bench_ingest.py [--rows 10000000] [--zip] [--keep DIR]``

Prints rows/s for the whole ``ingest_file`` call (SHA-256 of the file, format detection, DuckDB
``read_csv`` into the table, timestamp range check, commit), and for a second run of the same file
(the duplicate check only). The file is generated from a seeded numpy Generator (seed printed):
a price random walk in 0.1 USDT ticks around 121,000, lognormal sizes, millisecond timestamps, in the
exact column layout and header of Binance's futures aggTrades files.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import polars as pl

from liqcascade.data import Store, ingest_file


def make_aggtrades(path: Path, rows: int, seed: int) -> None:
    """Write a Binance futures aggTrades CSV with ``rows`` rows (header included)."""
    rng = np.random.default_rng(seed)
    steps = rng.integers(-3, 4, size=rows)
    price_ticks = 1_210_000 + np.cumsum(steps)
    qty = np.round(rng.lognormal(mean=-4.0, sigma=1.5, size=rows), 3) + 0.001
    n_fills = rng.integers(1, 6, size=rows)
    last_id = 6_000_000_000 + np.cumsum(n_fills)
    first_id = last_id - n_fills + 1
    t_ms = 1_760_054_400_000 + np.sort(rng.integers(0, 86_400_000, size=rows))
    df = pl.DataFrame(
        {
            "agg_trade_id": np.arange(2_900_000_000, 2_900_000_000 + rows, dtype=np.int64),
            "price": (price_ticks / 10.0).round(1),
            "quantity": qty,
            "first_trade_id": first_id,
            "last_trade_id": last_id,
            "transact_time": t_ms,
            "is_buyer_maker": np.where(rng.random(rows) < 0.5, "true", "false"),
        }
    )
    df.write_csv(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--seed", type=int, default=20251010)
    ap.add_argument("--zip", action="store_true", help="also time the zipped file")
    ap.add_argument("--keep", type=Path, default=None, help="work folder to keep (default: temp)")
    args = ap.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    work.mkdir(parents=True, exist_ok=True)
    csv_path = work / "BTCUSDT-aggTrades-2025-10-10.csv"
    stamp = work / f".generated-{args.rows}-{args.seed}"
    t0 = time.perf_counter()
    if not (stamp.exists() and csv_path.exists()):  # --keep DIR reuses an earlier file
        make_aggtrades(csv_path, args.rows, args.seed)
        stamp.touch()
    gen_s = time.perf_counter() - t0
    size_mb = csv_path.stat().st_size / 1e6
    print(f"seed={args.seed} rows={args.rows:,} file={size_mb:,.0f} MB ready in {gen_s:.1f} s")
    print(f"cpus={os.cpu_count()}")

    targets = [csv_path]
    if args.zip:
        zpath = work / "BTCUSDT-aggTrades-2025-10-10.zip"
        with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
            zf.write(csv_path, csv_path.name)
        targets.append(zpath)

    try:
        for target in targets:
            db = work / f"bench-{target.suffix[1:]}.duckdb"
            for f in (db, Path(str(db) + ".wal")):
                f.unlink(missing_ok=True)
            with Store(db) as store:
                load0 = os.getloadavg()[0]
                t0, c0 = time.perf_counter(), time.process_time()
                res = ingest_file(store, target)
                dt, cpu = time.perf_counter() - t0, time.process_time() - c0
                load1 = os.getloadavg()[0]
                assert res.status == "ingested", res.error
                t1 = time.perf_counter()
                again = ingest_file(store, target)
                dt2 = time.perf_counter() - t1
                stored = store.table_rows("agg_trades")
            ncpu = os.cpu_count() or 1
            print(
                f"{target.name}: {res.rows:,} rows in {dt:.2f} s wall = {res.rows / dt / 1e6:.2f} "
                f"M rows/s (stored {stored:,}); CPU {cpu:.2f} s over all threads = "
                f"{res.rows / (cpu / ncpu) / 1e6:.2f} M rows/s if the {ncpu} cores were free; "
                f"load average {load0:.1f} -> {load1:.1f}"
            )
            print(f"  re-ingest: {again.status}, {again.rows} rows added, {dt2:.2f} s")
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
