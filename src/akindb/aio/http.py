"""``akindb.aconnect``: the HTTP client's calls over ``httpx.AsyncClient`` (extra ``[server]``).

Requests, answers and errors are the sync client's (``akindb.client``): its error mapping and
decoders are imported, not copied, so both clients read the wire the same way. Every collection
coroutine takes ``akindb.Collection``'s parameters; the few that name an object living in this
process (``rerank``, ``count_tokens``) are refused with a message saying why, and ``progress``
is told once, when the server has answered.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from akindb import errors
from akindb.client import _JSON, _raise
from akindb.client import _seg as seg
from akindb.models.base import TokenView
from akindb.types import Hit, Metric, Record
from akindb.wire.decode import hit as _hit
from akindb.wire.decode import plain as as_lists
from akindb.wire.decode import record as _record

if TYPE_CHECKING:
    import httpx

    from akindb.collection import Where
    from akindb.collection.ingest import IngestProgress, IngestReport
    from akindb.collection.reports import CollectionInfo, CompactReport, IndexStats, TuneReport
    from akindb.collection.results import Include, QueryResult
    from akindb.models.base import ProgressFn
    from akindb.retrieval.context import RagContext
    from akindb.retrieval.fusion import FusionParams
    from akindb.retrieval.request import GroupBy, SearchMode
    from akindb.retrieval.rerank import Reranker
    from akindb.types import F32


class AsyncClient:
    """A remote database for asyncio: the methods of ``akindb.client.Client``, awaited."""

    def __init__(self, url: str, *, api_key: str | None = None, timeout: float = 60.0) -> None:
        try:
            import httpx
        except ImportError:
            raise errors.MissingExtraError("server", "akindb.aconnect") from None
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.url = url.rstrip("/")
        self._http = httpx.AsyncClient(base_url=self.url, headers=headers, timeout=timeout)

    async def request(self, method: str, path: str, body: Any = None) -> Any:
        content = None if body is None else json.dumps(body).encode("utf-8")
        resp: httpx.Response = await self._http.request(
            method, path, content=content, headers=_JSON
        )
        if resp.status_code >= 400:
            _raise(resp)
        return resp.json() if resp.status_code != 204 else None

    async def list_collections(self) -> list[str]:
        return list((await self.request("GET", "/v1/collections"))["collections"])

    async def create_collection(
        self,
        name: str,
        *,
        model: str | None = "default",
        metric: str | Metric = Metric.COSINE,
        dim: int | None = None,
        index: str = "flat",
        index_params: dict[str, Any] | None = None,
    ) -> AsyncRemoteCollection:
        info = await self.request("POST", "/v1/collections", {
            "name": name, "model": model, "metric": str(Metric.parse(metric).value),
            "dim": dim, "index": index, "index_params": index_params,
        })
        return AsyncRemoteCollection(self, info)

    async def get_collection(self, name: str) -> AsyncRemoteCollection:
        return AsyncRemoteCollection(
            self, await self.request("GET", f"/v1/collections/{seg(name)}")
        )

    async def get_or_create_collection(self, name: str, **kwargs: Any) -> AsyncRemoteCollection:
        try:
            return await self.get_collection(name)
        except errors.CollectionNotFoundError:
            return await self.create_collection(name, **kwargs)

    async def drop_collection(self, name: str) -> None:
        await self.request("DELETE", f"/v1/collections/{seg(name)}")

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"AsyncClient({self.url!r})"


def _local_only(name: str, value: object) -> None:
    if value is not None:
        raise errors.InvalidArgumentError(
            f"{name} is an object in this process and cannot be sent to the server; leave it "
            "out over HTTP (the server uses its defaults) or use the embedded API"
        )


class AsyncRemoteCollection:
    """``akindb.Collection``'s methods over HTTP as coroutines, returning the same types."""

    def __init__(self, client: AsyncClient, info: Mapping[str, Any]) -> None:
        self._client = client
        self._info = dict(info)
        self.name: str = info["name"]
        self.metric = Metric(info["metric"])
        self.dim: int = int(info["dim"])
        self._base = f"/v1/collections/{seg(self.name)}"

    async def _call(self, method: str, route: str = "", body: Any = None) -> Any:
        return await self._client.request(method, self._base + route, body)

    # ---- writes ------------------------------------------------------------------------------
    async def _write(self, route: str, texts: Sequence[str] | None, ids: Sequence[str] | None,
                     metadatas: Sequence[Mapping[str, Any]] | None, vectors: Any,
                     sources: Sequence[str | None] | None, chunk: bool,
                     progress: ProgressFn | None) -> list[str]:
        if isinstance(texts, str):
            raise errors.InvalidArgumentError("texts must be a list of strings, not one string")
        body = {
            "texts": list(texts) if texts is not None else None,
            "ids": [str(i) for i in ids] if ids is not None else None,
            "metadatas": [dict(m) for m in metadatas] if metadatas is not None else None,
            "vectors": as_lists(vectors), "chunk": chunk,
            "sources": list(sources) if sources is not None else None,
        }
        out = list((await self._call("POST", route, body))["ids"])
        if progress is not None:
            progress(len(out))
        return out

    async def add(
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
        """As ``Collection.add``. The server writes in one transaction: a cancelled call
        either landed whole (the request arrived) or not at all."""
        return await self._write("/add", texts, ids, metadatas, vectors, sources, chunk,
                                 progress)

    async def upsert(
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
        return await self._write("/upsert", texts, ids, metadatas, vectors, sources, chunk,
                                 progress)

    async def delete(self, ids: Sequence[str] | None = None, *, where: Where = None) -> int:
        if isinstance(ids, str):
            ids = [ids]
        body = {"ids": list(ids) if ids is not None else None, "where": where}
        return int((await self._call("POST", "/delete", body))["count"])

    async def flush(self) -> None:
        await self._call("POST", "/flush")

    async def add_files(
        self,
        paths: Sequence[str | Path],
        *,
        metadata: Mapping[str, Any] | None = None,
        progress: IngestProgress | None = None,
        prune: bool = True,
        skip_duplicates: bool = False,
    ) -> IngestReport:
        """As ``akindb.client.RemoteCollection.add_files``: files on this machine are walked
        and read in a thread (``akindb.upload``, shared with the sync client) and each batch
        is uploaded on this event loop."""
        from akindb.upload import upload_files

        loop = asyncio.get_running_loop()
        meta = dict(metadata) if metadata else None

        def send(batch: list[dict[str, str]], extra: Mapping[str, Any] | None = None
                 ) -> dict[str, Any]:
            body = {"files": batch, "metadata": meta, **(extra or {})}
            call = asyncio.run_coroutine_threadsafe(self._call("POST", "/add_files", body), loop)
            out: dict[str, Any] = call.result()
            return out

        return await asyncio.to_thread(
            upload_files, paths, send, progress=progress, prune=prune,
            skip_duplicates=skip_duplicates,
        )

    async def update(
        self,
        ids: Sequence[str],
        *,
        texts: Sequence[str] | None = None,
        metadatas: Sequence[Mapping[str, Any]] | None = None,
        chunk: bool = True,
        progress: ProgressFn | None = None,
    ) -> list[str]:
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
        out = list((await self._call("POST", "/update", body))["ids"])
        if progress is not None:
            progress(len(out))
        return out

    # ---- reads -------------------------------------------------------------------------------
    async def get(
        self,
        ids: Sequence[str] | str | None = None,
        *,
        where: Where = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Record]:
        if isinstance(ids, str):
            ids = [ids]
        body = {"ids": list(ids) if ids is not None else None, "where": where,
                "limit": limit, "offset": offset}
        return [_record(r) for r in (await self._call("POST", "/get", body))["records"]]

    async def count(self) -> int:
        return int((await self._call("GET", "/count"))["count"])

    async def count_chunks(self) -> int:
        return int((await self.info())["chunks"])

    async def info(self) -> CollectionInfo:
        from akindb.collection.reports import CollectionInfo

        info: dict[str, Any] = await self._call("GET")
        self._info = info
        return CollectionInfo.from_dict(info)

    async def index_stats(self) -> IndexStats:
        """As ``Collection.index_stats``: the index's state and the live recall estimate."""
        from akindb.collection.reports import IndexStats

        return IndexStats.from_dict(await self._call("GET", "/index_stats"))

    async def tokenize(self, text: str) -> TokenView:
        d = await self._call("POST", "/tokenize", {"text": text})
        return TokenView(d["tokens"], d["ids"], [(a, b) for a, b in d["offsets"]],
                         d["truncated"], d["max_tokens"])

    async def search(
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
        from akindb.retrieval.request import SearchRequest

        body = SearchRequest(
            query=query, k=k, mode=mode, min_score=min_score, max_distance=max_distance,
            where=where, exact=exact, explain=explain, rerank=rerank, fusion=fusion,
            group_by=group_by,
        ).to_wire()
        return [_hit(h) for h in (await self._call("POST", "/search", body))["hits"]]

    async def tune(self, target_recall: float = 0.95, *, k: int = 10, n_queries: int = 1000,
                   seed: int = 0, queries: Any = None) -> TuneReport:
        """As ``Collection.tune``: measured on the server, saved there."""
        from akindb.collection.reports import TuneReport

        body = {"target_recall": target_recall, "k": k, "n_queries": n_queries, "seed": seed,
                "queries": None if queries is None else as_lists(queries)}
        return TuneReport.from_dict(await self._call("POST", "/tune", body))

    async def compact(self) -> CompactReport:
        """As ``Collection.compact``."""
        from akindb.collection.reports import CompactReport

        return CompactReport.from_dict(await self._call("POST", "/compact"))

    async def vectors_of(self, doc_id: str) -> F32:
        """As ``Collection.vectors_of``."""
        import numpy as np

        rows = (await self._call("POST", "/vectors_of", {"id": doc_id}))["vectors"]
        return np.asarray(rows, dtype=np.float32).reshape(len(rows), self.dim)

    async def context(
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
        from akindb.retrieval.context import Passage, RagContext

        _local_only("count_tokens", count_tokens)
        d = await self._call("POST", "/context", {
            "query": query, "max_tokens": max_tokens, "k": k, "mode": mode, "where": where,
            "dedup_threshold": dedup_threshold, "merge_adjacent": merge_adjacent,
        })
        return RagContext(
            query=d["query"], text=d["text"],
            passages=[Passage(**{**p, "chunks": list(p["chunks"])}) for p in d["passages"]],
            tokens=d["tokens"], max_tokens=d["max_tokens"], truncated=d["truncated"],
            note=d["note"], stats=dict(d["stats"]),
        )

    async def more_like(
        self, id: str | None = None, k: int = 10, *, text: str | None = None, where: Where = None
    ) -> list[Hit]:
        body = {"id": id, "k": k, "text": text, "where": where}
        return [_hit(h) for h in (await self._call("POST", "/more_like", body))["hits"]]

    async def search_vector(
        self,
        vector: Any,
        k: int = 10,
        *,
        min_score: float | None = None,
        max_distance: float | None = None,
        where: Where = None,
        exact: bool = False,
    ) -> list[Hit]:
        v = as_lists(vector)
        if isinstance(v, list) and v and isinstance(v[0], list) and len(v) == 1:
            v = v[0]
        body = {"vector": v, "k": k, "min_score": min_score, "max_distance": max_distance,
                "where": where, "exact": exact}
        return [_hit(h) for h in (await self._call("POST", "/search_vector", body))["hits"]]

    async def search_vectors(
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
        v = as_lists(vectors)
        if isinstance(v, list) and v and not isinstance(v[0], list):
            v = [v]
        body: dict[str, Any] = {"vectors": v, "k": k, "min_score": min_score,
                                "max_distance": max_distance, "where": where, "exact": exact}
        if include is None:
            res = await self._call("POST", "/search_vectors", body)
            return [[_hit(h) for h in hs] for hs in res["results"]]
        if isinstance(include, str):
            raise errors.InvalidArgumentError(f"include must be a list of names, got {include!r}")
        body["include"] = list(include)
        res = await self._call("POST", "/search_vectors", body)
        out: QueryResult = {"ids": res["ids"]}
        for name in include:
            out[name] = res[name]
        return out

    def __repr__(self) -> str:
        return f"AsyncRemoteCollection({self.name!r}, metric={self.metric.value}, dim={self.dim})"
