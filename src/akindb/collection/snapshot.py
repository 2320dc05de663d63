"""Consistent reads: a search answers from one version of the collection, never from a mix.

A vector search reads three things at three moments: the chunk ids a ``where`` filter allows
(SQLite), the index (caught up from the log), and the rows of the hits (SQLite). A write that
commits between two of them used to make a document vanish from the answer: an upsert after
the filter left only the old chunk id allowed while the index already held the new one; an
upsert after the index search left a hit whose row was gone, so fewer than ``k`` came back
(issue 13, item 4: 1,284 of 16,825 filtered searches missed the document).

The fix keeps searches parallel in the common case and exact in every case:

1. optimistic: the filter ids and the log head are read in one SQLite read transaction; the
   index search reports the log position it answered at (``LiveIndex.search_at``). If the two
   positions differ, or a hit's row is gone when the rows are fetched, the attempt is thrown
   away and retried;
2. after ``RETRIES`` such attempts (a writer that never pauses), one attempt runs with the
   database lock held and the whole read inside one SQLite read transaction: the index is
   caught up to exactly that snapshot, so filter, index and rows agree by construction.
   Writers in other processes are never blocked (WAL readers do not block writers); writers in
   this process wait for that one search.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from akindb.collection.live_index import LiveIndex
from akindb.collection.results import QueryResult, hits_from_rows, query_result
from akindb.collection.row_cache import RowCache
from akindb.index.base import F32, I64
from akindb.storage.sqlite import read_snapshot
from akindb.storage.store import CollectionStore
from akindb.types import Hit, Metric

T = TypeVar("T")

RETRIES = 3
"""Optimistic attempts before the locked one."""

Fetch = Callable[[I64, F32, int], tuple[T, bool]]
"""Turns (labels, scores, the log position searched at) into the answer under the database
lock; returns (answer, complete): ``complete`` is False when a hit's row was no longer found
(deleted since the index search). The position lets the row cache serve rows when no write
landed since (``collection.row_cache``)."""


def consistent_search(
    store: CollectionStore,
    live: LiveIndex,
    lock: threading.RLock,
    queries: F32,
    k: int,
    where: Mapping[str, Any] | None,
    exact: bool,
    fetch: Fetch[T],
) -> T:
    """Search ``live`` for ``queries`` (already validated) and build the answer with ``fetch``
    from one version of the collection; ``k`` is capped at the index size. See the module
    docstring for why and how."""
    answer: T | None = None
    for attempt in range(RETRIES + 1):
        locked = attempt == RETRIES
        with lock if locked else contextlib.nullcontext(), (
            read_snapshot(store.conn) if locked else contextlib.nullcontext()
        ):
            allowed: I64 | None = None
            seq = -1
            if where is not None:
                with lock, read_snapshot(store.conn):
                    allowed = store.filter_chunk_ids(where)
                    seq = store.head_seq()
            if allowed is not None and len(allowed) == 0:
                labels, scores = live.empty_result(len(queries), 1)
                at = seq
            else:
                labels, scores, at = live.search_at(queries, k, allowed, exact=exact)
            if allowed is not None and at != seq and not locked:
                continue  # the index moved past the filter's snapshot: filter again
            with lock:
                answer, complete = fetch(labels, scores, at)
            if complete or locked:
                return answer
    assert answer is not None  # the locked attempt always returns
    return answer


def fetch_hits(
    cache: RowCache, store: CollectionStore, metric: Metric, min_score: float | None,
    max_distance: float | None,
) -> Fetch[list[list[Hit]]]:
    """``Hit`` lists per query; incomplete when a hit's row is gone."""

    def fetch(labels: I64, scores: F32, at: int) -> tuple[list[list[Hit]], bool]:
        wanted = labels[labels >= 0].tolist()
        rows = cache.reader(store, at).rows(wanted)
        complete = len(rows) == len(set(wanted))
        return hits_from_rows(labels, scores, rows, metric, min_score, max_distance), complete

    return fetch


def fetch_columns(
    cache: RowCache,
    store: CollectionStore,
    metric: Metric,
    include: Sequence[str],
    min_score: float | None,
    max_distance: float | None,
) -> Fetch[QueryResult]:
    """Chroma-style columns (``results.query_result``); incomplete when a hit's row is gone."""

    def fetch(labels: I64, scores: F32, at: int) -> tuple[QueryResult, bool]:
        gone: set[int] = set()
        res = query_result(cache.reader(store, at), metric, labels, scores, include, min_score,
                           max_distance, gone_out=gone)
        return res, not gone

    return fetch
