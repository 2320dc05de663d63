"""DistributedCollection: ``akindb.Collection``'s methods, signatures and result types, on shards.

Every method has the embedded signature (a test compares them), so code written against a
``Collection`` runs unchanged. What differs is stated where it matters:

* writes are atomic per shard, not across shards: a multi-shard ``add`` that fails on one shard
  may have committed on others; re-running it is safe (idempotent by id and content);
* vector search merges each shard's top-k with the embedded engine's tie-stable top-k
  (``akindb.core.topk``): exact search gives the same answer as one embedded collection.
  Keyword and hybrid scores use per-shard BM25 statistics, so their order can differ slightly
  from one collection holding everything;
* ``get`` without ids lists shard by shard; ``limit``/``offset`` apply to that order;
* ``allow_partial`` (set on the collection) turns a shard with no live replica from an error
  into a ``PartialResult`` (a list with ``partial=True`` and ``missing_shards``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast, overload

import numpy as np

from akindb.collection.results import INCLUDE, Include, QueryResult
from akindb.core.topk import top_k
from akindb.core.vectors import as_matrix
from akindb.distributed.maintenance import ClusterMaintenance
from akindb.distributed.merge import (
    _CHUNK_KEY,
    PartialResult,
    _tag,
    merge_hits,
    parallel_writes,
)
from akindb.distributed.placement import group_by_shard, shard_of
from akindb.distributed.router import Router
from akindb.errors import EmptyTextError, InvalidArgumentError
from akindb.index.base import F32
from akindb.models.base import Embedder, ProgressFn, TokenView
from akindb.types import Hit, Metric, Record

if TYPE_CHECKING:
    from collections.abc import Callable

    from akindb.collection import Where
    from akindb.ingest import IngestProgress, IngestReport
    from akindb.retrieval.context import RagContext
    from akindb.retrieval.fusion import FusionParams
    from akindb.retrieval.request import GroupBy, SearchMode
    from akindb.retrieval.rerank import Reranker

__all__ = ["_CHUNK_KEY", "DistributedCollection", "PartialResult", "merge_hits",
           "parallel_writes"]

log = logging.getLogger(__name__)


class DistributedCollection(ClusterMaintenance):
    """A collection split into shards, each replicated on distinct Ray nodes."""

    def __init__(self, name: str, router: Router, info: Mapping[str, Any],
                 *, allow_partial: bool = False) -> None:
        self._router = router
        self._info = dict(info)
        self._embedder: Embedder | None = None
        self.allow_partial = allow_partial
        self.shards = router.shards
        self.replicas = len(router.replicas[0])
        self._name = name

    # ---- properties ----------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._name

    @property
    def metric(self) -> Metric:
        return Metric(self._info["metric"])

    @property
    def dim(self) -> int:
        return int(self._info["dim"])

    def _read(self, method: str, *args: Any, **kwargs: Any) -> tuple[list[Any], list[int]]:
        return self._router.read_all(method, args, kwargs, allow_partial=self.allow_partial)

    def _one(self, shard: int, method: str, *args: Any, **kwargs: Any) -> Any:
        res, missing = self._router.scatter(method, args, kwargs, shards=[shard])
        self._router.check_missing(missing, False)
        return res[shard]

    def _wrap(self, items: Sequence[Any], missing: Sequence[int]) -> Any:
        return PartialResult(items, missing) if missing else list(items)

    # ---- writes --------------------------------------------------------------------------------
    def add(
        self,
        texts: Sequence[str] | None = None,
        *,
        ids: Sequence[str] | None = None,
        metadatas: Sequence[Mapping[str, Any]] | None = None,
        vectors: Any = None,
        sources: Sequence[str | None] | None = None,
        chunk: bool = True,
        progress: ProgressFn | None = None,
    ) -> list[str]:
        """Add documents (see ``Collection.add``); each shard's part is one transaction."""
        return self._write(texts, ids, metadatas, vectors, sources, chunk, progress, upsert=False)

    def upsert(
        self,
        texts: Sequence[str] | None = None,
        *,
        ids: Sequence[str] | None = None,
        metadatas: Sequence[Mapping[str, Any]] | None = None,
        vectors: Any = None,
        sources: Sequence[str | None] | None = None,
        chunk: bool = True,
        progress: ProgressFn | None = None,
    ) -> list[str]:
        """Like ``add``, but an existing id with different content is replaced."""
        return self._write(texts, ids, metadatas, vectors, sources, chunk, progress, upsert=True)

    def _write(self, texts: Sequence[str] | None, ids: Sequence[str] | None,
               metadatas: Sequence[Mapping[str, Any]] | None, vectors: Any,
               sources: Sequence[str | None] | None, chunk: bool, progress: ProgressFn | None,
               *, upsert: bool) -> list[str]:
        from akindb.collection import text_hash

        if isinstance(texts, str):
            raise InvalidArgumentError("texts must be a list of strings, not one string")
        if texts is None and vectors is None:
            raise InvalidArgumentError("give texts, vectors, or both")
        n = len(texts) if texts is not None else len(vectors)
        if texts is not None and vectors is not None and len(vectors) != len(texts):
            raise InvalidArgumentError(f"{len(texts)} texts but {len(vectors)} vectors")
        for what, seq in (("ids", ids), ("metadatas", metadatas), ("sources", sources)):
            if seq is not None and len(seq) != n:
                raise InvalidArgumentError(f"{n} items but {len(seq)} {what}")
        if n == 0:
            return []
        mats = as_matrix(vectors, self.dim, self.metric) if vectors is not None else None
        if ids is None:  # the embedded default id: a prefix of the content hash
            body = list(texts) if texts is not None else [""] * n
            for i, t in enumerate(body):
                if not isinstance(t, str):
                    raise InvalidArgumentError(f"text #{i} is {type(t).__name__}, not str")
                if mats is None and not t.strip():
                    raise EmptyTextError(f"text #{i} is empty; give non-empty text")
            import hashlib

            ids = [(text_hash(t) if mats is None
                    else text_hash(t + hashlib.sha256(mats[i]).hexdigest()))[:24]
                   for i, t in enumerate(body)]
        doc_ids = [str(x) for x in ids]
        if len(set(doc_ids)) != n:
            raise InvalidArgumentError("ids must be unique within one call")
        parts: dict[int, dict[str, Any]] = {}
        for s, pos in group_by_shard(doc_ids, self.shards).items():
            parts[s] = {
                "texts": [texts[i] for i in pos] if texts is not None else None,
                "ids": [doc_ids[i] for i in pos],
                "metadatas": [metadatas[i] for i in pos] if metadatas is not None else None,
                "vectors": mats[pos] if mats is not None else None,
                "sources": [sources[i] for i in pos] if sources is not None else None,
                "chunk": chunk,
            }
        parallel_writes(self._router, "upsert" if upsert else "add", parts)
        if progress is not None:
            progress(n)
        return doc_ids

    def add_files(
        self,
        paths: Sequence[str | Path],
        *,
        metadata: Mapping[str, Any] | None = None,
        progress: IngestProgress | None = None,
        prune: bool = True,
        skip_duplicates: bool = False,
    ) -> IngestReport:
        """Index files and folders (read here, chunked and embedded on each shard's primary):
        unchanged files are skipped, changed ones replaced, and (``prune``) documents of files
        gone from the given folders removed; exact duplicates are reported and, with
        ``skip_duplicates``, stored once (as ``Collection.add_files``). For big corpora use
        ``Cluster.ingest`` (a Ray Data job with an embedding actor pool)."""
        from akindb.distributed.files import add_files

        return add_files(self._router, paths, dict(metadata or {}), progress, prune=prune,
                         skip_duplicates=skip_duplicates)

    def add_uploads(self, files: Sequence[tuple[str, bytes]], *,
                    metadata: Mapping[str, Any] | None = None,
                    prune: tuple[Sequence[str], Sequence[str]] | None = None) -> IngestReport:
        """Index file contents that arrived over HTTP (``akindb serve --cluster``): each
        ``(name, bytes)`` is stored under the document id ``name``; ``prune = (folders,
        present)`` then removes the documents under ``folders`` not in ``present``."""
        from akindb.distributed.files import add_uploads

        return add_uploads(self._router, files, dict(metadata or {}), prune)

    def update(
        self,
        ids: Sequence[str],
        *,
        texts: Sequence[str] | None = None,
        metadatas: Sequence[Mapping[str, Any]] | None = None,
        chunk: bool = True,
        progress: ProgressFn | None = None,
    ) -> list[str]:
        """As ``Collection.update``: the stored documents are read from their shards, changed
        and written back with ``upsert`` (each shard's engine re-embeds only changed text)."""
        from akindb.distributed.update import update_documents

        return update_documents(self, ids, texts, metadatas, chunk, progress)

    def delete(self, ids: Sequence[str] | None = None, *, where: Where = None) -> int:
        """Delete documents by id and/or filter; returns how many were deleted."""
        from akindb.storage.filters import parse_where

        if isinstance(ids, str):
            ids = [ids]
        if ids is None and parse_where(where) is None:
            raise InvalidArgumentError(
                "delete needs ids or a where filter (refusing to delete everything)"
            )
        if ids is not None:
            groups = group_by_shard([str(i) for i in ids], self.shards)
            parts = {s: {"ids": [str(ids[i]) for i in pos], "where": where}
                     for s, pos in groups.items()}
        else:
            parts = {s: {"ids": None, "where": where} for s in range(self.shards)}
        total = sum(int(r) for r in parallel_writes(self._router, "delete", parts))
        return total

    # ---- reads ---------------------------------------------------------------------------------
    def get(
        self,
        ids: Sequence[str] | str | None = None,
        *,
        where: Where = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Record]:
        """Stored documents (see ``Collection.get``); without ids, listed shard by shard."""
        if isinstance(ids, str):
            ids = [ids]
        if ids is not None:
            want = [str(i) for i in ids]
            groups = group_by_shard(want, self.shards)
            args = {s: ([want[i] for i in pos],) for s, pos in groups.items()}
            res, missing = self._router.scatter("get", (), {"where": where}, shards=list(args),
                                                args_of=args)
            self._router.check_missing(missing, self.allow_partial)
            found = {r.id: r for recs in res.values() for r in recs}
            out = [found[i] for i in want if i in found]
            page: list[Record] = self._wrap(
                out[offset: None if limit is None else offset + limit], missing)
            return page
        cap = None if limit is None else limit + offset
        parts, missing = self._read("get", None, where=where, limit=cap)
        flat = [r for recs in parts for r in recs]
        end = None if limit is None else offset + limit
        return self._wrap(flat[offset:end], missing)  # type: ignore[no-any-return]

    def count(self) -> int:
        """Number of documents (the sum over shards)."""
        parts, _ = self._read("count")
        return sum(parts)

    def count_chunks(self) -> int:
        parts, _ = self._read("count_chunks")
        return sum(parts)

    def tokenize(self, text: str) -> TokenView:
        """How the collection's model tokenizes ``text`` (asked of any live replica)."""
        res, missing = self._router.scatter("tokenize", (text,), {})
        self._router.check_missing(missing, False)
        return res[min(res)]  # type: ignore[no-any-return]

    def search(
        self,
        query: str,
        k: int = 10,
        *,
        mode: SearchMode = "hybrid",
        min_score: float | None = None,
        max_distance: float | None = None,
        where: Where = None,
        exact: bool = False,
        explain: bool = False,
        rerank: Reranker | str | None = None,
        fusion: FusionParams | Mapping[str, Any] | None = None,
        group_by: GroupBy | None = None,
    ) -> list[Hit]:
        """The ``k`` best chunks over all shards (see ``Collection.search``). With
        ``group_by="document"`` each shard answers k documents (a document lives on one
        shard), and the merge keeps the k best."""
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise InvalidArgumentError(f"k must be a positive integer, got {k!r}")
        res, missing = self._router.scatter(
            "search", (query, k),
            {"mode": mode, "min_score": min_score, "max_distance": max_distance, "where": where,
             "exact": exact, "explain": explain, "rerank": rerank, "fusion": fusion,
             "group_by": group_by},
        )
        self._router.check_missing(missing, self.allow_partial)
        merged = merge_hits([_tag(res[s], s) for s in sorted(res)], k)
        return self._wrap(merged, missing)  # type: ignore[no-any-return]

    def context(
        self,
        query: str,
        max_tokens: int = 1500,
        *,
        k: int = 20,
        mode: SearchMode = "hybrid",
        where: Where = None,
        dedup_threshold: float = 0.95,
        merge_adjacent: bool = True,
        count_tokens: Callable[[str], int] | None = None,
    ) -> RagContext:
        """RAG context over all shards (see ``Collection.context``)."""
        from akindb.distributed.context import build_context

        return build_context(self, query, max_tokens, k=k, mode=mode, where=where,
                             dedup_threshold=dedup_threshold, merge_adjacent=merge_adjacent,
                             count_tokens=count_tokens)

    def more_like(
        self,
        id: str | None = None,
        k: int = 10,
        *,
        text: str | None = None,
        where: Where = None,
    ) -> list[Hit]:
        """Documents like a stored one or like ``text`` (see ``Collection.more_like``)."""
        from akindb.retrieval.context import more_like

        return more_like(cast(Any, self), id, k, text=text, where=where)

    def search_vector(
        self,
        vector: Any,
        k: int = 10,
        *,
        min_score: float | None = None,
        max_distance: float | None = None,
        where: Where = None,
        exact: bool = False,
    ) -> list[Hit]:
        """Search with a precomputed query vector."""
        rows = self.search_vectors(
            vector, k, min_score=min_score, max_distance=max_distance, where=where, exact=exact
        )
        if isinstance(rows, PartialResult):
            return PartialResult(rows[0], rows.missing_shards)
        return rows[0]

    @overload
    def search_vectors(
        self, vectors: Any, k: int = ..., *, min_score: float | None = ...,
        max_distance: float | None = ..., where: Where = ..., exact: bool = ...,
        include: None = ...,
    ) -> list[list[Hit]]: ...

    @overload
    def search_vectors(
        self, vectors: Any, k: int = ..., *, min_score: float | None = ...,
        max_distance: float | None = ..., where: Where = ..., exact: bool = ...,
        include: Sequence[Include],
    ) -> QueryResult: ...

    def search_vectors(
        self,
        vectors: Any,
        k: int = 10,
        *,
        min_score: float | None = None,
        max_distance: float | None = None,
        where: Where = None,
        exact: bool = False,
        include: Sequence[Include] | None = None,
    ) -> list[list[Hit]] | QueryResult:
        """Batch search over all shards: one list of hits per query row (see
        ``Collection.search_vectors``; ``include`` gives a ``QueryResult``)."""
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise InvalidArgumentError(f"k must be a positive integer, got {k!r}")
        if include is not None and (
            isinstance(include, str) or any(x not in INCLUDE for x in include)
        ):
            raise InvalidArgumentError(
                f"include must be a list drawn from {list(INCLUDE)}, got {include!r}"
            )
        q = as_matrix(vectors, self.dim, self.metric, what="query vectors")
        kw: dict[str, Any] = {"min_score": min_score, "max_distance": max_distance,
                              "where": where, "exact": exact}
        if include is not None:
            kw["include"] = sorted({*include, "scores"})
        res, missing = self._router.scatter("search_vectors", (q, k), kw)
        self._router.check_missing(missing, self.allow_partial)
        shards = sorted(res)
        if include is None:
            rows = [merge_hits([_tag(res[s][r], s) for s in shards], k) for r in range(len(q))]
            return self._wrap(rows, missing)  # type: ignore[no-any-return]
        out: dict[str, list[list[Any]]] = {c: [] for c in ("ids", *include)}
        for r in range(len(q)):
            cols = {c: [v for s in shards for v in res[s][c][r]] for c in ("ids", "scores",
                                                                          *include)}
            if not cols["ids"]:
                for c in out:
                    out[c].append([])
                continue
            idx, _ = top_k(cast(F32, np.array([cols["scores"]], dtype=np.float64)), k)
            for c in out:
                out[c].append([cols[c][int(i)] for i in idx[0]])
        result = cast(QueryResult, out)
        if missing:
            result["partial_shards"] = list(missing)  # type: ignore[typeddict-unknown-key]
        return result

    def flush(self) -> None:
        """Save every replica's derived index file (SQLite writes are already durable)."""
        self._router.every_replica("flush")

    def vectors_of(self, doc_id: str) -> F32:
        """Stored vectors of one document's chunks (from its shard)."""
        return self._one(shard_of(str(doc_id), self.shards), "vectors_of",  # type: ignore[no-any-return]
                         str(doc_id))

    # ---- cluster-only ------------------------------------------------------------------------
    def export(self, path: str | Path, name: str | None = None, *, batch: int = 256) -> int:
        """Write every document (text, chunks, vectors: nothing re-embedded) into an embedded
        database at ``path`` as collection ``name`` (default: this one's). Returns the count."""
        from akindb.distributed.moving import export_collection

        return export_collection(self, self._router, Path(path), name or self.name, batch)

    def __repr__(self) -> str:
        return (f"DistributedCollection({self.name!r}, shards={self.shards}, "
                f"replicas={self.replicas}, metric={self.metric.value}, dim={self.dim})")
