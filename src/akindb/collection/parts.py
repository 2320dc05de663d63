"""The internal interface of one open collection: what retrieval, ingest and maintenance take.

``Collection`` is the public facade; it owns a ``CollectionParts`` and hands it to the
functions that do the work (``akindb.retrieval.search``, ``akindb.collection.write``,
``akindb.collection.ingest``, ``akindb.collection.maintenance``). Those functions use the
parts' public attributes and methods only, never a private field of another class, and reach
SQLite only through ``storage/`` (``store`` and ``storage.catalog``).

Locks: ``lock`` is the database lock (one SQLite connection per ``Database``); ``live`` has
its own readers-writer lock for the index (see ``live_index``). Take ``lock`` for SQL,
``write_txn()`` for a transaction.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from akindb.collection.config import CollectionConfig
from akindb.collection.live_index import LiveIndex
from akindb.collection.row_cache import RowCache
from akindb.errors import ModelError
from akindb.models.base import Embedder, check_pinned
from akindb.storage import sqlite as sq
from akindb.storage.store import CollectionStore
from akindb.text.chunking import chunk_text
from akindb.types import Chunk, Metric

EmbedderLoader = Callable[[str], Embedder]
"""Loads a registered model by name (``akindb.models.registry.load_embedder``)."""


@dataclass
class CollectionParts:
    """Store, live index, embedder, lock and config of one open collection."""

    config: CollectionConfig
    store: CollectionStore
    live: LiveIndex
    lock: threading.RLock
    db_file: Path
    load_model: EmbedderLoader
    model: Embedder | None = None
    rows: RowCache = field(default_factory=RowCache)
    """Hit rows in memory, checked against the log head after each search (``row_cache``)."""

    def __post_init__(self) -> None:
        self.live.forget = self.rows.forget  # deleted chunks leave the row cache

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def metric(self) -> Metric:
        return self.config.metric

    @property
    def dim(self) -> int:
        return self.config.dim

    @property
    def db_path(self) -> Path:
        return self.db_file.parent

    # ``collection.space.DbDir``: where the database lives (for full-disk recovery).
    @property
    def path(self) -> Path:
        return self.db_file.parent

    @property
    def file(self) -> Path:
        return self.db_file

    @property
    def index_dir(self) -> Path:
        return self.live.path.parent

    @property
    def tune_path(self) -> Path:
        """Where the last ``tune`` report is kept, beside the index file."""
        return self.live.path.with_name(self.live.path.name + ".tune.json")

    # ---- the model --------------------------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        """The pinned model, loaded on first use and kept."""
        if self.model is None:
            spec = self.config.model
            if spec is None:
                raise ModelError(
                    f"collection {self.name!r} stores precomputed vectors and has no model; "
                    "pass vectors (add(vectors=...), search_vector) instead of text"
                )
            emb = self.load_model(spec.name)
            self.check_model(emb)
            self.model = emb
        return self.model

    def check_model(self, embedder: Embedder | None) -> None:
        """Refuse a model other than the pinned one, naming both."""
        check_pinned(self.name, self.dim, self.config.model, embedder)

    def chunks(self, text: str, kind: str, chunk: bool = True) -> list[Chunk]:
        """``text`` cut into chunks by the collection's chunking (one chunk if not ``chunk``)."""
        if not chunk:
            return [Chunk(text, 0, len(text), 0)]
        return chunk_text(
            text, kind=kind, count_tokens=self.embedder.count_tokens, params=self.config.chunking
        )

    # ---- SQLite ------------------------------------------------------------------------------
    def translated(self) -> AbstractContextManager[None]:
        """A context that turns ``sqlite3`` errors into ``StorageError`` naming the file."""
        return sq.translated(self.db_file)

    @contextmanager
    def write_txn(self) -> Iterator[None]:
        """The database lock plus one SQLite transaction: acknowledged means durable."""
        with self.lock, sq.write_txn(self.store.conn, self.db_file):
            yield
