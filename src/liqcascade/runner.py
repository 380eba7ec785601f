"""One path runner for Monte Carlo work: stress paths, policy variants, forecast ensembles.

A *task* is any picklable object with ``run_chunk(start, stop)`` returning the results of
items ``start .. stop-1`` (a list, or an array with one row per item). The runner splits
``range(n)`` into chunks and runs them

* in this process (``workers=0``),
* on a local process pool (``workers=N``; the task is shipped once per worker), or
* on Dask (``dask=`` a ``distributed.Client``, a scheduler address ``"tcp://HOST:PORT"``, or
  an ``int`` for a new LocalCluster of that many single-threaded worker processes; the task
  is scattered once to every worker).

Results come back in item order and never depend on the backend, worker count or chunk size,
because every random stream of item ``i`` is derived from ``(seed, i)`` only:
:func:`path_seed` is ``SeedSequence(seed).spawn(n)[i]`` (built directly as
``SeedSequence(seed, spawn_key=(i,))``, the same stream), and :func:`engine_seed` is an
integer drawn from that stream's first child, so an engine's own generator never shares
numbers with the path's draws nor with any other path (``seed + i`` would: seeds 7 and 8 share
all paths but one).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from liqcascade.errors import InputError, NetworkError
from liqcascade.log import logger

__all__ = [
    "AUTO_INLINE_S",
    "ChunkTask",
    "RunInfo",
    "engine_seed",
    "path_seed",
    "run_chunks",
]

#: Auto backend: stay in process when the remaining items are estimated to take less (seconds).
AUTO_INLINE_S = 15.0


def path_seed(seed: int, path: int) -> np.random.SeedSequence:
    """Seed sequence of path ``path``: ``SeedSequence(seed).spawn(path + 1)[path]``.

    >>> a = np.random.default_rng(path_seed(7, 3)).random()
    >>> b = np.random.default_rng(np.random.SeedSequence(7).spawn(4)[3]).random()
    >>> a == b
    True
    """
    return np.random.SeedSequence(int(seed), spawn_key=(int(path),))


def engine_seed(seed: int, path: int) -> int:
    """Integer seed for an engine's own generator on path ``path``: drawn from the first child
    of :func:`path_seed` (``spawn_key=(path, 0)``), a stream separate from the path's draws.

    >>> engine_seed(7, 1) != engine_seed(8, 0)
    True
    """
    child = np.random.SeedSequence(int(seed), spawn_key=(int(path), 0))
    return int(child.generate_state(1, np.uint64)[0])


class ChunkTask(Protocol):
    """What the runner runs: results of items ``start .. stop-1``."""

    def run_chunk(self, start: int, stop: int) -> Any: ...


@dataclass(frozen=True)
class RunInfo:
    """How a run was executed: backend label, workers, chunk size, wall time (s)."""

    backend: str
    workers: int
    chunk_size: int
    run_s: float


def _chunks_from(start: int, n: int, size: int) -> Iterator[tuple[int, int]]:
    for a in range(start, n, size):
        yield a, min(n, a + size)


def _fork_safe(task: Any) -> bool:
    """Tasks whose workers run only numpy/numba code may be forked; tasks that build polars
    frames in the worker (the dynamic engine) must not fork a process holding polars' thread
    pool. A task says so with a ``fork_safe`` attribute (default False)."""
    return bool(getattr(task, "fork_safe", False))


def _start_method(task: Any) -> str:
    import multiprocessing as mp
    import sys

    env = os.environ.get("LIQCASCADE_MP_START")
    if env:
        return env
    methods = mp.get_all_start_methods()
    if sys.platform.startswith("linux") and "fork" in methods and _fork_safe(task):
        return "fork"
    return "forkserver" if "forkserver" in methods else "spawn"


_WORKER_TASK: Any = None


def _init_worker(task: Any) -> None:
    global _WORKER_TASK
    _WORKER_TASK = task


def _pool_chunk(start: int, stop: int) -> tuple[int, Any]:
    if _WORKER_TASK is None:
        raise RuntimeError("runner worker not initialised")
    return start, _WORKER_TASK.run_chunk(start, stop)


def _dask_chunk(task: Any, start: int, stop: int) -> tuple[int, Any]:
    return start, task.run_chunk(start, stop)


def run_chunks(
    task: ChunkTask,
    n: int,
    *,
    workers: int | None = 0,
    dask: Any = None,
    chunk_size: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[Any], RunInfo]:
    """Run items ``0 .. n-1`` of ``task``; returns the chunk results in item order and how the
    run was executed.

    ``workers=0`` runs in process, ``workers=N`` on a local pool of N processes,
    ``workers=None`` times the first items in process and uses a pool of CPU-count workers only
    when the rest would take longer than :data:`AUTO_INLINE_S`. ``dask`` (a
    ``distributed.Client``, a scheduler address, or a worker count for a LocalCluster) takes
    precedence over ``workers``. ``progress(done, n)`` is called as chunks finish.
    """
    if n < 1:
        raise InputError(f"paths must be >= 1, got {n}")
    if chunk_size is not None and chunk_size < 1:
        raise InputError(f"chunk_size must be >= 1, got {chunk_size}")
    t0 = time.perf_counter()
    if dask is not None:
        out, label, nw, chunk = _run_dask(task, n, dask, chunk_size, progress)
    else:
        out, nw, chunk = _run_local(task, n, workers, chunk_size, progress)
        label = f"local:{nw}" if nw > 0 else "inline"
    info = RunInfo(label, nw, chunk, time.perf_counter() - t0)
    logger.debug("runner: %d items on %s in %.2f s", n, label, info.run_s)
    return [r for _, r in sorted(out, key=lambda x: x[0])], info


def _run_local(
    task: ChunkTask,
    n: int,
    workers: int | None,
    chunk_size: int | None,
    progress: Callable[[int, int], None] | None,
) -> tuple[list[tuple[int, Any]], int, int]:
    out: list[tuple[int, Any]] = []
    done = 0
    if workers is None:
        cpus = os.cpu_count() or 1
        probe = min(n, 16)
        t0 = time.perf_counter()
        out.append((0, task.run_chunk(0, probe)))
        per_item = (time.perf_counter() - t0) / probe
        done = probe
        if progress:
            progress(done, n)
        workers = 0 if cpus == 1 or per_item * (n - probe) < AUTO_INLINE_S else cpus
    nw = max(0, int(workers))
    chunk = chunk_size or max(1, min(500, math.ceil((n - done) / (max(nw, 1) * 8))))
    if nw == 0:
        for a, b in _chunks_from(done, n, chunk):
            out.append((a, task.run_chunk(a, b)))
            done += b - a
            if progress:
                progress(done, n)
        return out, 0, chunk
    import multiprocessing as mp

    ctx = mp.get_context(_start_method(task))
    with ProcessPoolExecutor(
        max_workers=nw, mp_context=ctx, initializer=_init_worker, initargs=(task,)
    ) as ex:
        pending = {ex.submit(_pool_chunk, a, b): b - a for a, b in _chunks_from(done, n, chunk)}
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for f in finished:
                out.append(f.result())
                done += pending.pop(f)
                if progress:
                    progress(done, n)
    return out, nw, chunk


def _run_dask(
    task: ChunkTask,
    n: int,
    dask: Any,
    chunk_size: int | None,
    progress: Callable[[int, int], None] | None,
) -> tuple[list[tuple[int, Any]], str, int, int]:
    from dask.distributed import Client, LocalCluster, as_completed

    cluster = None
    own_client = True
    if isinstance(dask, Client):
        client, own_client = dask, False
        label = f"dask:{client.scheduler.address if client.scheduler else 'client'}"
    elif isinstance(dask, bool) or not isinstance(dask, (int, str)):
        raise InputError(
            f"dask: expected a distributed.Client, a scheduler address or a worker count, "
            f"got {type(dask).__name__}"
        )
    elif isinstance(dask, int):
        if dask < 1:
            raise InputError(f"--dask-local must be >= 1 worker, got {dask}")
        cluster = LocalCluster(
            n_workers=dask,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=40,
        )
        client = Client(cluster)
        label = f"dask-local:{dask}"
    else:
        try:
            client = Client(dask, timeout=10)
        except OSError as exc:
            raise NetworkError(
                f"--scheduler {dask}: cannot reach the Dask scheduler ({exc})"
            ) from None
        label = f"dask:{dask}"
    try:
        nw = len(client.scheduler_info().get("workers", {}))
        chunk = chunk_size or max(1, min(500, math.ceil(n / (max(nw, 2) * 8))))
        fut = client.scatter(task, broadcast=True)
        spans = list(_chunks_from(0, n, chunk))
        futures = client.map(
            _dask_chunk,
            [fut] * len(spans),
            [a for a, _ in spans],
            [b for _, b in spans],
            pure=False,
        )
        out: list[tuple[int, Any]] = []
        done = 0
        sizes = {a: b - a for a, b in spans}
        for f in as_completed(futures):
            a, rows = f.result()
            out.append((a, rows))
            done += sizes[a]
            if progress:
                progress(done, n)
    finally:
        if own_client:
            client.close()
        if cluster is not None:
            cluster.close()
    return out, label, nw, chunk
