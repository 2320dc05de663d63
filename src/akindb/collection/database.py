"""Database: a directory holding collections (``akindb.sqlite`` + derived ``indexes/``)."""

from __future__ import annotations

import os
import re
import threading
import uuid
from pathlib import Path
from typing import Any

from akindb.collection.collection import Collection
from akindb.collection.config import CollectionConfig
from akindb.collection.live_index import LiveIndex
from akindb.collection.parts import CollectionParts
from akindb.collection.space import ensure_reserve
from akindb.errors import (
    CollectionExistsError,
    CollectionNotFoundError,
    DatabaseNotFoundError,
    InvalidArgumentError,
    ReadOnlyError,
)
from akindb.index.registry import IndexKind, validate_params
from akindb.models.base import Embedder
from akindb.storage import catalog
from akindb.storage import sqlite as sq
from akindb.storage.store import CollectionStore
from akindb.text.chunking import ChunkingParams
from akindb.types import Metric

DB_FILE = "akindb.sqlite"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
DEFAULT_COLLECTION = "default"


def validate_name(name: str) -> str:
    """Collection names are plain identifiers, so no name can reach a path outside the db."""
    if not isinstance(name, str) or not _NAME.fullmatch(name) or ".." in name:
        raise InvalidArgumentError(
            f"invalid collection name {name!r}: use 1-128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


class Database:
    """A directory with one SQLite file (the truth) and derived index files.

    Thread-safe: one connection guarded by a lock; several processes may open the same
    directory (SQLite WAL: readers never block, writers take turns).
    """

    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        self.path = Path(path).expanduser().resolve()
        self.file = self.path / DB_FILE
        if not self.file.exists():
            if not create:
                raise DatabaseNotFoundError(
                    f"no akindb database at {self.path}; create one with "
                    f"`akindb index FOLDER --db {self.path}` or akindb.open(path)"
                )
            try:
                self.path.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ReadOnlyError(
                    f"cannot create database directory {self.path}: {exc}"
                ) from None
        if os.access(self.path, os.W_OK):
            ensure_reserve(self.path)  # lets a delete run on a full disk (collection.space)
        self.lock = threading.RLock()
        self.conn = sq.connect(self.file)
        self.index_dir = self.path / "indexes"
        self._open: dict[str, Collection] = {}

    # ---- collections ---------------------------------------------------------------------------
    def create_collection(
        self,
        name: str,
        *,
        model: str | Embedder | None = "default",
        metric: str | Metric = Metric.COSINE,
        dim: int | None = None,
        index: str | IndexKind = IndexKind.FLAT,
        index_params: dict[str, Any] | None = None,
        chunking: ChunkingParams | None = None,
    ) -> Collection:
        """Create a collection pinned to ``model`` (default all-MiniLM-L6-v2).

        ``model=None`` makes a vectors-only collection of dimension ``dim`` (for users who
        embed elsewhere): text search is then refused, ``search_vector`` works.
        """
        validate_name(name)
        metric = Metric.parse(metric)
        kind = IndexKind.parse(index)
        index_params = validate_params(kind, index_params)
        embedder = _resolve_model(model)
        if embedder is not None:
            if dim is not None and dim != embedder.dim:
                raise InvalidArgumentError(
                    f"dim={dim} but model {embedder.spec.name} makes {embedder.dim}-d vectors"
                )
            dim = embedder.dim
        if dim is None or dim <= 0:
            raise InvalidArgumentError("a collection without a model needs dim=N (N > 0)")
        chunking = chunking or ChunkingParams(
            max_tokens=embedder.spec.max_tokens if embedder else ChunkingParams().max_tokens
        )
        cfg = CollectionConfig(
            id=0,
            name=name,
            uuid=uuid.uuid4().hex,
            metric=metric,
            dim=dim,
            model=embedder.spec if embedder else None,
            index_kind=kind,
            index_params=dict(index_params or {}),
            chunking=chunking,
        )
        with self.lock, sq.write_txn(self.conn, self.file):
            cid = catalog.insert_collection(
                self.conn, name=name, uuid=cfg.uuid, metric=metric.value, dim=dim,
                model_json=cfg.model.to_json() if cfg.model else None, index_kind=kind.value,
                index_params=cfg.index_params, chunking=chunking.to_dict(),
            )
            if cid is not None:  # the retrieval settings new collections start with
                # imported here: opening a collection to search it does not need them
                from akindb.retrieval.settings import record_defaults

                record_defaults(self.conn, cid)
        if cid is None:
            raise CollectionExistsError(
                f"collection {name!r} already exists; use get_collection or "
                "get_or_create_collection"
            )
        cfg = CollectionConfig(**{**cfg.__dict__, "id": cid})
        col = Collection(self._parts(cfg, embedder))
        self._open[name] = col
        return col

    def get_collection(self, name: str, *, model: str | Embedder | None = None) -> Collection:
        """Open an existing collection. A ``model`` given here must be the pinned one."""
        validate_name(name)
        with self.lock:
            cached = self._open.get(name)
            row = catalog.collection_row(self.conn, name)
        if row is None:
            names = ", ".join(self.list_collections()) or "none yet"
            raise CollectionNotFoundError(
                f"no collection {name!r} in {self.path} (collections: {names}); "
                "create it with create_collection or `akindb index`"
            )
        cfg = CollectionConfig.from_row(row)
        # "default" means "whatever the collection is pinned to" when opening.
        embedder = _resolve_model(model) if model is not None and model != "default" else None
        if cached is not None and cached.config.uuid == cfg.uuid:
            if embedder is not None:
                cached.check_model(embedder)
            return cached
        col = Collection(self._parts(cfg, None))
        if embedder is not None:
            col.check_model(embedder)
            col.use_model(embedder)
        self._open[name] = col
        return col

    def get_or_create_collection(self, name: str, **kwargs: Any) -> Collection:
        try:
            return self.get_collection(name, model=kwargs.get("model"))
        except CollectionNotFoundError:
            return self.create_collection(name, **kwargs)

    def list_collections(self) -> list[str]:
        with self.lock:
            return catalog.collection_names(self.conn)

    def drop_collection(self, name: str) -> None:
        col = self.get_collection(name)
        with self.lock, sq.write_txn(self.conn, self.file):
            catalog.delete_collection(self.conn, col.config.id)
        col.drop_index()
        self._open.pop(name, None)

    def rename_collections(self, renames: list[tuple[str, str]]) -> None:
        """Rename collections, in order, in one transaction (``migrate`` swaps a shadow in)."""
        for old, new in renames:
            validate_name(old)
            validate_name(new)
        with self.lock, sq.write_txn(self.conn, self.file):
            for old, new in renames:
                catalog.rename_collection(self.conn, old, new)
        for old, new in renames:
            self._open.pop(old, None)
            self._open.pop(new, None)

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.path.rglob("*") if p.is_file())

    def _parts(self, cfg: CollectionConfig, embedder: Embedder | None) -> CollectionParts:
        from akindb.models.registry import load_embedder

        store = CollectionStore(self.conn, cfg.id, cfg.dim)
        live = LiveIndex(
            store, self.index_dir / f"{cfg.uuid}.{cfg.index_kind.value}",
            collection_uuid=cfg.uuid, kind=cfg.index_kind.value, metric=cfg.metric,
            dim=cfg.dim, params=cfg.index_params, lock=self.lock,
        )
        return CollectionParts(cfg, store, live, self.lock, self.file, load_embedder, embedder)

    # ---- lifecycle ---------------------------------------------------------------------------
    def flush(self) -> None:
        """Save every open collection's index file (derived data; SQLite is already durable)."""
        for col in list(self._open.values()):
            col.flush()

    def close(self) -> None:
        with self.lock:
            self.flush()
            self._open.clear()
            self.conn.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Database({str(self.path)!r})"


def _resolve_model(model: str | Embedder | None) -> Embedder | None:
    if model is None:
        return None
    if isinstance(model, Embedder):
        return model
    from akindb.models.registry import load_embedder

    return load_embedder(None if model == "default" else model)


def open(path: str | Path = "akindb_db", *, create: bool = True) -> Database:
    """Open (or create) the database directory at ``path``."""
    return Database(path, create=create)
