"""Move a collection between an embedded database and a cluster without re-embedding.

Both directions copy ``DocRow``s (text, chunk offsets, vectors, metadata, content hash):
``import_collection`` reads an embedded collection in pages and writes each page's rows to
their shards' primaries (``put``: idempotent, so an interrupted import can be run again);
``export_collection`` pages through every shard (one live replica each) into an embedded
collection created with the same model pin, metric and index kind.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from akindb.distributed.placement import group_by_shard
from akindb.distributed.rows import DocRow, iter_rows, put_rows

if TYPE_CHECKING:
    from akindb.distributed.handles import ClusterHandle, ShardedCollection
    from akindb.distributed.router import Router


def import_collection(cluster: ClusterHandle, path: Path, name: str, *, shards: int, replicas: int,
                      source: str, index: str, batch: int) -> ShardedCollection:
    """See ``Cluster.import_collection``."""
    import akindb
    from akindb.distributed.merge import parallel_writes

    db = akindb.open(path, create=False)
    try:
        src = db.get_collection(source)
        cfg = src.config
        if name in cluster.list_collections():
            dcol = cluster.get_collection(name)
        else:
            dcol = cluster.create_collection(
                name, shards=shards, replicas=replicas,
                model=cfg.model.name if cfg.model else None, metric=cfg.metric.value,
                dim=cfg.dim, index=index,
            )
        if cfg.model is not None:  # the pin must agree before any vector moves
            dcol.embedder  # noqa: B018 - loads the cluster's pinned model here
            src.check_model(dcol.embedder)
        for rows in iter_rows(src, batch):
            ids = [r.id for r in rows]
            parts = {s: {"rows": [rows[i] for i in pos]}
                     for s, pos in group_by_shard(ids, dcol.shards).items()}
            parallel_writes(dcol._router, "put", parts)
    finally:
        db.close()
    return dcol


def export_collection(dcol: ShardedCollection, router: Router, path: Path, name: str,
                      batch: int) -> int:
    """See ``DistributedCollection.export``; returns how many documents were written."""
    import akindb

    info = dcol.info()
    db = akindb.open(path)
    try:
        try:
            col = db.get_collection(name)
        except akindb.CollectionNotFoundError:
            col = db.create_collection(
                name, model=info["model"] if info.get("model") else None,
                metric=info["metric"], dim=None if info.get("model") else info["dim"],
                index=info["index"], index_params=info.get("index_params") or None,
            )
        written = 0
        for s in range(router.shards):
            offset = 0
            while True:
                res, missing = router.scatter("export_rows", (), {}, shards=[s],
                                              args_of={s: (offset, batch)})
                router.check_missing(missing, False)
                rows: list[DocRow] = res[s]
                if not rows:
                    break
                offset += len(rows)
                written += put_rows(col, rows)
        col.flush()
    finally:
        db.close()
    return written
