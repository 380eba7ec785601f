"""Start-up time of the command line: ``liqcascade --help`` and ``--version`` as whole processes.

Prints, for each command, the best and median wall time over several runs, the CPU time of the
best run, and the slowest imports of ``liqcascade --help`` (``python -X importtime``), so that a
module that starts importing numba, polars, DuckDB or the web stack at start-up shows at once.

    .venv/bin/python benchmarks/bench_cli_startup.py [--runs 15]

On a loaded machine the wall time grows with the load; the CPU time and the import list are the
figures to compare.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HEAVY = ("numba", "polars", "duckdb", "numpy", "fastapi", "uvicorn", "scipy", "pyarrow", "dask")


def _entry_point() -> list[str]:
    exe = Path(sys.executable).with_name("liqcascade")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("liqcascade")
    return [found] if found else [sys.executable, "-c", "from liqcascade.cli import main; main()"]


def _time(cmd: list[str], runs: int) -> tuple[list[float], list[float]]:
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        walls.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    return walls, cpus


def _imports(top: int) -> tuple[list[tuple[int, str]], list[str]]:
    code = "import sys; sys.argv = ['liqcascade', '--help']\nfrom liqcascade.cli import main\ntry:\n main()\nexcept SystemExit:\n pass"
    r = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "100"},
    )
    rows: list[tuple[int, str]] = []
    for line in r.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        parts = line.split("|")
        try:
            cumulative = int(parts[1])
        except ValueError:
            continue
        rows.append((cumulative, parts[2].rstrip()))
    names = {name.strip().split(".")[0] for _, name in rows}
    heavy = sorted(h for h in HEAVY if h in names)
    top_level = [(us, n.strip()) for us, n in rows if not n.startswith("  ")]
    return sorted(top_level, reverse=True)[:top], heavy


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--top", type=int, default=8)
    args = ap.parse_args()
    base = _entry_point()
    print(f"entry point: {' '.join(base)}; {os.cpu_count()} CPUs; load {os.getloadavg()[0]:.2f}")
    print(f"{'command':<28}{'best s':>9}{'median s':>10}{'CPU s (best)':>14}")
    for label, cmd in (
        ("python -c pass", [sys.executable, "-c", "pass"]),
        ("liqcascade --version", [*base, "--version"]),
        ("liqcascade --help", [*base, "--help"]),
        ("liqcascade risk --help", [*base, "risk", "--help"]),
    ):
        walls, cpus = _time(cmd, args.runs)
        best = min(range(len(walls)), key=walls.__getitem__)
        print(f"{label:<28}{walls[best]:>9.3f}{statistics.median(walls):>10.3f}{cpus[best]:>14.3f}")
    top, heavy = _imports(args.top)
    print("slowest top-level imports of `liqcascade --help` (cumulative, -X importtime):")
    for us, name in top:
        print(f"  {us / 1000:8.1f} ms  {name}")
    print(f"heavy libraries imported by --help: {', '.join(heavy) if heavy else 'none'}")


if __name__ == "__main__":
    main()
