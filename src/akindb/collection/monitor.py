"""Recall monitor: how well does the approximate index find what exact search finds, on the
queries people really send?

A sampled fraction of real searches (default 1 %) is re-run exactly in one background thread,
against the exact index kept beside the approximate one (the one ``tune`` uses: it costs
4 * dim bytes per vector in a process that samples). Each sample's recall@k updates a moving
average (the plain mean for the first ``WINDOW`` samples, then an exponential average with
that window) kept in SQLite with its sample count, so every process and ``akindb doctor`` see
it; ``index_stats()`` shows it, and a warning is logged when it falls below the collection's
target (the last ``tune`` target, else 0.95). The sampled query vectors are kept (the last
``KEEP_QUERIES``) so ``tune`` can use real queries: ``col.tune(queries=recorded_queries(col))``.

The search path pays one attribute check and one ``random()`` per query; sampling is off for
flat indexes (exact by construction), with ``configure(col, rate=0)``, and for ``exact=True``.
A full queue drops samples rather than slow searches down.
"""

from __future__ import annotations

import contextlib
import logging
import math
import queue
import random
import sys
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from akindb.errors import DatabaseLockedError, InvalidArgumentError
from akindb.index.base import F32, I64
from akindb.storage import monitor_log as mlog
from akindb.storage import sqlite as sq

if TYPE_CHECKING:
    from akindb.collection.parts import CollectionParts

log = logging.getLogger(__name__)

DEFAULT_RATE = 0.01
DEFAULT_TARGET = 0.95
WINDOW = 500
"""Samples the moving average spans: older samples fade with weight (1 - 1/WINDOW) each."""
MIN_SAMPLES = 20
"""No below-target warning before this many samples (a few unlucky queries are noise)."""
KEEP_QUERIES = 1000
QUEUE_SIZE = 256
WRITE_WAIT_MS = 50
"""How long a sample waits for another process's write before it is dropped."""


@dataclass
class _Sample:
    monitor: RecallMonitor
    queries: F32
    k: int
    allowed: I64 | None
    found: I64


def _gap(rate: float) -> int:
    """How many searches pass before the next sample when each is sampled with probability
    ``rate``: geometric, ``P(gap = j) = (1 - rate)^j * rate``."""
    if rate >= 1.0:
        return 0
    if rate <= 0.0:
        return sys.maxsize
    return int(math.log(1.0 - random.random()) / math.log1p(-rate))


class RecallMonitor:
    """The sampling hook of one collection (``LiveIndex.monitor``)."""

    def __init__(self, col: CollectionParts, rate: float, k: int) -> None:
        self.col = col
        self.rate = rate
        self.k = k
        self._warned = False
        self.left = _gap(rate)
        """Searches to let pass before the next sample: drawn from the geometric law, which
        samples each search with probability ``rate`` as a ``random()`` per search did, but
        costs the lean single query a decrement instead of a call (``LiveIndex.search_ready``
        counts down inline; ~1-3 µs after a graph walk, docs/benchmarks.md "Session 8: the
        single query"). Threads may race on it: a lost count only moves one sample."""

    def offer(self, queries: F32, k: int, allowed: I64 | None, found: I64) -> None:
        """Called after each approximate search; queues a copy at ``rate``. Cheap when not."""
        self.left -= 1
        if self.left < 0:
            self.take(queries, k, allowed, found)

    def take(self, queries: F32, k: int, allowed: I64 | None, found: I64) -> None:
        """Queue a copy of this search (its turn came: ``left`` ran out), draw the next gap."""
        self.left = _gap(self.rate)
        sample = _Sample(self, queries.copy(), min(k, self.k),
                         None if allowed is None else allowed.copy(), found.copy())
        with contextlib.suppress(queue.Full):
            _queue().put_nowait(sample)

    def measure(self, s: _Sample) -> None:
        """In the worker: exact top-k of the same queries, recall of what was found."""
        # exact=True: the exact index beside the approximate one, under the index's read lock
        # (a writer may be applying the log to it), and not offered to the monitor again
        truth, _ = self.col.live.search(s.queries, s.k, s.allowed, exact=True)
        for found_row, true_row, vec in zip(s.found, truth, s.queries, strict=True):
            t = {int(x) for x in true_row if x >= 0}
            if not t:
                continue
            got = {int(x) for x in found_row[: s.k] if x >= 0}
            self.record(len(t & got) / len(t), s.k, vec)

    def record(self, recall: float, k: int, vector: F32) -> None:
        col = self.col
        uuid = col.config.uuid
        conn = col.store.conn
        # Unsynced: an estimate may lose its last samples to a power cut, and a synced commit
        # here held the database lock (every search waits on it) for 8-30 ms on a busy disk.
        # Impatient: waiting for other processes' writes with the 30 s busy timeout held that
        # lock as long, so this process's searches stalled for up to 70 s in the soak
        # (bench/reliability/soak.py beside 4 writers); a sample is dropped instead.
        try:
            with (col.lock, sq.impatient(conn, WRITE_WAIT_MS), sq.unsynced(conn),
                  sq.write_txn(conn, col.db_file)):
                row = mlog.read_monitor(conn, uuid)
                n, avg = (row.samples, float(row.recall or 0.0)) if row else (0, 0.0)
                n += 1
                avg += (recall - avg) / min(n, WINDOW)
                mlog.save_average(conn, uuid, rate=self.rate, k=self.k, target=_target(col),
                                  samples=n, recall=avg, at=time.time())
                mlog.add_query(conn, uuid, k=k, recall=recall, vector=vector, at=time.time(),
                               keep=KEEP_QUERIES)
        except DatabaseLockedError:
            log.debug("recall sample dropped: another process is writing")
            return
        target = _target(col)
        if n >= MIN_SAMPLES and avg < target and not self._warned:
            self._warned = True
            log.warning(
                "collection %r: live recall@%d estimate %.3f over %d sampled queries is below "
                "its target %.2f; run `akindb tune -c %s` (it can use the recorded queries)",
                col.name, self.k, avg, n, target, col.name,
            )
        elif avg >= target:
            self._warned = False


# ---- the one background worker ----------------------------------------------------------------
_LOCK = threading.Lock()
_Q: queue.Queue[_Sample] | None = None


def _queue() -> queue.Queue[_Sample]:
    global _Q
    with _LOCK:
        if _Q is None:
            _Q = queue.Queue(maxsize=QUEUE_SIZE)
            threading.Thread(target=_work, args=(_Q,), name="akindb-recall-monitor",
                             daemon=True).start()
        return _Q


def _work(q: queue.Queue[_Sample]) -> None:
    while True:
        s = q.get()
        try:
            s.monitor.measure(s)
        except Exception as exc:  # a closed database, a dropped collection: the sample is lost
            log.debug("recall monitor sample dropped: %s", exc)
        finally:
            q.task_done()


def drain() -> None:
    """Wait until every queued sample is measured (tests, benchmarks, shutdown)."""
    with _LOCK:
        q = _Q
    if q is not None:
        q.join()


# ---- configuration and reading -----------------------------------------------------------------
Monitored = Any
"""A ``Collection`` (its ``parts`` are used) or its ``CollectionParts``."""


def _parts(col: Any) -> CollectionParts:
    parts = getattr(col, "parts", col)
    return parts  # type: ignore[no-any-return]

def _row(col: CollectionParts) -> mlog.MonitorRow | None:
    """This collection's ``recall_monitor`` row (None when absent, or when the table is: a
    read-only database of an older schema)."""
    return mlog.read_monitor(col.store.conn, col.config.uuid)


def _target(col: CollectionParts) -> float:
    row = _row(col)
    if row is not None:
        return row.target
    try:
        import json

        return float(json.loads(col.tune_path.read_text("utf-8"))["target_recall"])
    except (OSError, ValueError, KeyError, TypeError):
        return DEFAULT_TARGET


def attach(col: CollectionParts) -> None:
    """Give ``col``'s live index its sampling hook (none for a flat index, or rate 0)."""
    if col.config.index_kind == "flat":
        return
    with col.lock, sq.translated(col.db_file):
        row = _row(col)
    rate, k = (row.rate, row.k) if row else (DEFAULT_RATE, 10)
    col.live.monitor = RecallMonitor(col, rate, k) if rate > 0 else None


def configure(col: Monitored, *, rate: float | None = None, k: int | None = None,
              target: float | None = None) -> dict[str, Any] | None:
    """Set the sampled fraction (0 switches the monitor off), the k of recall@k and the target;
    saved in the database (every process opening the collection afterwards uses them). A flat
    index is exact and has no monitor: nothing is saved and the answer is None, as from
    ``recall_estimate`` (``akindb monitor --off`` on one raised AssertionError; found by
    bench/reliability/fuzz_cli.py)."""
    col = _parts(col)
    if rate is not None and not 0.0 <= rate <= 1.0:
        raise InvalidArgumentError(f"rate must be in [0, 1] (0 switches it off), got {rate}")
    if k is not None and k < 1:
        raise InvalidArgumentError(f"k must be >= 1, got {k}")
    if target is not None and not 0.0 < target <= 1.0:
        raise InvalidArgumentError(f"target must be in (0, 1], got {target}")
    if col.config.index_kind == "flat":
        return None
    cur = recall_estimate(col) or {}
    new_rate = cur.get("rate", DEFAULT_RATE) if rate is None else rate
    new_k = cur.get("k", 10) if k is None else k
    with col.lock:
        new_target = _target(col) if target is None else target
        changed_k = new_k != cur.get("k", new_k)
        with sq.write_txn(col.store.conn, col.db_file):
            mlog.save_config(col.store.conn, col.config.uuid, rate=new_rate, k=new_k,
                             target=new_target, at=time.time(), reset=changed_k)
    attach(col)
    return recall_estimate(col)


def recall_estimate(col: Monitored) -> dict[str, Any] | None:
    """The stored estimate: recall, samples, k, target, rate, below_target, updated_at (None
    for a flat index: exact, nothing to estimate)."""
    col = _parts(col)
    if col.config.index_kind == "flat":
        return None
    with col.lock, sq.translated(col.db_file):
        row = _row(col)
        target = _target(col)
    if row is None:
        return {"rate": DEFAULT_RATE, "k": 10, "target": target, "samples": 0,
                "recall": None, "below_target": False, "updated_at": None}
    rate, k, target, n, recall, at = (row.rate, row.k, row.target, row.samples, row.recall,
                                      row.updated_at)
    return {"rate": rate, "k": k, "target": target, "samples": n,
            "recall": recall, "updated_at": at,
            "below_target": bool(n >= MIN_SAMPLES and recall is not None and recall < target)}


def recorded_queries(col: Monitored, limit: int = KEEP_QUERIES) -> F32:
    """The last sampled real query vectors (for ``col.tune(queries=...)``)."""
    col = _parts(col)
    with col.lock, sq.translated(col.db_file):
        return mlog.recent_queries(col.store.conn, col.config.uuid, col.dim, limit)
