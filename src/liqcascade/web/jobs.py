"""Background jobs for runs longer than about a second.

A job is a callable ``fn(progress) -> dict`` run on a worker thread. ``progress(fraction,
message)`` records how far it got (``fraction`` in [0, 1]) and raises ``JobCancelled`` once
the job was cancelled, so a long run stops at its next progress report. Pages poll
``GET /api/jobs/{id}`` for the state below.

States: ``queued`` -> ``running`` -> ``done`` | ``failed`` | ``cancelled``.
"""

from __future__ import annotations

import queue
import threading
import time
import traceback
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from liqcascade.errors import LiqcascadeError
from liqcascade.log import logger

ProgressFn = Callable[[float, str], None]
JobFn = Callable[[ProgressFn], dict[str, Any]]


class JobCancelled(Exception):
    """Raised inside a job's ``progress`` call after the job was cancelled."""


@dataclass
class Job:
    """State of one background run (times are UNIX seconds, UTC)."""

    id: str
    kind: str
    params: dict[str, Any]
    status: str = "queued"
    progress: float = 0.0
    message: str = "queued"
    result: dict[str, Any] | None = None
    error: str | None = None
    error_type: str | None = None
    created_s: float = field(default_factory=time.time)
    started_s: float | None = None
    finished_s: float | None = None
    cancel_event: threading.Event = field(default_factory=threading.Event, repr=False)

    def as_dict(self, *, with_result: bool = True) -> dict[str, Any]:
        """JSON-ready view of the job (the result only once it is done)."""
        out: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "params": self.params,
            "status": self.status,
            "progress": self.progress,
            "message": self.message,
            "error": self.error,
            "error_type": self.error_type,
            "created_s": self.created_s,
            "started_s": self.started_s,
            "finished_s": self.finished_s,
            "elapsed_s": (self.finished_s or time.time()) - self.started_s
            if self.started_s
            else None,
        }
        if with_result:
            out["result"] = self.result
        return out


class JobManager:
    """Runs jobs on a small thread pool and keeps the most recent ``max_jobs`` of them.

    Threads rather than processes: the library's kernels are numpy/numba (they release the GIL
    in the heavy parts) and results stay in memory for the page to fetch without pickling. The
    worker threads are daemons, so stopping the server never waits for a long run to finish
    (``concurrent.futures`` would join them at interpreter exit).
    """

    def __init__(
        self,
        max_workers: int = 2,
        max_jobs: int = 200,
        scrub: Callable[[str], str] | None = None,
    ) -> None:
        # scrub: turns a failed job's message into what a client may see (no server paths)
        self._scrub = scrub or (lambda msg: msg)
        self._queue: queue.Queue[tuple[Job, JobFn] | None] = queue.Queue()
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()
        self.max_jobs = max_jobs
        self._workers = [
            threading.Thread(target=self._worker, name=f"liqcascade-job-{i}", daemon=True)
            for i in range(max_workers)
        ]
        for t in self._workers:
            t.start()

    def _worker(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            self._run(*item)

    def submit(self, kind: str, params: dict[str, Any], fn: JobFn) -> Job:
        """Queue ``fn`` as a job of ``kind``; returns the job at once (status ``queued``)."""
        job = Job(id=uuid.uuid4().hex, kind=kind, params=params)
        with self._lock:
            self._jobs[job.id] = job
            while len(self._jobs) > self.max_jobs:
                old_id, old = next(iter(self._jobs.items()))
                if old.status in ("queued", "running"):
                    break
                self._jobs.pop(old_id)
        self._queue.put((job, fn))
        return job

    def get(self, job_id: str) -> Job | None:
        """The job with this id, or None (unknown or already forgotten)."""
        with self._lock:
            return self._jobs.get(job_id)

    def list(self) -> list[Job]:
        """All remembered jobs, oldest first."""
        with self._lock:
            return list(self._jobs.values())

    def cancel(self, job_id: str) -> Job | None:
        """Ask a job to stop; it stops at its next progress report (queued jobs never start)."""
        job = self.get(job_id)
        if job is not None and job.status in ("queued", "running"):
            job.cancel_event.set()
            if job.status == "queued":
                job.status = "cancelled"
                job.message = "cancelled before it started"
                job.finished_s = time.time()
        return job

    def wait(self, job_id: str, timeout_s: float = 60.0) -> Job:
        """Block until the job finishes (for tests and scripts); raises TimeoutError."""
        deadline = time.monotonic() + timeout_s
        while True:
            job = self.get(job_id)
            if job is None:
                raise KeyError(job_id)
            if job.status in ("done", "failed", "cancelled"):
                return job
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still {job.status} after {timeout_s} s")
            time.sleep(0.02)

    def shutdown(self) -> None:
        """Cancel every queued or running job and let the worker threads end (does not wait)."""
        for job in self.list():
            self.cancel(job.id)
        for _ in self._workers:
            self._queue.put(None)

    def _run(self, job: Job, fn: JobFn) -> None:
        if job.cancel_event.is_set():
            return
        job.status = "running"
        job.message = "running"
        job.started_s = time.time()

        def progress(fraction: float, message: str = "") -> None:
            if job.cancel_event.is_set():
                raise JobCancelled(job.id)
            job.progress = min(max(float(fraction), 0.0), 1.0)
            if message:
                job.message = message

        try:
            result = fn(progress)
        except JobCancelled:
            job.status = "cancelled"
            job.message = "cancelled"
        except LiqcascadeError as exc:
            # error first, status last: a poller that sees "failed" must see why
            job.error = self._scrub(str(exc))
            job.error_type = type(exc).__name__
            job.message = "failed"
            job.status = "failed"
        except Exception as exc:  # a bug, not bad input: keep the trace in the log
            logger.error("job %s (%s) crashed:\n%s", job.id, job.kind, traceback.format_exc())
            job.error = self._scrub(f"internal error: {type(exc).__name__}: {exc}")
            job.error_type = type(exc).__name__
            job.message = "failed"
            job.status = "failed"
        else:
            job.result = result
            job.progress = 1.0
            job.status = "done"
            job.message = "done"
        finally:
            job.finished_s = time.time()
