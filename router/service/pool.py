"""A bounded pool of named worker threads that can grow or shrink while it runs.

``concurrent.futures.ThreadPoolExecutor`` cannot change its size, and MaxThreads may change with a
newly published configuration. This pool keeps ``size`` threads taking jobs from one queue; shrinking
sends "leave" markers that idle threads pick up after any queued jobs. The scheduler only hands a job
over when a worker is free, so the queue never holds more than a few jobs.

Workers are daemon threads: a run that hangs past the shutdown grace period is abandoned with the
process instead of keeping it alive.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

Job = Callable[[], None]
_LEAVE = None
"""Queued to make one worker leave."""


class WorkerPool:
    """``size`` daemon threads running submitted jobs in order of submission."""

    def __init__(self, size: int, *, name: str = "lane-worker") -> None:
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._numbers = itertools.count(1)
        self._name = name
        self._size = 0
        self._closed = False
        self.resize(size)

    @property
    def size(self) -> int:
        """The number of workers the pool is meant to have."""
        with self._lock:
            return self._size

    def submit(self, job: Job) -> None:
        """Queue ``job`` for the next free worker."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the worker pool is shut down")
        self._jobs.put(job)

    def resize(self, size: int) -> None:
        """Grow to or shrink towards ``size`` workers; running jobs are never interrupted."""
        if size < 1:
            raise ValueError(f"a worker pool needs at least one worker, not {size}")
        with self._lock:
            if self._closed:
                raise RuntimeError("the worker pool is shut down")
            for _ in range(size - self._size):
                self._start_worker()
            for _ in range(self._size - size):
                self._jobs.put(_LEAVE)
            self._size = size

    def shutdown(self, timeout: float | None = None) -> bool:
        """Ask every worker to leave after the queued jobs; wait up to ``timeout``; True if all left."""
        with self._lock:
            if not self._closed:
                self._closed = True
                for _ in range(self._size):
                    self._jobs.put(_LEAVE)
            threads = list(self._threads)
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in threads:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread in threads)

    def _start_worker(self) -> None:
        thread = threading.Thread(target=self._work, name=f"{self._name}-{next(self._numbers)}",
                                  daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()]
        self._threads.append(thread)
        thread.start()

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            try:
                job()
            except Exception:  # A job's bug must not shrink the pool; the scheduler wraps its own jobs.
                log.exception("a worker job failed unexpectedly")
