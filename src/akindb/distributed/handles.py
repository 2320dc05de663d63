"""What the cluster's helpers (ingest, import/export, RAG context) need of a cluster and of a
distributed collection, as protocols: the helpers type against these instead of importing
``cluster`` and ``collection``, which import the helpers (no import circle)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from akindb.protocol import CollectionAPI

if TYPE_CHECKING:
    from akindb.distributed.router import Router
    from akindb.models.base import Embedder


class ShardedCollection(CollectionAPI, Protocol):
    """A ``DistributedCollection``: the collection contract plus its layout and router."""

    shards: int
    _router: Router

    @property
    def embedder(self) -> Embedder: ...


class ClusterHandle(Protocol):
    """A ``Cluster``: find and make its collections."""

    def list_collections(self) -> list[str]: ...

    def get_collection(self, name: str) -> ShardedCollection: ...

    def create_collection(
        self,
        name: str,
        *,
        shards: int = 1,
        replicas: int = 2,
        model: str | None = "default",
        metric: str = "cosine",
        dim: int | None = None,
        index: str = "flat",
    ) -> ShardedCollection: ...
