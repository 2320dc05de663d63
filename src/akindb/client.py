"""HTTP client with the embedded API's methods and result types (extra ``[server]``).

>>> import akindb                                                   # doctest: +SKIP
>>> client = akindb.connect("http://127.0.0.1:8765", api_key="akdb_…")  # doctest: +SKIP
>>> col = client.get_collection("docs")                             # doctest: +SKIP
>>> col.search("configure the bot", k=5)          # list[Hit], as embedded  # doctest: +SKIP

Errors come back as the same ``akindb.errors`` classes the embedded call raises (the server
sends a stable ``code``); auth failures raise ``AuthError`` (401) / ``PermissionDeniedError``
(403), both ``AkinError``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, overload

from akindb import errors
from akindb.models.base import TokenView
from akindb.types import Hit, Metric, Record
from akindb.wire.decode import AuthError, PermissionDeniedError, ServerError, error_from
from akindb.wire.decode import hit as _hit
from akindb.wire.decode import plain as _vectors
from akindb.wire.decode import record as _record
from akindb.wire.decode import token_view as _token_view

if TYPE_CHECKING:
    from pathlib import Path

    import httpx

    from akindb.collection.config import Where
    from akindb.collection.ingest import IngestProgress, IngestReport
    from akindb.collection.reports import CollectionInfo, CompactReport, IndexStats, TuneReport
    from akindb.collection.results import Include, QueryResult
    from akindb.index.base import F32
    from akindb.models.base import ProgressFn
    from akindb.retrieval.context import RagContext
    from akindb.retrieval.fusion import FusionParams
    from akindb.retrieval.request import GroupBy, SearchMode
    from akindb.retrieval.rerank import Reranker

__all__ = [
    "AuthError", "Client", "PermissionDeniedError", "RemoteCollection", "ServerError", "connect",
]

_JSON = {"Content-Type": "application/json"}


def _raise(resp: httpx.Response) -> None:
    try:
        body = resp.json()
    except ValueError:
        body = None
    raise error_from(resp.status_code, body, str(resp.request.url), resp.text)


class Client:
    """A remote database: ``list_collections``, ``create_collection``, ``get_collection``,
    ``get_or_create_collection``, ``drop_collection``, as on ``akindb.Database``."""

    def __init__(self, url: str, *, api_key: str | None = None, timeout: float = 60.0) -> None:
        try:
            import httpx
        except ImportError:
            raise errors.MissingExtraError("server", "akindb.connect") from None
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def request(self, method: str, path: str, body: Any = None) -> Any:
        # Python's json writes NaN/inf (not strict JSON) so the server can refuse them with the
        # same InvalidVectorError as the embedded call, instead of failing here.
        content = None if body is None else json.dumps(body).encode("utf-8")
        resp = self._http.request(method, path, content=content, headers=_JSON)
        if resp.status_code >= 400:
            _raise(resp)
        return resp.json() if resp.status_code != 204 else None

    # ---- collections -------------------------------------------------------------------------
    def list_collections(self) -> list[str]:
        return list(self.request("GET", "/v1/collections")["collections"])

    def create_collection(
        self,
        name: str,
        *,
        model: str | None = "default",
        metric: str | Metric = Metric.COSINE,
        dim: int | None = None,
        index: str = "flat",
        index_params: dict[str, Any] | None = None,
    ) -> RemoteCollection:
        info = self.request("POST", "/v1/collections", {
            "name": name, "model": model, "metric": str(Metric.parse(metric).value),
            "dim": dim, "index": index, "index_params": index_params,
        })
        return RemoteCollection(self, info)

    def get_collection(self, name: str) -> RemoteCollection:
        return RemoteCollection(self, self.request("GET", f"/v1/collections/{_seg(name)}"))

    def get_or_create_collection(self, name: str, **kwargs: Any) -> RemoteCollection:
        try:
            return self.get_collection(name)
        except errors.CollectionNotFoundError:
            return self.create_collection(name, **kwargs)

    def drop_collection(self, name: str) -> None:
        self.request("DELETE", f"/v1/collections/{_seg(name)}")

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client({self.url!r})"


def _seg(name: str) -> str:
    from urllib.parse import quote

    return quote(str(name), safe="")


class RemoteCollection:
    """The methods of ``akindb.Collection`` over HTTP, returning the same types."""

    def __init__(self, client: Client, info: Mapping[str, Any]) -> None:
        self._client = client
        self._info = dict(info)
        self.name: str = info["name"]
        self.metric = Metric(info["metric"])
        self.dim: int = int(info["dim"])
        self._base = f"/v1/collections/{_seg(self.name)}"

    def _call(self, method: str, route: str = "", body: Any = None) -> Any:
        return self._client.request(method, self._base + route, body)

    # ---- writes ------------------------------------------------------------------------------
    def _write(self, route: str, texts: Sequence[str] | None, ids: Sequence[str] | None,
               metadatas: Sequence[Mapping[str, Any]] | None, vectors: Any,
               sources: Sequence[str | None] | None, chunk: bool) -> list[str]:
        if isinstance(texts, str):
            raise errors.InvalidArgumentError("texts must be a list of strings, not one string")
        body = {
            "texts": list(texts) if texts is not None else None,
            "ids": [str(i) for i in ids] if ids is not None else None,
            "metadatas": [dict(m) for m in metadatas] if metadatas is not None else None,
            "vectors": _vectors(vectors), "chunk": chunk,
            "sources": list(sources) if sources is not None else None,
        }
        return list(self._call("POST", route, body)["ids"])

    def add(self, texts: Sequence[str] | None = None, *, ids: Sequence[str] | None = None,
            metadatas: Sequence[Mapping[str, Any]] | None = None, vectors: Any = None,
            sources: Sequence[str | None] | None = None, chunk: bool = True,
            progress: ProgressFn | None = None) -> list[str]:
        """As ``Collection.add`` (one request; ``progress`` is called once, when it is done)."""
        out = self._write("/add", texts, ids, metadatas, vectors, sources, chunk)
        if progress is not None:
            progress(len(out))
        return out

    def upsert(self, texts: Sequence[str] | None = None, *, ids: Sequence[str] | None = None,
               metadatas: Sequence[Mapping[str, Any]] | None = None, vectors: Any = None,
               sources: Sequence[str | None] | None = None, chunk: bool = True,
               progress: ProgressFn | None = None) -> list[str]:
        """As ``Collection.upsert`` (one request; ``progress`` is called once, at the end)."""
        out = self._write("/upsert", texts, ids, metadatas, vectors, sources, chunk)
        if progress is not None:
            progress(len(out))
        return out

    def update(self, ids: Sequence[str], *, texts: Sequence[str] | None = None,
               metadatas: Sequence[Mapping[str, Any]] | None = None, chunk: bool = True,
               progress: ProgressFn | None = None) -> list[str]:
        """As ``Collection.update`` (one request; ``progress`` is called once, at the end)."""
        if isinstance(ids, str):
            ids = [ids]
        if isinstance(texts, str):
            raise errors.InvalidArgumentError("texts must be a list of strings, not one string")
        body = {
            "ids": [str(i) for i in ids], "texts": list(texts) if texts is not None else None,
            "metadatas": [dict(m) for m in metadatas] if metadatas is not None else None,
            "chunk": chunk,
        }
        out = list(self._call("POST", "/update", body)["ids"])
        if progress is not None:
            progress(len(out))
        return out

    def delete(self, ids: Sequence[str] | None = None, *, where: Where = None) -> int:
        if isinstance(ids, str):
            ids = [ids]
        body = {"ids": list(ids) if ids is not None else None, "where": where}
        return int(self._call("POST", "/delete", body)["count"])

    def flush(self) -> None:
        self._call("POST", "/flush")

    def add_files(self, paths: Sequence[str | Path], *,
                  metadata: Mapping[str, Any] | None = None,
                  progress: IngestProgress | None = None, prune: bool = True,
                  skip_duplicates: bool = False) -> IngestReport:
        """As ``Collection.add_files``, for files on *this* machine: they are walked and read
        here and their contents uploaded (the server never reads a path it is sent); pruning
        sends the names of the files walked in one last request; see ``akindb.upload``."""
        from akindb.upload import upload_files

        def send(batch: list[dict[str, str]], extra: Mapping[str, Any] | None = None
                 ) -> dict[str, Any]:
            body = {"files": batch, "metadata": dict(metadata) if metadata else None,
                    **(extra or {})}
            out: dict[str, Any] = self._call("POST", "/add_files", body)
            return out

        return upload_files(paths, send, progress=progress, prune=prune,
                            skip_duplicates=skip_duplicates)

    # ---- reads -------------------------------------------------------------------------------
    def get(self, ids: Sequence[str] | str | None = None, *, where: Where = None,
            limit: int | None = None, offset: int = 0) -> list[Record]:
        if isinstance(ids, str):
            ids = [ids]
        body = {"ids": list(ids) if ids is not None else None, "where": where,
                "limit": limit, "offset": offset}
        return [_record(r) for r in self._call("POST", "/get", body)["records"]]

    def count(self) -> int:
        return int(self._call("GET", "/count")["count"])

    def count_chunks(self) -> int:
        return int(self.info()["chunks"])

    def info(self) -> CollectionInfo:
        from akindb.collection.reports import CollectionInfo

        info: dict[str, Any] = self._call("GET")
        self._info = info
        return CollectionInfo.from_dict(info)

    def tokenize(self, text: str) -> TokenView:
        return _token_view(self._call("POST", "/tokenize", {"text": text}))

    @staticmethod
    def _opts(k: int, min_score: float | None, max_distance: float | None, where: Where,
              exact: bool) -> dict[str, Any]:
        return {"k": k, "min_score": min_score, "max_distance": max_distance, "where": where,
                "exact": exact}

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
        """As ``Collection.search``. ``rerank`` travels as its spec (``"mmr"``); a
        cross-encoder runs where its weights are, so over HTTP it is refused."""
        from akindb.retrieval.request import SearchRequest

        body = SearchRequest(
            query=query, k=k, mode=mode, min_score=min_score, max_distance=max_distance,
            where=where, exact=exact, explain=explain, rerank=rerank, fusion=fusion,
            group_by=group_by,
        ).to_wire()
        return [_hit(h) for h in self._call("POST", "/search", body)["hits"]]

    def search_batch(
        self,
        queries: Sequence[str],
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
    ) -> list[list[Hit]]:
        """Many text queries in one request: ``[search(q, ...) for q in queries]``."""
        from akindb.retrieval.request import SearchOptions

        body = {"queries": list(queries), **SearchOptions(
            k=k, mode=mode, min_score=min_score, max_distance=max_distance, where=where,
            exact=exact, explain=explain, rerank=rerank, fusion=fusion, group_by=group_by,
        ).to_wire()}
        return [[_hit(h) for h in hs] for hs in self._call("POST", "/search_batch", body)[
            "results"]]

    def context(self, query: str, max_tokens: int = 1500, *, k: int = 20,
                mode: SearchMode = "hybrid", where: Where = None,
                dedup_threshold: float = 0.95, merge_adjacent: bool = True,
                count_tokens: Callable[[str], int] | None = None) -> RagContext:
        """As ``Collection.context``: RAG context with citations. Tokens are counted by the
        collection's model tokenizer on the server (a ``count_tokens`` function cannot be
        sent over HTTP)."""
        from akindb.retrieval.context import Passage, RagContext

        if count_tokens is not None:
            raise errors.InvalidArgumentError(
                "count_tokens is a function in this process and cannot be sent to the server; "
                "over HTTP tokens are counted by the collection's model tokenizer (the "
                "embedded default): leave count_tokens out"
            )
        d = self._call("POST", "/context", {
            "query": query, "max_tokens": max_tokens, "k": k, "mode": mode, "where": where,
            "dedup_threshold": dedup_threshold, "merge_adjacent": merge_adjacent,
        })
        return RagContext(
            query=d["query"], text=d["text"],
            passages=[Passage(**{**p, "chunks": list(p["chunks"])}) for p in d["passages"]],
            tokens=d["tokens"], max_tokens=d["max_tokens"], truncated=d["truncated"],
            note=d["note"], stats=dict(d["stats"]),
        )

    def more_like(self, id: str | None = None, k: int = 10, *, text: str | None = None,
                  where: Where = None) -> list[Hit]:
        """As ``Collection.more_like``: documents like a stored one (by id) or like a text."""
        body = {"id": id, "k": k, "text": text, "where": where}
        return [_hit(h) for h in self._call("POST", "/more_like", body)["hits"]]

    def search_vector(self, vector: Any, k: int = 10, *, min_score: float | None = None,
                      max_distance: float | None = None, where: Where = None,
                      exact: bool = False) -> list[Hit]:
        v = _vectors(vector)
        if isinstance(v, list) and v and isinstance(v[0], list) and len(v) == 1:
            v = v[0]
        body = {"vector": v, **self._opts(k, min_score, max_distance, where, exact)}
        return [_hit(h) for h in self._call("POST", "/search_vector", body)["hits"]]

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

    def search_vectors(self, vectors: Any, k: int = 10, *, min_score: float | None = None,
                       max_distance: float | None = None, where: Where = None,
                       exact: bool = False, include: Sequence[Include] | None = None,
                       ) -> list[list[Hit]] | QueryResult:
        v = _vectors(vectors)
        if isinstance(v, list) and v and not isinstance(v[0], list):
            v = [v]  # one vector, as the embedded call accepts
        body: dict[str, Any] = {"vectors": v,
                                **self._opts(k, min_score, max_distance, where, exact)}
        if include is not None:
            if isinstance(include, str):
                raise errors.InvalidArgumentError(
                    f"include must be a list of names, got {include!r}")
            body["include"] = list(include)
            res = self._call("POST", "/search_vectors", body)
            out: QueryResult = {"ids": res["ids"]}
            for name in include:
                out[name] = res[name]
            return out
        return [[_hit(h) for h in hs] for hs in self._call("POST", "/search_vectors", body)[
            "results"]]

    # ---- index maintenance -------------------------------------------------------------------
    def tune(self, target_recall: float = 0.95, *, k: int = 10, n_queries: int = 1000,
             seed: int = 0, queries: Any = None) -> TuneReport:
        """As ``Collection.tune`` (write role): measured on the server, saved there."""
        from akindb.collection.reports import TuneReport

        body = {"target_recall": target_recall, "k": k, "n_queries": n_queries, "seed": seed,
                "queries": None if queries is None else _vectors(queries)}
        return TuneReport.from_dict(self._call("POST", "/tune", body))

    def index_stats(self) -> IndexStats:
        """As ``Collection.index_stats``."""
        from akindb.collection.reports import IndexStats

        return IndexStats.from_dict(self._call("GET", "/index_stats"))

    def compact(self) -> CompactReport:
        """As ``Collection.compact`` (write role)."""
        from akindb.collection.reports import CompactReport

        return CompactReport.from_dict(self._call("POST", "/compact"))

    def vectors_of(self, doc_id: str) -> F32:
        """As ``Collection.vectors_of``: the stored vectors of one document's chunks."""
        import numpy as np

        rows = self._call("POST", "/vectors_of", {"id": doc_id})["vectors"]
        return np.asarray(rows, dtype=np.float32).reshape(len(rows), self.dim)

    def __repr__(self) -> str:
        return f"RemoteCollection({self.name!r}, metric={self.metric.value}, dim={self.dim})"


def connect(url: str, *, api_key: str | None = None, timeout: float = 60.0) -> Client:
    """Connect to an ``akindb serve`` server; the result works like ``akindb.open(...)``."""
    return Client(url, api_key=api_key, timeout=timeout)
