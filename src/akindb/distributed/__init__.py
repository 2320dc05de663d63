"""akindb on Ray: sharded, replicated collections with the embedded API (extra ``[ray]``).

>>> from akindb.distributed import Cluster                        # doctest: +SKIP
>>> cluster = Cluster.local(nodes=3)                              # doctest: +SKIP
>>> col = cluster.create_collection("web", shards=4, replicas=2)  # doctest: +SKIP
>>> col.add(texts, ids=ids); col.search("query", k=10)            # doctest: +SKIP

Modules: ``cluster`` (Cluster: start/join, create/get collections, status, kill_node),
``collection`` (DistributedCollection: ``akindb.Collection``'s methods), ``router`` (reads to one
replica per shard with deadline and failover; writes to the primary), ``replica`` (the replica
actor: an embedded database, op-log ordering, epochs, catch-up), ``controller`` (one per
collection: primaries, epochs, fail-over, the reconcile loop), ``ingest`` (Ray Data job),
``moving`` (embedded <-> cluster), ``rows`` (documents with their vectors in transit).

``import akindb`` never imports this package; importing it without Ray installed raises
``MissingExtraError`` naming ``pip install 'akindb[ray]'``.
"""

from __future__ import annotations

from akindb.errors import MissingExtraError

try:
    import ray as _ray  # noqa: F401
except ImportError:
    raise MissingExtraError("ray", "akindb.distributed (sharded collections on Ray)") from None

from akindb.distributed.cluster import Cluster
from akindb.distributed.collection import DistributedCollection, PartialResult
from akindb.distributed.errors import ClusterError, ShardUnavailableError

__all__ = ["Cluster", "ClusterError", "DistributedCollection", "PartialResult",
           "ShardUnavailableError"]
