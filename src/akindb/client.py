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
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from akindb import errors
from akindb.models.base import TokenView
from akindb.server.codes import error_class
from akindb.types import Chunk, Hit, Metric, Record

if TYPE_CHECKING:
    from pathlib import Path

    import httpx

    from akindb.collection import Where
    from akindb.collection.ingest import IngestProgress, IngestReport
    from akindb.collection.results import Include, QueryResult
    from akindb.retrieval.context import RagContext


_JSON = {"Content-Type": "application/json"}
UPLOAD_BATCH_BYTES = 4 * 1024 * 1024
"""``add_files`` uploads files in requests of about this many bytes (base64 adds a third)."""
UPLOAD_BATCH_FILES = 256


class AuthError(errors.AkinError):
    """401: no key, or an unknown, revoked or expired one."""


class PermissionDeniedError(errors.AkinError):
    """403: the key's role or collections do not cover the request."""


class ServerError(errors.AkinError):
    """The server answered with an error that has no embedded counterpart (5xx, 413, ...)."""

    def __init__(self, message: str, status: int = 0, code: str = "") -> None:
        super().__init__(message)
        self.status, self.code = status, code


def _raise(resp: httpx.Response) -> None:
    try:
        err = resp.json()["error"]
        code, message = str(err["code"]), str(err["message"])
    except (ValueError, KeyError, TypeError):
        raise ServerError(
            f"HTTP {resp.status_code} from {resp.request.url}: {resp.text[:200]}",
            resp.status_code,
        ) from None
    if resp.status_code == 401:
        raise AuthError(message)
    if resp.status_code == 403:
        raise PermissionDeniedError(message)
    if code in ("invalid_request", "malformed_json"):
        raise errors.InvalidArgumentError(message)
    cls = error_class(code)
    if cls is None or cls is errors.MissingExtraError:
        raise ServerError(message, resp.status_code, code)
    raise cls(message)


def _vectors(v: Any) -> Any:
    tolist = getattr(v, "tolist", None)
    return tolist() if callable(tolist) else v


def _explanation(d: Mapping[str, Any] | None) -> Any:
    if not d:
        return None
    import dataclasses

    from akindb.retrieval.explain import Explanation

    names = {f.name for f in dataclasses.fields(Explanation)}
    kw = {k: v for k, v in d.items() if k in names}
    if kw.get("token_importance") is not None:
        kw["token_importance"] = [(t["token"], t["importance"]) for t in kw["token_importance"]]
    return Explanation(**kw)


def _hit(d: Mapping[str, Any]) -> Hit:
    return Hit(
        id=d["id"], score=d["score"], distance=d["distance"], text=d["text"],
        source=d.get("source"), start=d.get("start", 0), end=d.get("end", 0),
        chunk=d.get("chunk", 0), metadata=d.get("metadata") or {},
        explanation=_explanation(d.get("explanation")), chunk_id=d.get("chunk_id"),
    )


def _record(d: Mapping[str, Any]) -> Record:
    return Record(
        id=d["id"], text=d["text"], source=d.get("source"), metadata=d.get("metadata") or {},
        content_hash=d["content_hash"],
        chunks=tuple(Chunk(c["text"], c["start"], c["end"], c["index"]) for c in d["chunks"]),
    )


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
            sources: Sequence[str | None] | None = None, chunk: bool = True) -> list[str]:
        return self._write("/add", texts, ids, metadatas, vectors, sources, chunk)

    def upsert(self, texts: Sequence[str] | None = None, *, ids: Sequence[str] | None = None,
               metadatas: Sequence[Mapping[str, Any]] | None = None, vectors: Any = None,
               sources: Sequence[str | None] | None = None, chunk: bool = True) -> list[str]:
        return self._write("/upsert", texts, ids, metadatas, vectors, sources, chunk)

    def delete(self, ids: Sequence[str] | None = None, *, where: Where = None) -> int:
        if isinstance(ids, str):
            ids = [ids]
        body = {"ids": list(ids) if ids is not None else None, "where": where}
        return int(self._call("POST", "/delete", body)["count"])

    def flush(self) -> None:
        self._call("POST", "/flush")

    def add_files(self, paths: Sequence[str | Path], *,
                  metadata: Mapping[str, Any] | None = None,
                  progress: IngestProgress | None = None) -> IngestReport:
        """As ``Collection.add_files``, for files on *this* machine: they are walked and read
        here and their contents uploaded (the server never reads a path it is sent). Document
        ids are the resolved local paths, as embedded; unchanged files are skipped by the
        server (by the hash of their bytes); files that are not text are counted in
        ``skipped`` without being uploaded. ``progress(files_done, files_total, chunks)`` is
        called after each upload of about ``UPLOAD_BATCH_BYTES``."""
        import base64
        import time

        from akindb.collection.ingest import IngestReport
        from akindb.text.loaders import iter_files, load_bytes

        t0 = time.perf_counter()
        files = [p.resolve() for p in iter_files(paths)]
        report = IngestReport(files=len(files))
        batch: list[dict[str, str]] = []
        size = done = 0

        def upload() -> None:
            nonlocal batch, size
            if batch:
                part = self._call("POST", "/add_files", {
                    "files": batch, "metadata": dict(metadata) if metadata else None,
                })
                for name in ("added", "updated", "unchanged", "chunks"):
                    setattr(report, name, getattr(report, name) + int(part[name]))
                report.skipped.update(part["skipped"])
                batch, size = [], 0
            if progress is not None:
                progress(done, len(files), report.chunks)

        for path in files:
            done += 1
            try:
                raw = path.read_bytes()
            except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
                report.skipped["vanished"] += 1
                continue
            except OSError:
                report.skipped["unreadable"] += 1
                continue
            loaded = load_bytes(path, raw)
            if loaded.text is None:  # the server would skip it too: do not upload it
                report.skipped[loaded.skipped or "unreadable"] += 1
                continue
            batch.append({"name": str(path),
                          "content_base64": base64.b64encode(raw).decode("ascii")})
            size += len(raw)
            if size >= UPLOAD_BATCH_BYTES or len(batch) >= UPLOAD_BATCH_FILES:
                upload()
        upload()
        report.seconds = time.perf_counter() - t0
        return report

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

    def info(self) -> dict[str, Any]:
        info: dict[str, Any] = self._call("GET")
        self._info = info
        return info

    def tokenize(self, text: str) -> TokenView:
        d = self._call("POST", "/tokenize", {"text": text})
        return TokenView(d["tokens"], d["ids"], [(a, b) for a, b in d["offsets"]],
                         d["truncated"], d["max_tokens"])

    @staticmethod
    def _opts(k: int, min_score: float | None, max_distance: float | None, where: Where,
              exact: bool) -> dict[str, Any]:
        return {"k": k, "min_score": min_score, "max_distance": max_distance, "where": where,
                "exact": exact}

    @staticmethod
    def _text(mode: str, explain: bool, fusion: Any) -> dict[str, Any]:
        to_dict = getattr(fusion, "to_dict", None)
        return {"mode": mode, "explain": explain,
                "fusion": to_dict() if callable(to_dict) else fusion}

    def search(self, query: str, k: int = 10, *, mode: str = "hybrid",
               min_score: float | None = None, max_distance: float | None = None,
               where: Where = None, exact: bool = False, explain: bool = False,
               fusion: Any = None) -> list[Hit]:
        """As ``Collection.search`` (``fusion``: ``FusionParams`` or its dict; no ``rerank``:
        re-ranking objects run in the caller's process, not over HTTP)."""
        body = {"query": query, **self._opts(k, min_score, max_distance, where, exact),
                **self._text(mode, explain, fusion)}
        return [_hit(h) for h in self._call("POST", "/search", body)["hits"]]

    def search_batch(self, queries: Sequence[str], k: int = 10, *, mode: str = "hybrid",
                     min_score: float | None = None, max_distance: float | None = None,
                     where: Where = None, exact: bool = False, explain: bool = False,
                     fusion: Any = None) -> list[list[Hit]]:
        """Many text queries in one request: ``[search(q, ...) for q in queries]``."""
        body = {"queries": list(queries), **self._opts(k, min_score, max_distance, where, exact),
                **self._text(mode, explain, fusion)}
        return [[_hit(h) for h in hs] for hs in self._call("POST", "/search_batch", body)[
            "results"]]

    def context(self, query: str, max_tokens: int = 1500, *, k: int = 20,
                mode: str = "hybrid", where: Where = None, dedup_threshold: float = 0.95,
                merge_adjacent: bool = True, count_tokens: Any = None) -> RagContext:
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

    def __repr__(self) -> str:
        return f"RemoteCollection({self.name!r}, metric={self.metric.value}, dim={self.dim})"


def connect(url: str, *, api_key: str | None = None, timeout: float = 60.0) -> Client:
    """Connect to an ``akindb serve`` server; the result works like ``akindb.open(...)``."""
    return Client(url, api_key=api_key, timeout=timeout)
