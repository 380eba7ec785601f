"""kill -9 in the middle of an ingestion leaves the store consistent; running again completes it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from liqcascade.data import Store

N_FILES = 6
ROWS = 80_000

SCRIPT = """
import sys
from liqcascade.data import ingest_paths
def progress(event, path, res):
    print(event, path.name, flush=True)
ingest_paths([sys.argv[2]], sys.argv[1], progress=progress)
print("finished", flush=True)
"""


def _make_files(folder: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    t0 = 1_760_054_400_000
    for k in range(N_FILES):
        ids = np.arange(k * ROWS, (k + 1) * ROWS, dtype=np.int64)
        pl.DataFrame(
            {
                "agg_trade_id": ids,
                "price": np.round(113_000 + rng.normal(0, 50, ROWS), 1),
                "quantity": np.round(rng.exponential(0.05, ROWS), 3) + 0.001,
                "first_trade_id": ids * 2,
                "last_trade_id": ids * 2 + 1,
                "transact_time": t0 + k * 86_400_000 + np.arange(ROWS, dtype=np.int64) * 500,
                "is_buyer_maker": np.where(rng.random(ROWS) < 0.5, "true", "false"),
            }
        ).write_csv(folder / f"BTCUSDT-aggTrades-2025-10-{10 + k:02d}.csv")


def _check_consistent(db: Path) -> int:
    """Every registered file has exactly its rows; no row belongs to an unregistered file."""
    with Store(db, read_only=True) as s:
        per_file = s.sql(
            "SELECT f.file_id, f.rows, count(a.file_id) AS n FROM files f "
            "LEFT JOIN agg_trades a USING (file_id) GROUP BY ALL"
        )
        orphans = s.sql(
            "SELECT count(*) AS n FROM agg_trades WHERE file_id NOT IN (SELECT file_id FROM files)"
        )["n"][0]
    assert orphans == 0
    assert (per_file["rows"] == per_file["n"]).all()
    assert (per_file["rows"] == ROWS).all()
    return per_file.height


def _run_and_kill(db: Path, folder: Path, trigger: str, delay_s: float) -> list[str]:
    env = dict(os.environ)
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(db), str(folder)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    seen: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        seen.append(line.strip())
        if line.startswith(trigger):
            time.sleep(delay_s)
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    return seen


@pytest.mark.slow
@pytest.mark.parametrize(
    ("trigger", "delay_s"),
    [("start BTCUSDT-aggTrades-2025-10-12", 0.05), ("done BTCUSDT-aggTrades-2025-10-13", 0.0)],
)
def test_kill_then_rerun_completes(tmp_path: Path, trigger: str, delay_s: float) -> None:
    folder = tmp_path / "um" / "aggTrades"
    _make_files(folder, seed=7)
    db = tmp_path / "kill.duckdb"
    seen = _run_and_kill(db, folder, trigger, delay_s)
    assert "finished" not in seen  # it really died in the middle
    done_before = sum(1 for s in seen if s.startswith("done"))
    n_files = _check_consistent(db)
    assert done_before <= n_files < N_FILES
    # rerun: the committed files are skipped, the rest goes in, once
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(db), str(folder)], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert _check_consistent(db) == N_FILES
    with Store(db, read_only=True) as s:
        assert s.table_rows("agg_trades") == N_FILES * ROWS
        st = s.files()["name"].n_unique()
    assert st == N_FILES
