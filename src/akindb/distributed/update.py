"""``DistributedCollection.update``: read the stored documents, merge the change, upsert.

Not atomic across shards (each shard's upsert is its own transaction); each shard's engine
re-embeds only documents whose text changed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from akindb.collection.update import merge_metadata
from akindb.errors import DocumentNotFoundError, InvalidArgumentError
from akindb.models.base import ProgressFn
from akindb.protocol import CollectionAPI


def update_documents(
    col: CollectionAPI,
    ids: Sequence[str],
    texts: Sequence[str] | None,
    metadatas: Sequence[Mapping[str, Any]] | None,
    chunk: bool,
    progress: ProgressFn | None,
) -> list[str]:
    """See ``Collection.update``, through ``col``'s public ``get`` and ``upsert``; metadata is
    merged as the embedded engine merges it (``collection.update.merge_metadata``)."""

    ids = [str(i) for i in ids]
    for name, seq in (("texts", texts), ("metadatas", metadatas)):
        if seq is not None and len(seq) != len(ids):
            raise InvalidArgumentError(f"{len(ids)} ids but {len(seq)} {name}")
    if texts is None and metadatas is None:
        raise InvalidArgumentError("update needs texts, metadatas or both")
    stored = {r.id: r for r in col.get(ids)}
    missing = [i for i in ids if i not in stored]
    if missing:
        raise DocumentNotFoundError(
            f"no documents {missing[:5]} in collection {col.name!r}; add them first"
        )
    new_texts = list(texts) if texts is not None else [stored[i].text for i in ids]
    metas = [merge_metadata(stored[i].metadata, metadatas[j] if metadatas is not None else {})
             for j, i in enumerate(ids)]
    return col.upsert(new_texts, ids=ids, metadatas=metas,
                       sources=[stored[i].source for i in ids], chunk=chunk,
                       progress=progress)
