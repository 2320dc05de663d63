"""The fast lane: cheap vector searches run on the event loop, the rest one at a time in a thread.

A plain ``def`` route costs a hand-off to a pool thread and back; on a busy 2-core machine each
hand-off waits for a CPU and for the GIL, and for an HNSW search (≈0.5-2 ms of work) the
hand-offs cost more than the search: 32 clients on the 10k-chunk benchmark collection got
594-656 req/s inline against 399-451 req/s from a pool thread (docs/benchmarks.md, HTTP
server). So a vector search without a filter runs inline when it is cheap:

* the database lock is taken without waiting (``acquire(blocking=False)``) and held for the
  call, so nothing inside waits on it (it is re-entrant); when a write holds it, the search
  is offloaded instead of stalling the loop;
* each call's CPU time (``time.thread_time``) is measured; a collection whose searches cost
  more than ``budget_s`` on average (a moving average over the last few, so one cold call
  does not count) leaves the lane for ``backoff_s`` and then gets another try. The budget is
  the longest the loop may stop serving every other connection for one search: raise it and
  bigger exact scans stay inline (no hand-off, longer stalls for everyone else); lower it and
  they are offloaded.

Offloaded searches (expensive ones, filtered ones: a SQL query of unknown size, big batches)
run in pool threads, but at most ``threads`` (1) at once per worker. Side by side, exact scans
thrash (each BLAS call wants every core): a flat 10k collection served 20-28 req/s from the
default pool against 92-115 req/s one at a time, the same as inline.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

import anyio
import anyio.to_thread

T = TypeVar("T")


class FastLane:
    """Run ``fn`` inline when it is known to be cheap, else in the thread pool."""

    def __init__(
        self, lock: threading.RLock, *, budget_s: float = 0.005, backoff_s: float = 5.0,
        threads: int = 1,
    ) -> None:
        self.lock = lock
        self.budget_s = budget_s
        self.backoff_s = backoff_s
        self.threads = threads
        self._limiter: anyio.CapacityLimiter | None = None
        self._off_until: dict[str, float] = {}
        self._avg: dict[str, float] = {}
        self.inline = 0
        self.pooled = 0

    def open_for(self, key: str) -> bool:
        return self.budget_s > 0 and time.monotonic() >= self._off_until.get(key, 0.0)

    async def run(self, key: str, fn: Callable[[], T]) -> T:
        if self.open_for(key) and self.lock.acquire(blocking=False):
            try:
                t0 = time.thread_time()
                out = fn()
                spent = time.thread_time() - t0
            finally:
                self.lock.release()
            avg = 0.8 * self._avg.get(key, 0.0) + 0.2 * spent
            if avg > self.budget_s:
                # out for a while; back at the budget, so one cheap call reopens the lane
                self._off_until[key] = time.monotonic() + self.backoff_s
                avg = self.budget_s
            self._avg[key] = avg
            self.inline += 1
            return out
        return await self.offload(fn)

    async def offload(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` in a pool thread, at most ``threads`` such calls at once."""
        if self._limiter is None:  # made on first use: it belongs to the running event loop
            self._limiter = anyio.CapacityLimiter(self.threads)
        self.pooled += 1
        return await anyio.to_thread.run_sync(fn, limiter=self._limiter)
