"""The 1M-position x 992-shock static ladder as a whole process, as a user runs it.

Run: ``.venv/bin/python benchmarks/bench_ladder_process.py [--n 1000000] [--repeat 3] [--keep DIR]``

Generates a seeded book (seed printed) into a temporary folder as Parquet, Arrow IPC and CSV, and
as Parquet with integer account ids (``pq-int``):
one market (binance_usdm BTCUSDT), text account ids like Hyperliquid addresses (``0x`` + 6 hex
digits, about 4 positions per account), 55 % longs, lognormal sizes (median 0.02 BTC, sigma 1.6),
entries lognormal around P0 = 120,000, isolated leverage 1 + Pareto(1.2) * 5 capped at 20x;
liquidation prices come from the venue rules when the book loads. Impact: the shipped Binance
BTCUSDT bookDepth snapshot of 2025-10-10 12:00.

Then times, each as a fresh subprocess (best and median of ``--repeat`` runs, wall and CPU):

1. ``liqcascade cascade --positions book.parquet --price 120000 --shock -0.496:0.495:0.001
   --impact depth:...@12:00 --json`` end to end (992 shocks), and the same on the CSV and the Arrow
   file;
2. the split of that run, from a child that makes the same library calls as the command and
   stamps the clock between them: start-up (interpreter and imports), load (read, validate,
   liquidation prices), solve (index and ladder, numba kernels loaded from their cache), output
   (JSON) and exit (interpreter teardown: the rest of the process's time), measured from the
   moment the parent launched it;
3. ``PositionBook.from_file`` alone in this process (numba and venue tables already loaded), and
   the first use of a text-id book's account codes (encoded on demand; a ladder never needs them).

Python byte code: an installed wheel ships compiled ``.pyc`` files, so the children run with
``PYTHONDONTWRITEBYTECODE`` unset and a byte-code cache in the temporary folder
(``PYTHONPYCACHEPREFIX``), after one untimed warm-up run that fills it and numba's cache.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from importlib.resources import files
from pathlib import Path

import numpy as np
import polars as pl

P0 = 120_000.0
SEED = 20251014
SHOCKS = "-0.496:0.495:0.001"  # 992 shocks
BOOKDEPTH = (
    files("liqcascade") / "sample_data" / "binance" / "um" / "bookDepth"
    / "BTCUSDT-bookDepth-2025-10-10.csv"
)  # fmt: skip

# The child: the calls `liqcascade cascade` makes, with the clock read between them.
CHILD = r"""
import sys, time, json
t_launch = float(sys.argv[1])
import liqcascade.cli  # the command-line entry point, as the console script imports it
from liqcascade.book import PositionBook
from liqcascade.engine.static import StaticCascade, parse_shocks
from liqcascade.impact import parse_impact
t_import, c_import = time.time(), time.process_time()
book = PositionBook.from_file(sys.argv[2])
t_load, c_load = time.time(), time.process_time()
cascade = StaticCascade(book, parse_impact(sys.argv[4]), float(sys.argv[3]))
rows = cascade.ladder(parse_shocks(sys.argv[5])).to_dicts()
t_solve, c_solve = time.time(), time.process_time()
text = json.dumps(rows)
t_out, c_out = time.time(), time.process_time()
sys.stderr.write(json.dumps({
    "wall": {"start-up": t_import - t_launch, "load": t_load - t_import,
             "solve": t_solve - t_load, "output": t_out - t_solve},
    "cpu": {"start-up": c_import, "load": c_load - c_import, "solve": c_solve - c_load,
            "output": c_out - c_solve},
    "rows": len(rows), "positions": len(book),
}) + "\n")
"""


def make_book(n: int, seed: int) -> pl.DataFrame:
    """The seeded synthetic book (columns of liqcascade.book)."""
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    side = np.where(rng.random(n) < 0.55, "long", "short")
    size = np.maximum(np.round(0.02 * np.exp(1.6 * rng.standard_normal(n)), 3), 0.001)
    lev = np.round(np.minimum(1.0 + rng.pareto(1.2, n) * 5.0, 20.0), 2)
    entry = np.round(P0 * np.exp(0.04 * rng.standard_normal(n)), 1)
    accounts = np.char.add("0x", np.char.mod("%06x", rng.integers(0, max(1, n // 4), n)))
    df = pl.DataFrame(
        {
            "account_id": accounts,
            "venue": "binance_usdm",
            "symbol": "BTCUSDT",
            "side": side,
            "size_base": size,
            "entry_price": entry,
            "leverage": lev,
        }
    )
    # positions already past liquidation at P0 could not be open: drop them
    gap = 1.0 / df["leverage"].to_numpy() - 0.004
    liq_rough = entry * (1.0 - np.where(side == "long", 1.0, -1.0) * gap)
    alive = np.where(side == "long", liq_rough < P0 * 0.999, liq_rough > P0 * 1.001)
    return df.filter(pl.Series(alive))


def child_env(pycache: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


def run(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall time, CPU time (user + system of the child) and stderr of one subprocess."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    out = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} ...: exit {out.returncode}\n{out.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, out.stderr


def stats(values: list[float]) -> str:
    return f"best {min(values):6.3f} s  median {statistics.median(values):6.3f} s"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000, help="positions before dropping dead ones")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--keep", type=Path, default=None, help="write the books here and keep them")
    args = ap.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="liqcascade-ladder-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        t = time.perf_counter()
        df = make_book(args.n, args.seed)
        books = {
            "parquet": work / "book.parquet",
            "arrow": work / "book.arrow",
            "csv": work / "book.csv",
            "pq-int": work / "book_int.parquet",
        }
        df.write_parquet(books["parquet"])
        # the same book with integer account ids (the hex digits read as a number)
        as_int = pl.col("account_id").str.slice(2).str.to_integer(base=16)
        df.with_columns(as_int).write_parquet(books["pq-int"])
        df.write_ipc(books["arrow"])
        df.write_csv(books["csv"])
        print(
            f"book: {df.height:,} positions, {df['account_id'].n_unique():,} text account ids, "
            f"seed {args.seed}; generated in {time.perf_counter() - t:.1f} s "
            f"({', '.join(f'{k} {p.stat().st_size / 1e6:.1f} MB' for k, p in books.items())})"
        )
        env = child_env(work / "pycache")
        exe = Path(sys.executable).with_name("liqcascade")
        cli = [str(exe)] if exe.exists() else [sys.executable, "-m", "liqcascade.cli"]
        impact = f"depth:{BOOKDEPTH}@12:00"

        def cascade_cmd(path: Path) -> list[str]:
            return [*cli, "cascade", "--positions", str(path), "--price", str(P0)] + [
                "--shock", SHOCKS, "--impact", impact, "--json",
            ]  # fmt: skip

        run(cascade_cmd(books["parquet"]), env)  # warm-up: byte code and numba caches
        print(f"\nwhole process, `liqcascade cascade ... --shock {SHOCKS} --json` (992 shocks):")
        walls: dict[str, list[float]] = {k: [] for k in books}
        cpus: dict[str, list[float]] = {k: [] for k in books}
        for _ in range(args.repeat):  # formats interleaved: a shared machine's load drifts
            for kind, path in books.items():
                w, c, _ = run(cascade_cmd(path), env)
                walls[kind].append(w)
                cpus[kind].append(c)
        for kind in books:
            print(f"  {kind:8s} wall {stats(walls[kind])}   cpu {stats(cpus[kind])}")

        print("\nsplit (a child making the command's calls; seconds from launch):")
        for kind in ("parquet", "pq-int", "csv"):
            wall: dict[str, list[float]] = {}
            cpu: dict[str, list[float]] = {}
            for _ in range(args.repeat):
                cmd = [sys.executable, "-c", CHILD, repr(time.time()), str(books[kind])]
                w, c, err = run([*cmd, str(P0), impact, SHOCKS], env)
                rec = json.loads(err.strip().splitlines()[-1])
                for k in rec["wall"]:
                    wall.setdefault(k, []).append(rec["wall"][k])
                    cpu.setdefault(k, []).append(rec["cpu"][k])
                # what is left of the process's time is the interpreter's exit (module teardown)
                wall.setdefault("exit", []).append(w - sum(rec["wall"].values()))
                cpu.setdefault("exit", []).append(c - sum(rec["cpu"].values()))
                wall.setdefault("process", []).append(w)
                cpu.setdefault("process", []).append(c)
            for label, d in (("wall", wall), ("cpu", cpu)):
                line = "  ".join(f"{k} {statistics.median(v):.3f}" for k, v in d.items())
                print(f"  {kind:8s} {label:4s} median s: {line}")
        print(f"  {rec['positions']:,} positions, {rec['rows']} shocks")

        # the loader alone, in this process, once numba and the venue tables are loaded
        from liqcascade.book import PositionBook

        PositionBook.from_file(books["pq-int"])
        print("\nPositionBook.from_file in one process (after a first load), best of --repeat:")
        for kind, path in books.items():
            w_best = c_best = float("inf")
            for _ in range(args.repeat):
                t, c = time.perf_counter(), time.process_time()
                book = PositionBook.from_file(path)
                w_best = min(w_best, time.perf_counter() - t)
                c_best = min(c_best, time.process_time() - c)
            t, c = time.perf_counter(), time.process_time()
            n_acc = len(book.account_names)  # text ids are encoded on first use
            enc = f"; encoding {n_acc:,} text ids on first use {time.perf_counter() - t:.3f} s"
            print(f"  {kind:8s} wall {w_best:.3f} s  cpu {c_best:.3f} s" + (enc if n_acc else ""))
        print(
            f"\n(machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; "
            "wall time includes waiting for a core on a shared machine, CPU time does not)"
        )
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
