"""Opening the store while another process writes to it: a clear "busy" error, or a short wait."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from liqcascade.data.store import Store
from liqcascade.errors import DataError

# holds a write connection until a line arrives on stdin, or for HOLD_S seconds when given
_HOLDER = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
con.execute("CREATE TABLE IF NOT EXISTS held (x INTEGER)")
print("holding", flush=True)
if len(sys.argv) > 2:
    time.sleep(float(sys.argv[2]))
else:
    sys.stdin.readline()
con.close()
"""


def _hold(path: Path, hold_s: float | None = None) -> subprocess.Popen[str]:
    extra = [] if hold_s is None else [str(hold_s)]
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(path), *extra],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "holding"
    return proc


def _release(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None
    proc.stdin.write("\n")
    proc.stdin.flush()
    proc.stdin.close()
    proc.wait(timeout=60)


@pytest.fixture
def store_path(tmp_path):
    p = tmp_path / "market.duckdb"
    Store(p).close()  # an existing store, with its tables
    return p


def test_reader_is_told_the_store_is_busy(store_path):
    proc = _hold(store_path)
    try:
        with pytest.raises(DataError) as err:
            Store(store_path, read_only=True, lock_wait_s=0.2)
        msg = str(err.value)
        assert str(store_path) in msg
        assert "the store is busy" in msg
        assert f"PID {proc.pid}" in msg
        assert "is writing to it" in msg and "retry when that process finishes" in msg
        assert "read_only=True" not in msg  # DuckDB cannot grant it while another process writes
        with pytest.raises(DataError, match="the store is busy: another process .* has it open"):
            Store(store_path, lock_wait_s=0)
    finally:
        _release(proc)


def test_reader_waits_for_a_short_write(store_path):
    proc = _hold(store_path, hold_s=1.5)  # an ingest that ends soon
    try:
        with pytest.raises(DataError, match="the store is busy"):
            Store(store_path, read_only=True, lock_wait_s=0)  # held now
        with Store(store_path, read_only=True, lock_wait_s=60) as s:  # opens once released
            assert s.table_rows("files") == 0
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_cli_data_ls_says_busy(store_path):
    cli = [sys.executable, "-c", "from liqcascade.cli import main; main()", "data", "ls"]
    proc = _hold(store_path)
    try:
        out = subprocess.run(
            [*cli, "--db", str(store_path)], capture_output=True, text=True, timeout=120
        )
    finally:
        _release(proc)
    assert out.returncode == 2
    assert "the store is busy" in out.stderr and str(store_path) in out.stderr
    assert "Traceback" not in out.stderr
    out = subprocess.run(
        [*cli, "--db", str(store_path), "--json"], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
