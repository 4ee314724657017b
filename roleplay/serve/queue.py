"""The in-process model's one worker thread and its bounded waiting line.

An in-process model has one KV cache: two replies generated at once would interleave on it
(llama.cpp's engine serialises them behind a lock anyway). The engine is synchronous, and
SQLite connections belong to the thread that opened them, so one thread does every piece of
pipeline work (loading, session lookups, prompt building, generation, storing) and requests
take turns, first come first served. A request that would have to wait behind more than
``limit`` others is refused at once (503 with Retry-After) instead of piling up: front ends
retry, and a client that waited minutes for a reply has usually given up anyway.
"""

from __future__ import annotations

import math
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

DEFAULT_RETRY_AFTER_S = 5
MAX_RETRY_AFTER_S = 600


class QueueFull(Exception):
    """Too many requests are waiting; ``retry_after`` is the estimated wait in seconds."""

    def __init__(self, waiting: int, retry_after: int) -> None:
        super().__init__(f"{waiting} requests are already waiting for the model")
        self.waiting = waiting
        self.retry_after = retry_after


class ModelWorker:
    """Runs jobs one at a time on a single thread; at most ``limit`` wait behind the running one."""

    def __init__(self, limit: int) -> None:
        if limit < 0:
            raise ValueError("the queue limit must be >= 0")
        self.limit = limit
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="roleplay-model")
        self._lock = threading.Lock()
        self._pending = 0  # submitted and not finished: the running job plus the waiting ones
        self._durations: deque[float] = deque(maxlen=16)

    @property
    def pending(self) -> int:
        with self._lock:
            return self._pending

    @property
    def waiting(self) -> int:
        with self._lock:
            return max(0, self._pending - 1)

    def submit(self, job: Callable[[], T]) -> Future[T]:
        """Queue ``job``; ``QueueFull`` when ``limit`` jobs already wait."""
        with self._lock:
            if self._pending > self.limit:
                waiting = self._pending - 1
                raise QueueFull(waiting, self._retry_after(waiting))
            self._pending += 1
        return self._start(job)

    def call(self, job: Callable[[], T]) -> T:
        """Run ``job`` on the worker thread and wait for it, whatever the queue's length
        (start-up work: building the pipeline before any request is taken)."""
        with self._lock:
            self._pending += 1
        return self._start(job, timed=False).result()

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _start(self, job: Callable[[], T], *, timed: bool = True) -> Future[T]:
        def run() -> T:
            started = time.perf_counter()
            try:
                return job()
            finally:
                if timed:  # start-up work says nothing about how long a reply takes
                    with self._lock:
                        self._durations.append(time.perf_counter() - started)

        try:
            future = self._executor.submit(run)
        except RuntimeError:  # shut down
            self._finished(None)
            raise
        future.add_done_callback(self._finished)
        return future

    def _finished(self, _: object) -> None:
        with self._lock:
            self._pending -= 1

    def _retry_after(self, waiting: int) -> int:
        """Seconds until a slot is likely free: recent job times x the jobs ahead."""
        if not self._durations:
            return DEFAULT_RETRY_AFTER_S
        typical = statistics.median(self._durations)
        return max(1, min(MAX_RETRY_AFTER_S, math.ceil(typical * (waiting + 1))))
