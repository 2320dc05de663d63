"""Hybrid search's keyword side, run while the query is embedded.

A hybrid query's keyword work needs no query vector: BM25's top candidates, RM3's expansion
when on, and the statistics ``convex`` and the keyword gate read (one FTS5 count per term, the
row count). It cost ~0.7 ms of a ~4.9 ms query run after the ~1.5 ms embedding
(docs/benchmarks.md, issue 17). ONNX Runtime releases the GIL while it runs the model, and
SQLite while it steps, so ``beside_embedding`` runs the embedding in a pool thread and the
keyword side here, at the same time.

Issue 13's rule stays: the vector list, the keyword list and the rows come from one committed
state. The keyword side runs in its own read snapshot, taken after reading SQLite's commit
stamp (``storage.commit_watch``: the WAL-index header every commit rewrites, whichever
connection or process commits). Inside the main snapshot, once it is established, the stamp is
read again: equal means nothing was committed in between, so both snapshots are the same state
and the keyword side is used as it is; different (a write, a checkpoint), or no stamp at all,
means it is run again inside the main snapshot (``Early.usable``). A query whose vector is
cached, or when the pool is busy, runs one step after the other, as before.

It pays only with a core to spare: the keyword side then takes a core the single-query
embedding leaves partly idle; on an overloaded machine each hand-off to the pool thread waits
for a core, and measured under load 5-12 on 2 cores it cost 2-3 ms a query (docs/benchmarks.md,
"Session 8: hybrid latency"). On a quiet 2-core machine it did not pay either (the lead's
rerun: hybrid p50 3.67 ms beside against 3.60 after, ONNX Runtime's default two threads; with
one model thread 3.95 against 3.88), so the default is "off" (one step after the other);
``$AKINDB_KEYWORD_BESIDE_EMBED`` = 1 always runs it beside, ``auto`` only while the 1-minute
load average is below the number of cores minus one half (read at most once a second,
``spare_core``), for machines with cores to spare, where it has not been measured.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from akindb.retrieval import keyword as kw
from akindb.retrieval import keyword_memory, rm3
from akindb.retrieval.analyzer import STOP_WORDS_EN
from akindb.retrieval.fusion import FusionParams
from akindb.retrieval.hybrid import keyword_stats
from akindb.retrieval.settings import RetrievalSettings

ENV = "AKINDB_KEYWORD_BESIDE_EMBED"
mode = {"1": "on", "auto": "auto"}.get(os.environ.get(ENV, "").strip(), "off")
"""When hybrid search runs the keyword side beside the embedding: "on", "off" or "auto" (when a
core is spare, ``spare_core``); ``bench/hybrid.py --serial`` times all three in one run."""
_LOAD_EVERY_S = 1.0
_load_seen: list[float] = [-1e9, 0.0]  # (when, 1-minute load average then)


def spare_core() -> bool:
    """Whether the machine has a core to spare: the 1-minute load average (``os.getloadavg``,
    re-read at most once a second) is below the number of cores minus one half; True where
    the system has no load average."""
    now = time.monotonic()
    if now - _load_seen[0] >= _LOAD_EVERY_S:
        try:
            load = os.getloadavg()[0]
        except (AttributeError, OSError):
            load = 0.0
        _load_seen[:] = [now, load]
    return _load_seen[1] < (os.cpu_count() or 1) - 0.5


def beside() -> bool:
    """Whether this hybrid query runs its keyword side beside the embedding (``mode``)."""
    return mode == "on" or (mode == "auto" and spare_core())


T = TypeVar("T")
U = TypeVar("U")
POOL_THREADS = 4
"""Embeddings that may run beside their keyword side at once; more run inline."""
_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()
_SLOTS = threading.BoundedSemaphore(POOL_THREADS)


@dataclass(frozen=True)
class KeywordSide:
    """One query's keyword list (expanded when RM3 ran), its expansion, and ``(bm25_max,
    strength)`` as ``hybrid.gather`` computes them (``hybrid.keyword_stats``)."""

    scores: dict[int, float]
    expanded: rm3.Expanded | None
    stats: tuple[float, float | None]


def keyword_list(
    conn: sqlite3.Connection,
    collection_id: int,
    terms: Sequence[str],
    n_cand: int,
    settings: RetrievalSettings,
    where: Mapping[str, Any] | None,
    gate: FusionParams | None = None,
    copy: kw.Copy = "ask",
) -> tuple[dict[int, float], rm3.Expanded | None]:
    """BM25's ``n_cand`` best chunks (chunk id -> score) and, when RM3 is on, the list it
    expanded them to (with the expansion). ``gate``: a hybrid query's fusion, whose keyword
    gate, when closed, skips the expansion (keyword mode expands always). ``copy``: see
    ``keyword.bm25_pairs``."""
    scores = dict(kw.bm25_pairs(conn, collection_id, terms, n_cand, where, copy=copy))
    expanded: rm3.Expanded | None = None
    if settings.rm3.enabled and scores and not (
            gate is not None and rm3.gate_closed(conn, terms, scores, gate)):
        expanded = rm3.expand(conn, collection_id, terms, scores, n_cand, settings.rm3,
                              STOP_WORDS_EN, where)
        scores = expanded.scores
    return scores, expanded


def run(
    conn: sqlite3.Connection,
    collection_id: int,
    terms: Sequence[str],
    n_cand: int,
    settings: RetrievalSettings,
    params: FusionParams,
    where: Mapping[str, Any] | None,
) -> KeywordSide:
    """The keyword side of a hybrid query, read in the caller's snapshot (the in-memory copy
    of the keyword index, when current, looked up once for the list and its statistics)."""
    copy = keyword_memory.current(conn) if where is None and terms else None
    scores, expanded = keyword_list(conn, collection_id, terms, n_cand, settings, where, params,
                                    copy)
    stats = keyword_stats(conn, scores, terms, params,
                          weights=expanded.weights if expanded else None,
                          first=expanded.first if expanded else None, copy=copy)
    return KeywordSide(scores, expanded, stats)


def stamp(conn: sqlite3.Connection) -> bytes | None:
    """SQLite's commit stamp for this connection's file (None: cannot tell)."""
    watch = getattr(conn, "watch", None)
    return watch.stamp() if watch is not None else None


@dataclass(frozen=True)
class Early:
    """A keyword side read in its own snapshot, and the commit stamp read before it."""

    side: KeywordSide
    before: bytes | None

    def usable(self, conn: sqlite3.Connection) -> bool:
        """Whether the main snapshot, already established, is the state ``side`` was read in:
        no commit since the stamp (read inside the main snapshot, after its first read)."""
        return self.before is not None and stamp(conn) == self.before


def _forget_pool() -> None:
    """In a forked child: the parent's pool threads do not exist there (a task sent to its
    pool would wait for ever) and a slot may have been taken when it forked; start afresh."""
    global _POOL, _POOL_LOCK, _SLOTS
    _POOL, _POOL_LOCK, _SLOTS = None, threading.Lock(), threading.BoundedSemaphore(POOL_THREADS)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def _pool() -> ThreadPoolExecutor:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(POOL_THREADS, thread_name_prefix="akindb-embed")
        return _POOL


def beside_embedding(embed: Callable[[], T], work: Callable[[], U]) -> tuple[T, U]:
    """``(embed(), work())``, ``embed`` in a pool thread while ``work`` runs in this one; one
    after the other when every pool slot is taken. Both finish before this returns, also when
    one raises (the first error is raised).

    >>> beside_embedding(lambda: 1, lambda: 2)
    (1, 2)
    """
    slots = _SLOTS
    if not slots.acquire(blocking=False):
        return embed(), work()
    try:
        fut = _pool().submit(embed)
    except RuntimeError:  # the interpreter is shutting down
        slots.release()
        return embed(), work()
    try:
        done = work()
    finally:
        try:
            vec = fut.result()
        finally:
            slots.release()
    return vec, done

