"""Keeps a collection's in-memory index in step with SQLite, the source of truth.

On first use the index file is loaded if it belongs to this collection, has the expected kind,
metric and dimension, and is not ahead of the log; otherwise it is rebuilt from SQLite. Before
every query the operations log's head sequence number is checked (one indexed ``max()``), and
any adds/deletes since the index's ``built_seq`` are applied, so another process's writes are
visible at the next query without a rebuild. The file is rewritten atomically when enough of the
log has been applied since the last save, and on ``flush()``.

Two locks: the database lock (``lock``) guards SQLite and this object's bookkeeping; a
readers-writer lock guards the index itself. Updates take both (database lock first, always);
a search takes the database lock only to catch up, then searches under the shared read lock,
so searches run in parallel with each other and with SQLite writes. Searches change nothing
shared: whatever an index builds lazily (LSH's sorted buckets) is built by ``ready()`` under the
write lock after each change, before the next search.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from akindb.core.rwlock import RWLock
from akindb.core.vectors import normalize_rows
from akindb.index.approx import ApproxIndex
from akindb.index.base import F32, I64, IndexFileError, VectorIndex
from akindb.index.flat import FlatIndex
from akindb.index.registry import index_class, make_index, validate_params
from akindb.storage.checksum import load_checked, publish, sidecar
from akindb.storage.store import CollectionStore, LogTrimmedError
from akindb.types import Metric


class QueryObserver(Protocol):
    """Sees each approximate search (``collection.monitor.RecallMonitor`` samples them)."""

    left: int
    """Searches before the next sample; ``search_ready`` counts it down and calls ``take``
    when it runs out (no call per search), every other search calls ``offer``."""

    def offer(self, queries: F32, k: int, allowed: I64 | None, found: I64) -> None: ...

    def take(self, queries: F32, k: int, allowed: I64 | None, found: I64) -> None: ...

log = logging.getLogger(__name__)

SAVE_AFTER_OPS = 2000
"""Rewrite the index file once this many log operations were applied since the last save."""

AUTO_COMPACT_FRACTION = 0.25
AUTO_COMPACT_MIN = 1000
"""An approximate index whose tombstones reach this fraction (and this count) is compacted
at the next query: rebuilt from its live vectors, so memory and search time come back."""

RebuildProgress = Callable[[int, int], None]


class LiveIndex:
    """The index of one collection plus the log position it reflects."""

    def __init__(
        self,
        store: CollectionStore,
        path: Path,
        *,
        collection_uuid: str,
        kind: str,
        metric: Metric,
        dim: int,
        params: dict[str, Any],
        lock: threading.RLock,
    ) -> None:
        self.store = store
        self.path = path
        self.uuid = collection_uuid
        self.kind = kind
        self.metric = metric
        self.dim = dim
        self.params = params
        self._lock = lock
        self._rw = RWLock()
        self._index: VectorIndex | None = None
        self._seq = 0
        self._saved_seq = -1
        self._unsaved_ops = 0
        self._exact: FlatIndex | None = None
        self._ready = False  # whether index.ready() ran since the index last changed
        self.last_event = ""
        self.monitor: QueryObserver | None = None  # collection.monitor: samples real queries
        self.forget: Callable[[I64 | None], None] | None = None
        """Told the chunk ids the log deleted as the index catches up (None: the index was
        reloaded, forget everything): the row cache drops their rows (``CollectionParts``)."""

    def prep(self, vectors: F32) -> F32:
        return normalize_rows(vectors) if self.metric is Metric.COSINE else vectors

    def _new(self) -> VectorIndex:
        return make_index(self.kind, self.dim, self.metric, self.params)

    def _adopt_params(self, index: VectorIndex) -> bool:
        """Apply the configured search knob to a loaded index; False if its build differs."""
        if not isinstance(index, ApproxIndex):
            return True
        want = validate_params(self.kind, self.params)
        have = index.params()
        if any(want[b] != have.get(b) for b in index.build_params):
            return False
        index.set_knob(want[index.knob])
        return True

    def _load_or_rebuild(self, progress: RebuildProgress | None) -> VectorIndex:
        cls = index_class(self.kind)
        if self.path.exists():
            try:
                # A flipped bit is not trusted either; the file loaded is the one checked.
                index, header = load_checked(self.path, cls.load)
                head = self.store.head_seq()
                problems = []
                if header.collection_uuid != self.uuid:
                    problems.append("belongs to another collection")
                if header.metric != self.metric.value or header.dim != self.dim:
                    problems.append("has another metric or dimension")
                if header.built_seq > head:
                    problems.append("is ahead of the database log")
                if header.built_seq < self.store.log_floor():
                    problems.append("is older than the trimmed log")
                if not problems and not self._adopt_params(index):
                    problems.append("was built with other parameters")
                if not problems:
                    self._seq = self._saved_seq = header.built_seq
                    self.last_event = f"loaded {self.path.name} at seq {header.built_seq}"
                    if header.format < cls.format_version:
                        # An older format that still loads: write the current one once, so
                        # the next open takes the fast path (hnsw format 1 -> 2).
                        self._saved_seq = -1
                        self._unsaved_ops = max(self._unsaved_ops, SAVE_AFTER_OPS)
                        self.last_event += (
                            f" (format {header.format}, saved as format {cls.format_version})"
                        )
                    return index
                self.last_event = f"index file {self.path.name} {' and '.join(problems)}: rebuilt"
            except (IndexFileError, OSError, ValueError) as exc:
                self.last_event = f"index file {self.path.name} unusable ({exc}): rebuilt"
            log.warning(self.last_event)
        head, labels, vecs = self.store.all_vectors()
        index = self._new()
        step = 50_000
        for lo in range(0, len(labels), step):
            index.add(labels[lo : lo + step], self.prep(vecs[lo : lo + step]))
            if progress is not None:
                progress(min(lo + step, len(labels)), len(labels))
        self._seq = head
        self._unsaved_ops = max(len(labels), 1)
        if not self.last_event:
            self.last_event = f"built {self.kind} index from {len(labels)} stored vectors"
        return index

    def get(self, progress: RebuildProgress | None = None) -> VectorIndex:
        """The index, caught up with every committed write."""
        with self._lock:
            if self._index is None:
                with self._rw.write():
                    self._index = self._load_or_rebuild(progress)
                    self._ready = False
            if self.store.head_seq() != self._seq:
                try:
                    delta = self.store.delta_since(self._seq)
                except LogTrimmedError:
                    # Another process compacted and trimmed the log past our position: its
                    # index file holds everything up to the trim point, so start from it.
                    self.last_event = ""
                    with self._rw.write():
                        self._exact = None
                        self._index = self._load_or_rebuild(progress)
                        self._ready = False
                    if self.forget is not None:
                        self.forget(None)
                    delta = self.store.delta_since(self._seq)
                with self._rw.write():
                    self._apply(delta.added, delta.vectors, delta.deleted)
                    self._seq = delta.head
            index = self._index
            if (
                isinstance(index, ApproxIndex)
                and index.deleted_count() >= AUTO_COMPACT_MIN
                and index.deleted_fraction() >= AUTO_COMPACT_FRACTION
            ):
                self.last_event = (
                    f"compacted {self.kind} index ({index.deleted_count()} tombstones, "
                    f"{index.deleted_fraction():.0%})"
                )
                log.info(self.last_event)
                with self._rw.write():
                    index.compact()
                    self._ready = False
                self._unsaved_ops = max(self._unsaved_ops, SAVE_AFTER_OPS)
                self._saved_seq = -1
            if self._unsaved_ops >= SAVE_AFTER_OPS:
                self.save()
            if not self._ready:
                with self._rw.write():
                    self._index.ready()
                self._ready = True
            return self._index

    def _apply(self, added: I64, vectors: F32, deleted: I64) -> None:
        """Apply a log delta to the index (and the exact index beside it, if made)."""
        assert self._index is not None
        prepped = self.prep(vectors) if len(added) else vectors
        if len(deleted):
            self._index.remove(deleted)
        if len(added):
            # A chunk id never repeats, but a reader may already hold it: drop first.
            self._index.remove(added)
            self._index.add(added, prepped)
        if self._exact is not None:
            self._exact.remove(deleted)
            self._exact.remove(added)
            self._exact.add(added, prepped)
        self._unsaved_ops += len(added) + len(deleted)
        self._ready = False
        if len(deleted) and self.forget is not None:
            self.forget(deleted)

    def save(self) -> None:
        """Write the index file atomically if it is behind what memory holds."""
        with self._lock, self._rw.read():
            if self._index is None or (self._saved_seq == self._seq and self.path.exists()):
                return
            # Written beside it, then published with its checksum as one unit (``publish``).
            tmp = self.path.with_name(
                f".{self.path.name}.{os.getpid()}-{threading.get_ident()}.saving.tmp"
            )
            try:
                self._index.save(tmp, collection_uuid=self.uuid, built_seq=self._seq)
                publish(tmp, self.path)
            except OSError as exc:
                tmp.unlink(missing_ok=True)
                # Derived data: failing to cache it loses nothing; the next open rebuilds.
                log.warning("could not save index %s: %s", self.path, exc)
                return
            self._saved_seq = self._seq
            self._unsaved_ops = 0

    def search(
        self, queries: F32, k: int, allowed: I64 | None = None, *, exact: bool = False
    ) -> tuple[I64, F32]:
        """Search the index, or with ``exact=True`` the exact index kept beside it.

        Holds the database lock only while catching up; the search itself runs under the
        index's shared lock (searches change nothing shared, filtered ones included).
        """
        labels, scores, _ = self.search_at(queries, k, allowed, exact=exact)
        return labels, scores

    def search_at(
        self, queries: F32, k: int, allowed: I64 | None = None, *, exact: bool = False
    ) -> tuple[I64, F32, int]:
        """``search`` plus the log position the answer reflects (-1 when the index was replaced
        meanwhile), with ``k`` capped at the index size: ``collection.snapshot`` checks the
        position against the filter's snapshot, the row cache serves rows only when nothing
        was written after it (``row_cache``), and a huge ``k`` allocates nothing."""
        with self._lock:
            index = self.exact_index() if exact else self.get()
        q = self.prep(queries)
        with self._rw.read():
            seq = self._seq if index is self._index or index is self._exact else -1
            labels, scores = index.search(q, max(1, min(k, len(index))), allowed)
        if self.monitor is not None and not exact:
            self.monitor.offer(queries, k, allowed, labels)
        return labels, scores, seq

    def search_ready(
        self, prepped: F32, k: int, queries: F32, exact: bool = False
    ) -> tuple[I64, F32, int] | None:
        """The lean path's search (``collection.lean``): the loaded index as it stands, not
        caught up, and the log position it holds; the caller reads the log head afterwards and
        uses the answer only if it still equals that position (no write since, here or in
        another process), else takes ``search_at``. That saves ``get()``'s head read and the
        database lock before the search. None (nothing searched) when the index is not loaded,
        has work pending (``ready()``, a save) or a writer holds or awaits the index lock, and
        with ``exact`` when no exact index was made beside an approximate one yet.
        ``prepped`` is ``prep(queries)`` (the caller may have fused it with validation)."""
        rw = self._rw
        if not rw.try_read():
            return None
        try:
            index = self._index
            if index is None or not self._ready or self._unsaved_ops >= SAVE_AFTER_OPS:
                return None
            if exact and isinstance(index, ApproxIndex):
                index = self._exact  # kept in step with the log like the index (``_apply``)
                if index is None:
                    return None
            seq = self._seq  # set with the index's contents, under the write lock
            # A small k goes as it is (an index pads what it cannot fill); a big one is capped
            # at the index size first, so it allocates nothing huge (one call fewer per query).
            labels, scores = index.search(prepped, k if k <= 256 else max(1, min(k, len(index))))
        finally:
            rw.release_read()
        mon = self.monitor
        if mon is not None and not exact:
            mon.left -= 1  # RecallMonitor.offer, inline: no call for the 99 % not sampled
            if mon.left < 0:
                mon.take(queries, k, None, labels)
        return labels, scores, seq

    def rows_at(self, labels: I64, seq: int) -> tuple[F32, I64] | None:
        """The flat index's own rows for ``labels`` (for cosine: the stored vectors normalised,
        bit for bit what ``retrieval.search.dense_scores`` computes from SQLite's copy) and the
        positions in ``labels`` they belong to, when the loaded index is flat and still holds
        log position ``seq`` (what ``search_at`` returned for this query); else None, and the
        caller reads SQLite. A label the index lacks is left out (the caller reads it from
        SQLite, the truth); rows are copies, safe after the lock is released."""
        with self._rw.read():
            index = self._index
            if seq < 0 or seq != self._seq or not isinstance(index, FlatIndex):
                return None
            rows = index.rows_of(labels)
            found = np.flatnonzero(rows >= 0)
            mat: F32 = index.vectors()[rows[found]]
        return mat, found

    def exact_index(self) -> VectorIndex:
        """A flat index over the same vectors (the index itself when it is flat).

        Beside an approximate index it is made on first use from that index's vectors and then
        kept in step with the log like the index; it is not saved (memory: 4 * dim bytes per
        vector, paid only by processes that ask for exact answers or tune).
        """
        with self._lock:
            index = self.get()
            if not isinstance(index, ApproxIndex):
                return index
            if self._exact is None:
                with self._rw.write():
                    flat = FlatIndex(self.dim, self.metric)
                    labels = index.labels()
                    flat.add(labels, index.vectors_of(labels))
                    self._exact = flat
            return self._exact

    def set_knob(self, value: int) -> None:
        """Change the approximate index's search knob and save the index file with it."""
        with self._lock:
            index = self.get()
            if not isinstance(index, ApproxIndex):
                return
            with self._rw.write():
                index.set_knob(value)
                index.ready()
            self.params = {**self.params, index.knob: value}
            self._saved_seq = -1
            self.save()

    def compact(self) -> int:
        """Drop tombstones (rebuilding where the engine needs it) and save; returns how many."""
        with self._lock:
            index = self.get()
            if not isinstance(index, ApproxIndex):
                self._saved_seq = -1
                self.save()
                return 0
            dropped = index.deleted_count()
            with self._rw.write():
                index.compact()
                index.ready()
            self.last_event = f"compacted {self.kind} index ({dropped} tombstones)"
            self._saved_seq = -1
            self.save()
            return dropped

    def trimmable_seq(self) -> int:
        """Up to which log position the entries may be trimmed (0: none).

        Only what the index file on disk holds: a reader elsewhere that is further behind
        then reloads that file (see ``get``) instead of catching up, so it loses nothing.
        """
        with self._lock:
            if self._index is None or self._saved_seq != self._seq or not self.path.exists():
                return 0
            return self._seq

    def stats(self) -> dict[str, Any]:
        """Kind, parameters, size, log position, tombstones and file size."""
        with self._lock:
            index = self.get()
            out: dict[str, Any] = {
                "kind": self.kind,
                "params": index.params(),
                "size": len(index),
                "built_seq": self._seq,
                "saved_seq": max(self._saved_seq, 0),
                "deleted": 0,
                "deleted_fraction": 0.0,
                "file_bytes": self.path.stat().st_size if self.path.exists() else 0,
                "last_event": self.last_event,
            }
            if isinstance(index, ApproxIndex):
                out["deleted"] = index.deleted_count()
                out["deleted_fraction"] = index.deleted_fraction()
            return out

    def drop(self) -> None:
        with self._lock, self._rw.write():
            self._index = None
            self._exact = None
            self._ready = False
            self._seq = 0
            self._saved_seq = -1
            self.path.unlink(missing_ok=True)
            sidecar(self.path).unlink(missing_ok=True)

    @property
    def seq(self) -> int:
        return self._seq

    def size(self) -> int:
        return len(self._index) if self._index is not None else 0

    @staticmethod
    def empty_result(nq: int, k: int) -> tuple[I64, F32]:
        return np.full((nq, k), -1, dtype=np.int64), np.full((nq, k), -np.inf, dtype=np.float32)
