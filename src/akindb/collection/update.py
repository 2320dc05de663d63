"""``Collection.update``: change stored documents by id, as Chroma's and Qdrant's users expect.

Metadata given to ``update`` is *merged* into the stored metadata (a key set to ``None`` is
removed), like Chroma's ``update`` and Qdrant's ``set_payload``; ``upsert`` replaces metadata
whole. A metadata-only update rewrites one column of the document row: nothing is re-embedded,
the chunks, the FTS5 table, the operations log and the vector index stay as they are (filters
read the metadata from the ``documents`` row). New ``texts`` are re-chunked and re-embedded
through the one write pipeline (``write.prepare``/``write.commit``), keeping the stored
metadata unless new metadata is given. Unknown ids are an error and nothing is written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from akindb.collection import write
from akindb.collection.parts import CollectionParts
from akindb.errors import DocumentNotFoundError, InvalidArgumentError
from akindb.models.base import ProgressFn


def merge_metadata(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """``old`` with ``new``'s keys set; a ``None`` value removes the key.

    >>> merge_metadata({"a": 1, "b": 2}, {"b": None, "c": 3})
    {'a': 1, 'c': 3}
    """
    out = dict(old)
    for key, value in new.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def check_update_args(
    ids: Sequence[str] | str,
    texts: Sequence[str] | None,
    metadatas: Sequence[Mapping[str, Any]] | None,
) -> list[str]:
    """The ids of an ``update`` call as strings, after the checks every implementation makes
    (embedded here, and the distributed one before it scatters): something to change,
    matching lengths, unique ids."""
    if isinstance(ids, str):
        ids = [ids]
    ids = [str(i) for i in ids]
    if texts is None and metadatas is None:
        raise InvalidArgumentError("update needs texts=, metadatas= or both")
    if isinstance(texts, str):
        raise InvalidArgumentError("texts must be a list of strings, not one string")
    for name, seq in (("texts", texts), ("metadatas", metadatas)):
        if seq is not None and len(seq) != len(ids):
            raise InvalidArgumentError(f"{len(ids)} ids but {len(seq)} {name}")
    if len(set(ids)) != len(ids):
        raise InvalidArgumentError("ids must be unique within one call")
    return ids


def update(
    parts: CollectionParts,
    ids: Sequence[str],
    texts: Sequence[str] | None,
    metadatas: Sequence[Mapping[str, Any]] | None,
    chunk: bool,
    progress: ProgressFn | None,
) -> list[str]:
    """Apply an ``update`` call (see the module docstring); returns the ids."""
    ids = check_update_args(ids, texts, metadatas)
    if not ids:
        return []
    with parts.lock, parts.translated():
        stored = {r.id: r for r in parts.store.records(ids)}
    missing = [i for i in ids if i not in stored]
    if missing:
        raise DocumentNotFoundError(
            f"no documents with ids {missing[:5]}; update changes stored documents only, "
            "use add() or upsert() to create them"
        )
    metas = [
        merge_metadata(stored[i].metadata, metadatas[n]) if metadatas is not None
        else dict(stored[i].metadata)
        for n, i in enumerate(ids)
    ]
    if texts is None:
        docs = [
            write.DocWrite(i, stored[i].text, stored[i].content_hash, metas[n],
                           stored[i].source, [], replace=False, metadata_only=True)
            for n, i in enumerate(ids)
        ]
    else:
        _, docs = write.prepare(parts, texts, ids, metas, None,
                                [stored[i].source for i in ids], chunk, upsert=True)
    write.commit(parts, docs, progress)
    return ids
