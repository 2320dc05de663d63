"""Read a Chroma persist directory through ``chromadb`` itself (extra ``[chroma]``), as rows of
an akindb import: one document per Chroma record (one chunk, its stored embedding).

Chroma does not record which model made its embeddings, so the header carries no model pin:
a collection with a model re-embeds the texts (the safe default), a vectors-only collection of
the same dimension takes the embeddings as they are.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from akindb.errors import MissingExtraError
from akindb.transfer.format import ExportHeader, TransferFormatError, validate_row
from akindb.transfer.readers import Batch, Reader


def _client(path: Path) -> Any:
    try:
        import chromadb
    except ImportError:
        raise MissingExtraError("chroma", "akindb import --from chroma") from None
    if not path.is_dir():
        raise TransferFormatError(f"no Chroma directory at {path}; give its persist directory")
    if not (path / "chroma.sqlite3").is_file():
        raise TransferFormatError(
            f"{path} is not a Chroma persist directory (no chroma.sqlite3); Chroma before 0.4 "
            "used another layout: migrate it with Chroma's own tool (chroma-migrate) first"
        )
    try:
        from chromadb.config import Settings

        return chromadb.PersistentClient(
            path=str(path), settings=Settings(anonymized_telemetry=False)
        )
    except Exception as exc:  # chromadb raises many kinds for a directory it cannot read
        raise TransferFormatError(
            f"chromadb {chromadb.__version__} cannot open {path} ({type(exc).__name__}: {exc}); "
            "the directory may be from an unsupported Chroma version: open it with the Chroma "
            "that wrote it and export from there"
        ) from None


class ChromaReader(Reader):
    """One Chroma collection as import rows."""

    def __init__(self, path: str | Path, collection: str | None = None) -> None:
        self.path = Path(path)
        client = _client(self.path)
        names = [getattr(c, "name", c) for c in client.list_collections()]
        if collection is None:
            if len(names) != 1:
                raise TransferFormatError(
                    f"{self.path} holds Chroma collections {sorted(names)}; name one with "
                    "--chroma-collection"
                )
            collection = str(names[0])
        if collection not in names:
            raise TransferFormatError(
                f"no Chroma collection {collection!r} in {self.path} (it has {sorted(names)})"
            )
        self._col = client.get_collection(collection, embedding_function=None)
        n = int(self._col.count())
        first = self._col.get(limit=1, include=["embeddings"])
        emb = first.get("embeddings")
        dim = len(emb[0]) if emb is not None and len(emb) else 0
        meta = self._col.metadata or {}
        space = str(meta.get("hnsw:space", "l2"))
        metric = {"cosine": "cosine", "ip": "dot", "l2": "l2"}.get(space, "l2")
        self.header = ExportHeader(collection=collection, metric=metric, dim=dim, model=None,
                                   rows=n)

    def batches(self, size: int) -> Iterator[Batch]:
        row = 0
        total = self.header.rows or 0
        for offset in range(0, total, size):
            got = self._col.get(limit=size, offset=offset,
                                include=["documents", "metadatas", "embeddings"])
            ids = got["ids"]
            docs = got.get("documents") or [None] * len(ids)
            metas = got.get("metadatas") or [None] * len(ids)
            embs = got.get("embeddings")
            batch: Batch = []
            for i, doc_id in enumerate(ids):
                row += 1
                text = docs[i] or ""
                raw = {"id": str(doc_id), "text": text, "source": None,
                       "metadata": dict(metas[i] or {}),
                       "chunks": [{"index": 0, "start": 0, "end": len(text), "text": text}]}
                vec = None
                if embs is not None and len(embs) > i and embs[i] is not None:
                    vec = np.asarray(embs[i], dtype=np.float32).reshape(1, -1)
                try:
                    batch.append((row, validate_row(raw, row, self.header.dim, vec)))
                except TransferFormatError as exc:
                    batch.append((row, exc))
            yield batch
