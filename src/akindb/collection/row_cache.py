"""Hit rows (document id, chunk, offsets, text, metadata) kept in process memory, so a search
does not walk SQLite's B-trees once per hit (57-114 µs for ten hits on a 400 MB file, about as
long as the graph walk itself; docs/benchmarks.md).

Why a cache can be right: a chunk's row never changes. A chunk id is never reused
(``AUTOINCREMENT``), and every change to a document (upsert, delete, re-index) deletes its
chunks and inserts new ones with new ids (``storage.store``: there is no UPDATE of ``chunks`` or
``documents``; ``tests/index/test_row_cache.py`` fails if one appears: a write that changes a
row in place must then also clear this cache). So a cached row is either the row SQLite holds,
or the row of a deleted chunk.

Why a deleted chunk is never served: hits come from the live index, which is caught up with the
log before every search (``LiveIndex.search_at`` returns the sequence number it searched at).
A chunk deleted at or before that number is not in the answer. One deleted after it (by another
thread or process, between the search and the row lookup) could be: so ``reader`` reads the log
head once more, and when it moved, every row comes from SQLite, the truth, and a chunk no
longer found is left out of the answer, as before.

Memory: one ``HitRow`` per distinct live chunk returned, up to ``max_rows`` (then the oldest
quarter is dropped); about the chunk's text plus ~300 bytes. The rows of deleted chunks are
dropped as the live index learns of the deletion (``forget``). ``max_rows=0`` turns it off.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from akindb.index.base import I64
from akindb.storage.store import CollectionStore
from akindb.types import HitRow

DEFAULT_MAX_ROWS = 200_000


class RowCache:
    """chunk id -> ``HitRow`` of one collection, bounded, shared by the threads of a process."""

    def __init__(self, max_rows: int = DEFAULT_MAX_ROWS) -> None:
        self.max_rows = max_rows
        self._rows: dict[int, HitRow] = {}
        self.get = self._rows.get
        """chunk id -> its row, or None: the dict's own ``get`` (the dict is never replaced,
        only cleared), for ``collection.lean``'s ``make_hits(map(rows.get, ids), ...)``,
        under the same conditions as ``cached`` (no call of ours between the walk and the
        Hits). A caller that uses it adds the rows served to ``hits``."""
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.bypassed = 0

    def __len__(self) -> int:
        return len(self._rows)

    def clear(self) -> None:
        with self._lock:
            self._rows.clear()

    def forget(self, chunk_ids: I64 | None) -> None:
        """Drop the rows of chunks the log deleted (None: every row). Without this the cache
        kept every chunk ever returned up to ``max_rows``: under upserts that is the dead
        versions of each document, ~1 KB each, and a long-running reader's memory grew with
        the number of updates, not with the data (found by bench/reliability/soak.py)."""
        with self._lock:
            if chunk_ids is None:
                self._rows.clear()
                return
            pop = self._rows.pop
            for c in chunk_ids.tolist():
                pop(c, None)

    def reader(self, store: CollectionStore, searched_seq: int) -> RowReader:
        """A reader for rows of hits found by a search at log position ``searched_seq``.

        Call under the database lock. Reads the log head once: if a write landed after the
        search, the reader goes to SQLite for every row (and a deleted chunk is not found)."""
        fresh = self.max_rows > 0 and store.head_seq() == searched_seq
        if not fresh:
            self.bypassed += 1
        return RowReader(self, store, fresh)

    def reader_at_head(self, store: CollectionStore) -> RowReader:
        """A reader for a caller that has just read the log head, under the same hold of the
        database lock as the rows are read in, and found it equal to the searched position
        (``collection.lean``): ``reader``'s own head read would repeat it."""
        return RowReader(self, store, self.max_rows > 0)

    def cached(self, chunk_ids: list[int]) -> list[HitRow | None] | None:
        """The rows of ``chunk_ids`` in their order when every one is in memory, else None
        (read through ``reader_at_head`` then). For ``collection.lean``, under the database
        lock, after a head read equal to the searched position (as ``reader_at_head``): one
        C-level pass, no reader object (the lean path's hot case)."""
        if self.max_rows <= 0:
            return None
        rows = list(map(self._rows.get, chunk_ids))
        if None in rows:
            return None
        self.hits += len(rows)
        return rows

    def _put(self, rows: dict[int, HitRow]) -> None:
        if self.max_rows <= 0 or not rows:
            return
        with self._lock:
            if len(self._rows) + len(rows) > self.max_rows:
                drop = max(len(self._rows) // 4, len(self._rows) + len(rows) - self.max_rows)
                for key in list(self._rows)[:drop]:  # insertion order: the oldest first
                    del self._rows[key]
            self._rows.update(rows)


class RowReader:
    """Rows and document ids for one search's hits (see ``RowCache.reader``)."""

    __slots__ = ("_cache", "_fresh", "_store")

    def __init__(self, cache: RowCache, store: CollectionStore, fresh: bool) -> None:
        self._cache = cache
        self._store = store
        self._fresh = fresh

    def rows(self, chunk_ids: Sequence[int]) -> dict[int, HitRow]:
        """Rows of the given chunks; ids not found (deleted meanwhile) are left out."""
        cache = self._cache
        if not self._fresh:
            found = self._store.hit_rows(chunk_ids)
            cache._put(found)
            return found
        have = cache._rows
        out: dict[int, HitRow] = {}
        missing: list[int] = []
        for cid in chunk_ids:
            row = have.get(cid)
            if row is None:
                missing.append(cid)
            else:
                out[cid] = row
        cache.hits += len(chunk_ids) - len(missing)
        if missing:
            cache.misses += len(missing)
            found = self._store.hit_rows(missing)
            cache._put(found)
            out.update(found)
        return out

    def aligned(self, chunk_ids: list[int]) -> list[HitRow] | None:
        """The rows of ``chunk_ids`` in their order (repeats included) when the reader may
        serve from memory and every one is there, else None (then ``rows``). One C-level
        pass over a batch's labels: no set, no sort, no Python loop per id."""
        if not self._fresh:
            return None
        found = self._cache.cached(chunk_ids)
        return found  # type: ignore[return-value]  # cached(): no None inside

    def doc_ids(self, chunk_ids: Sequence[int]) -> dict[int, str]:
        """chunk id -> document id (the ids-only batch path); deleted chunks left out."""
        if self._fresh:
            get = self._cache._rows.get  # .get: another thread may evict meanwhile
            out: dict[int, str] = {}
            for c in chunk_ids:
                row = get(c)
                if row is None:
                    break
                out[c] = row.doc_id
            else:
                self._cache.hits += len(out)
                return out
        return {c: r.doc_id for c, r in self.rows(chunk_ids).items()}
