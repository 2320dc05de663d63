"""``akindb serve --cluster ADDRESS``: the server's collections come from a Ray cluster.

The server is written against a *catalog* (list, open, create and drop collections) and the
collection protocol (``akindb.CollectionAPI``). ``ClusterCatalog`` is that catalog over an
``akindb.distributed.Cluster``: the router of each collection lives in the server process
(``DistributedCollection``), so every route serves a cluster collection through the same code
as an embedded one. Only the key store stays on the server's disk (``--db`` folder, or
``--api-key-file``).

Routers are kept per collection (opening one asks the collection's controller for its layout);
a collection dropped through this server is forgotten at once. The one cluster-only route,
``GET /v1/collections/{name}/shards``, gives the web page each shard's replicas with their
node, role, readiness and lag (from ``Cluster.status``); on an embedded server it answers
``{"shards": null}`` and the page shows no shard view.
"""

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from akindb import errors

if TYPE_CHECKING:
    from akindb.distributed import Cluster, DistributedCollection
    from akindb.models.base import Embedder


class ClusterCatalog:
    """The collections of one Ray cluster, with the calls the server makes of a ``Database``."""

    def __init__(self, cluster: "Cluster", path: Path) -> None:
        self.cluster = cluster
        self.path = path
        """Where the key store lives (``keys.toml`` unless ``--api-key-file``)."""
        self.lock = threading.RLock()
        """Never held by a search: the fast lane is off on a cluster (each search waits on
        the network, so it never runs on the event loop)."""
        self._cols: dict[str, DistributedCollection] = {}
        self._guard = threading.Lock()

    @classmethod
    def open(cls, address: str, path: Path, timeout: float = 60.0) -> "ClusterCatalog":
        from akindb.distributed import Cluster

        return cls(Cluster.connect(address, timeout=timeout), path)

    def list_collections(self) -> list[str]:
        return self.cluster.list_collections()

    def get_collection(self, name: str) -> "DistributedCollection":
        with self._guard:
            col = self._cols.get(name)
        if col is None:
            col = self.cluster.get_collection(name)  # CollectionNotFoundError when absent
            with self._guard:
                col = self._cols.setdefault(name, col)
        return col

    def create_collection(self, name: str, *, model: "str | Embedder | None" = "default",
                          metric: str = "cosine", dim: int | None = None, index: str = "flat",
                          index_params: dict[str, Any] | None = None) -> "DistributedCollection":
        """A new collection with the cluster's default layout (1 shard, 2 replicas, or 1 on
        a one-node cluster); for another layout use ``cluster.create_collection``."""
        if model is not None and not isinstance(model, str):
            raise errors.InvalidArgumentError(
                "a cluster collection loads its model by name on every node; give a model name"
            )
        replicas = min(2, max(1, sum(1 for n in self.cluster.nodes() if n["alive"])))
        col = self.cluster.create_collection(name, model=model, metric=metric, dim=dim,
                                             index=index, index_params=index_params,
                                             replicas=replicas)
        with self._guard:
            self._cols[name] = col
        return col

    def drop_collection(self, name: str) -> None:
        with self._guard:
            self._cols.pop(name, None)
        self.cluster.drop_collection(name)

    def shards(self, name: str) -> dict[str, Any]:
        """``name``'s shards and replicas (node, role, ready, lag, documents) and the nodes."""
        st = self.cluster.status(names=[name])
        col = st["collections"].get(name, {"shards": []})
        return {"address": st["address"], "nodes": st["nodes"], "shards": col["shards"]}

    def warm(self) -> None:
        """Open every collection's router now, not on its first request."""
        for name in self.list_collections():
            self.get_collection(name)

    def close(self) -> None:
        """Leave the cluster (its collections stay; only this process disconnects)."""
        with self._guard:
            self._cols.clear()
        self.cluster.shutdown()
