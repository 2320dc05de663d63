"""``DistributedCollection.update``: each shard's primary reads, merges and writes its documents.

A document lives on one shard, so an update is sent to the primary of each shard holding one
of its ids as an ``update`` write: the primary runs the embedded ``Collection.update`` (metadata
merged with ``collection.update.merge_metadata``, new text re-chunked and re-embedded) under
its one-writer lock, fenced by its epoch, and replicates the resulting rows like any write.
Two drivers updating the same document are serialised there: neither change is lost (the old
get-then-upsert from the driver could lose one). Unknown ids are found first (one cheap read
per shard) and are an error with nothing written; a shard that fails mid-call leaves the other
shards' updates applied (each shard is its own transaction), and retrying the call is safe.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from akindb.collection.update import check_update_args
from akindb.distributed.handles import ShardedCollection
from akindb.distributed.merge import parallel_writes
from akindb.distributed.placement import group_by_shard
from akindb.errors import DocumentNotFoundError
from akindb.models.base import ProgressFn


def update_documents(
    col: ShardedCollection,
    ids: Sequence[str],
    texts: Sequence[str] | None,
    metadatas: Sequence[Mapping[str, Any]] | None,
    chunk: bool,
    progress: ProgressFn | None,
) -> list[str]:
    """See ``Collection.update``; the merge runs inside each shard's primary."""
    ids = check_update_args(ids, texts, metadatas)
    if not ids:
        return []
    router = col._router
    groups = group_by_shard(ids, col.shards)
    args = {s: ([ids[i] for i in pos],) for s, pos in groups.items()}
    res, missing_shards = router.scatter("hashes", (), {}, shards=list(args), args_of=args)
    router.check_missing(missing_shards, False)
    known = {d for part in res.values() for d in part}
    missing = [i for i in ids if i not in known]
    if missing:
        raise DocumentNotFoundError(
            f"no documents with ids {missing[:5]} in collection {col.name!r}; update changes "
            "stored documents only, use add() or upsert() to create them"
        )
    parts = {
        s: {"ids": [ids[i] for i in pos],
            "texts": [texts[i] for i in pos] if texts is not None else None,
            "metadatas": [dict(metadatas[i]) for i in pos] if metadatas is not None else None,
            "chunk": chunk}
        for s, pos in groups.items()
    }
    parallel_writes(router, "update", parts)
    if progress is not None:
        progress(len(ids))
    return ids
