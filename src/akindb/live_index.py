"""Keeps a collection's in-memory index in step with SQLite, the source of truth.

On first use the index file is loaded if it belongs to this collection, has the expected kind,
metric and dimension, and is not ahead of the log; otherwise it is rebuilt from SQLite. Before
every query the operations log's head sequence number is checked (one indexed ``max()``), and
any adds/deletes since the index's ``built_seq`` are applied, so another process's writes are
visible at the next query without a rebuild. The file is rewritten atomically when enough of the
log has been applied since the last save, and on ``flush()``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from akindb.core.vectors import normalize_rows
from akindb.index.base import F32, I64, IndexFileError, VectorIndex
from akindb.index.registry import index_class
from akindb.storage.store import CollectionStore
from akindb.types import Metric

log = logging.getLogger(__name__)

SAVE_AFTER_OPS = 2000
"""Rewrite the index file once this many log operations were applied since the last save."""

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
        self._index: VectorIndex | None = None
        self._seq = 0
        self._saved_seq = -1
        self._unsaved_ops = 0
        self.last_event = ""

    def _prep(self, vectors: F32) -> F32:
        return normalize_rows(vectors) if self.metric is Metric.COSINE else vectors

    def _new(self) -> VectorIndex:
        cls = index_class(self.kind)
        return cls(self.dim, self.metric, **self.params)

    def _load_or_rebuild(self, progress: RebuildProgress | None) -> VectorIndex:
        cls = index_class(self.kind)
        if self.path.exists():
            try:
                index, header = cls.load(self.path)
                head = self.store.head_seq()
                problems = []
                if header.collection_uuid != self.uuid:
                    problems.append("belongs to another collection")
                if header.metric != self.metric.value or header.dim != self.dim:
                    problems.append("has another metric or dimension")
                if header.built_seq > head:
                    problems.append("is ahead of the database log")
                if not problems:
                    self._seq = self._saved_seq = header.built_seq
                    self.last_event = f"loaded {self.path.name} at seq {header.built_seq}"
                    return index
                self.last_event = f"index file {self.path.name} {' and '.join(problems)}: rebuilt"
            except (IndexFileError, OSError, ValueError) as exc:
                self.last_event = f"index file {self.path.name} unusable ({exc}): rebuilt"
            log.warning(self.last_event)
        head, labels, vecs = self.store.all_vectors()
        index = self._new()
        step = 50_000
        for lo in range(0, len(labels), step):
            index.add(labels[lo : lo + step], self._prep(vecs[lo : lo + step]))
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
                self._index = self._load_or_rebuild(progress)
            if self.store.head_seq() != self._seq:
                delta = self.store.delta_since(self._seq)
                if len(delta.deleted):
                    self._index.remove(delta.deleted)
                if len(delta.added):
                    # A chunk id never repeats, but a reader may already hold it: drop first.
                    self._index.remove(delta.added)
                    self._index.add(delta.added, self._prep(delta.vectors))
                self._unsaved_ops += len(delta.added) + len(delta.deleted)
                self._seq = delta.head
            if self._unsaved_ops >= SAVE_AFTER_OPS:
                self.save()
            return self._index

    def save(self) -> None:
        """Write the index file atomically if it is behind what memory holds."""
        with self._lock:
            if self._index is None or (self._saved_seq == self._seq and self.path.exists()):
                return
            try:
                self._index.save(self.path, collection_uuid=self.uuid, built_seq=self._seq)
            except OSError as exc:
                # Derived data: failing to cache it loses nothing; the next open rebuilds.
                log.warning("could not save index %s: %s", self.path, exc)
                return
            self._saved_seq = self._seq
            self._unsaved_ops = 0

    def search(self, queries: F32, k: int, allowed: I64 | None = None) -> tuple[I64, F32]:
        index = self.get()
        return index.search(self._prep(queries), k, allowed)

    def drop(self) -> None:
        with self._lock:
            self._index = None
            self._seq = 0
            self._saved_seq = -1
            self.path.unlink(missing_ok=True)

    @property
    def seq(self) -> int:
        return self._seq

    def size(self) -> int:
        return len(self._index) if self._index is not None else 0

    @staticmethod
    def empty_result(nq: int, k: int) -> tuple[I64, F32]:
        return np.full((nq, k), -1, dtype=np.int64), np.full((nq, k), -np.inf, dtype=np.float32)
