"""The FastAPI app: one route per Database/Collection method, API keys, JSON errors, limits.

Routes (all under ``/v1``; every one needs a key unless the server runs with ``auth=False``):

====================================================  ===============================  ======
route                                                 method it calls                  role
====================================================  ===============================  ======
GET    /v1/collections                                Database.list_collections        read
POST   /v1/collections                                Database.create_collection       admin
GET    /v1/collections/{name}                         Collection.info                  read
DELETE /v1/collections/{name}                         Database.drop_collection         admin
POST   /v1/collections/{name}/add                     Collection.add (a batch)         write
POST   /v1/collections/{name}/upsert                  Collection.upsert                write
POST   /v1/collections/{name}/delete                  Collection.delete                write
POST   /v1/collections/{name}/get                     Collection.get                   read
GET    /v1/collections/{name}/count                   Collection.count                 read
POST   /v1/collections/{name}/search                  Collection.search                read
POST   /v1/collections/{name}/search_batch            Collection.search per query      read
POST   /v1/collections/{name}/search_vector           Collection.search_vector         read
POST   /v1/collections/{name}/search_vectors          Collection.search_vectors        read
POST   /v1/collections/{name}/tokenize                Collection.tokenize              read
POST   /v1/collections/{name}/flush                   Collection.flush                 write
POST   /v1/collections/{name}/map                     2-D PCA map (web page)           read
POST   /v1/collections/{name}/explain                 why a hit scored so (web page)   read
====================================================  ===============================  ======

Without a key: ``/`` and ``/static/*`` (the page shell, no data), ``/healthz`` and
``/openapi.json``. Handlers are plain ``def`` so they run in the thread pool: searches run in
parallel with writes (SQLite WAL + the database lock; the model runs outside the lock). The
model and index are loaded once per worker process and kept.
"""


import contextlib
import json
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, cast

import numpy as np
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, Response
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

import akindb
from akindb import errors
from akindb.collection import Collection
from akindb.db import Database, validate_name
from akindb.models.base import Embedder
from akindb.server import codes
from akindb.server import schemas as s
from akindb.server.auth import ApiKey, KeyStore
from akindb.server.limits import BodyLimit
from akindb.server.views import MapCache, build_map, explain
from akindb.types import Hit

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
API_VERSION = "1"


@dataclass(frozen=True)
class ServerSettings:
    """How a server runs. Picklable, so ``--workers N`` can rebuild the app in each process."""

    db: Path
    auth: bool = True
    key_file: Path | None = None
    max_body_bytes: int = 32 * 1024 * 1024
    body_timeout_s: float = 30.0
    embedders: tuple[Embedder, ...] = ()
    """Models to use instead of loading by name (matched on ``spec.name``): tests, custom."""


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _finite(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None if math.isnan(obj) else math.copysign(1.7976931348623157e308, obj)
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


def json_response(obj: Any, status: int = 200) -> Response:
    """JSON without re-validation (results come from our own types); never emits NaN/inf."""
    try:
        body = json.dumps(obj, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except ValueError:
        body = json.dumps(_finite(obj), ensure_ascii=False, separators=(",", ":"))
    return Response(body.encode("utf-8"), status_code=status, media_type="application/json")


_F32_MAX = float(np.finfo(np.float32).max)


def f32_range(vectors: Any) -> Any:
    """Refuse numbers float32 cannot hold (the core would cast them to inf with a warning)."""
    if vectors is None:
        return None
    try:
        arr = np.asarray(vectors, dtype=np.float64)
    except (TypeError, ValueError):
        return vectors  # ragged or non-numeric: the core's validation explains it
    with np.errstate(invalid="ignore"):
        if arr.size and np.isfinite(arr).all() and np.abs(arr).max() > _F32_MAX:
            raise errors.InvalidVectorError(
                f"vectors contain values beyond float32's range (±{_F32_MAX:.3g}); scale them"
            )
    return vectors


def hit_json(h: Hit) -> dict[str, Any]:
    d = h.to_dict()
    d["chunk_id"] = getattr(h, "chunk_id", None)
    expl = getattr(h, "explanation", None)
    d["explanation"] = expl.to_dict() if expl is not None else None
    return d


def error_response(status: int, code: str, message: str) -> Response:
    return json_response({"error": {"code": code, "message": message, "status": status}}, status)


class State:
    """Per-process state: the open database, key store, injected models, map cache."""

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self.db = Database(settings.db, create=True)
        self.keys = KeyStore.for_db(self.db.path, settings.key_file)
        self.embedders = {e.spec.name: e for e in settings.embedders}
        self.maps = MapCache()

    def resolve_model(self, model: str | None) -> str | Embedder | None:
        if model is not None and model in self.embedders:
            return self.embedders[model]
        return model

    def collection(self, name: str) -> Collection:
        col = self.db.get_collection(validate_name(name))
        spec = col.config.model
        if spec is not None and col._embedder is None and spec.name in self.embedders:
            emb = self.embedders[spec.name]
            col.check_model(emb)
            col._embedder = emb
        return col


_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <API key>")
_xkey = APIKeyHeader(name="X-API-Key", auto_error=False, description="X-API-Key: <API key>")


def _presented(
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    xkey: Annotated[str | None, Depends(_xkey)],
) -> str | None:
    return bearer.credentials if bearer is not None else xkey


def _authenticate(state: State, presented: str | None) -> ApiKey | None:
    """401 unless the key is known, unrevoked and unexpired (``None`` when auth is off)."""
    if not state.settings.auth:
        return None
    res = state.keys.check(presented)
    if res.key is None:
        raise ApiError(401, res.code, res.message)
    return res.key


def _authorize(key: ApiKey | None, role: str, name: str | None) -> None:
    """403 unless the key's role and collections cover ``role`` on ``name``."""
    if key is None or key.allows(role, name):
        return
    where = f"collection {name!r}" if name is not None else "every collection ('*')"
    raise ApiError(
        403, codes.FORBIDDEN,
        f"API key {key.id} ({key.role} on {', '.join(key.collections)}) may not do this: it "
        f"needs the {role} role on {where}; ask an admin for such a key",
    )


def create_app(settings: ServerSettings) -> FastAPI:
    """Build the app for one worker process (opens the database)."""
    state = State(settings)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        state.db.close()  # saves index files; SQLite already holds every acknowledged write

    app = FastAPI(
        lifespan=lifespan,
        title="akindb",
        version=akindb.__version__,
        summary="Semantic search over HTTP: the akindb Collection API, one route per method.",
        docs_url=None,
        redoc_url=None,
        responses={
            400: {"model": s.ErrorBody}, 401: {"model": s.ErrorBody},
            403: {"model": s.ErrorBody}, 404: {"model": s.ErrorBody},
        },
    )
    app.state.akindb = state
    app.add_middleware(
        BodyLimit, max_bytes=settings.max_body_bytes, timeout_s=settings.body_timeout_s
    )
    _install_errors(app)

    def col_auth(role: str) -> Callable[..., Collection]:
        def dep(name: str, presented: Annotated[str | None, Depends(_presented)]) -> Collection:
            key = _authenticate(state, presented)
            _authorize(key, role, validate_name(name))
            return state.collection(name)

        return dep

    read, write, admin = (Depends(col_auth(r)) for r in ("read", "write", "admin"))

    def _key(presented: Annotated[str | None, Depends(_presented)]) -> ApiKey | None:
        return _authenticate(state, presented)

    authed = Depends(_key)

    # ---- page shell and health (no data, no key) ---------------------------------------------
    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/healthz", tags=["server"])
    def health() -> dict[str, Any]:
        return {"status": "ok", "version": akindb.__version__, "auth": settings.auth}

    # ---- database ------------------------------------------------------------------------------
    @app.get("/v1/collections", response_model=s.CollectionList, tags=["database"])
    def list_collections(key: Annotated[ApiKey | None, authed]) -> Response:
        names = state.db.list_collections()
        if key is not None:
            names = [n for n in names if key.can_see(n)]
        return json_response({"collections": names})

    @app.post("/v1/collections", response_model=dict[str, Any], tags=["database"])
    def create_collection(
        key: Annotated[ApiKey | None, authed], body: s.CreateCollection
    ) -> Response:
        _authorize(key, "admin", validate_name(body.name))
        kwargs: dict[str, Any] = {
            "model": state.resolve_model(body.model), "metric": body.metric, "dim": body.dim,
            "index": body.index, "index_params": body.index_params,
        }
        if body.get_or_create:
            try:
                return json_response(state.collection(body.name).info())
            except errors.CollectionNotFoundError:
                pass
        col = state.db.create_collection(body.name, **kwargs)
        return json_response(col.info(), 201)

    @app.get("/v1/collections/{name}", response_model=dict[str, Any], tags=["collection"])
    def info(col: Annotated[Collection, read]) -> Response:
        return json_response(col.info())

    @app.delete("/v1/collections/{name}", status_code=204, tags=["database"])
    def drop_collection(col: Annotated[Collection, admin]) -> Response:
        state.db.drop_collection(col.name)
        return Response(status_code=204)

    # ---- writes --------------------------------------------------------------------------------
    def _write(col: Collection, body: s.AddRequest, upsert: bool) -> Response:
        fn = col.upsert if upsert else col.add
        ids = fn(
            body.texts, ids=body.ids, metadatas=body.metadatas, vectors=f32_range(body.vectors),
            sources=body.sources, chunk=body.chunk,
        )
        return json_response({"ids": ids})

    @app.post("/v1/collections/{name}/add", response_model=s.IdsResponse, tags=["collection"])
    def add(body: s.AddRequest, col: Annotated[Collection, write]) -> Response:
        return _write(col, body, upsert=False)

    @app.post("/v1/collections/{name}/upsert", response_model=s.IdsResponse, tags=["collection"])
    def upsert(body: s.AddRequest, col: Annotated[Collection, write]) -> Response:
        return _write(col, body, upsert=True)

    @app.post("/v1/collections/{name}/delete", response_model=s.CountResponse,
              tags=["collection"])
    def delete(body: s.DeleteRequest, col: Annotated[Collection, write]) -> Response:
        return json_response({"count": col.delete(body.ids, where=body.where)})

    @app.post("/v1/collections/{name}/flush", status_code=204, tags=["collection"])
    def flush(col: Annotated[Collection, write]) -> Response:
        col.flush()
        return Response(status_code=204)

    # ---- reads ---------------------------------------------------------------------------------
    @app.post("/v1/collections/{name}/get", response_model=s.RecordsResponse, tags=["collection"])
    def get(body: s.GetRequest, col: Annotated[Collection, read]) -> Response:
        recs = col.get(body.ids, where=body.where, limit=body.limit, offset=body.offset)
        return json_response({"records": [r.to_dict() for r in recs]})

    @app.get("/v1/collections/{name}/count", response_model=s.CountResponse, tags=["collection"])
    def count(col: Annotated[Collection, read]) -> Response:
        return json_response({"count": col.count()})

    def _opts(body: s._SearchOpts) -> dict[str, Any]:
        return {
            "min_score": body.min_score, "max_distance": body.max_distance,
            "where": body.where, "exact": body.exact,
        }

    def _text_opts(body: s._TextSearchOpts) -> dict[str, Any]:
        fusion = None
        if body.fusion is not None:
            from akindb.retrieval.fusion import FusionParams

            try:
                fusion = FusionParams.from_dict(body.fusion)
            except (TypeError, ValueError) as exc:
                raise errors.InvalidArgumentError(
                    f"invalid fusion parameters {body.fusion!r}: {exc}; see FusionParams"
                ) from None
        return {**_opts(body), "mode": body.mode, "explain": body.explain, "fusion": fusion}

    @app.post("/v1/collections/{name}/search", response_model=s.HitsResponse, tags=["search"])
    def search(body: s.SearchRequest, col: Annotated[Collection, read]) -> Response:
        hits = col.search(body.query, body.k, **_text_opts(body))
        return json_response({"hits": [hit_json(h) for h in hits]})

    @app.post("/v1/collections/{name}/search_batch", response_model=s.HitsBatchResponse,
              tags=["search"])
    def search_batch(body: s.SearchBatchRequest, col: Annotated[Collection, read]) -> Response:
        opts = _text_opts(body)
        res = [col.search(q, body.k, **opts) for q in body.queries]
        return json_response({"results": [[hit_json(h) for h in hs] for hs in res]})

    @app.post("/v1/collections/{name}/search_vector", response_model=s.HitsResponse,
              tags=["search"])
    def search_vector(body: s.SearchVectorRequest, col: Annotated[Collection, read]) -> Response:
        hits = col.search_vector(f32_range(body.vector), body.k, **_opts(body))
        return json_response({"hits": [hit_json(h) for h in hits]})

    @app.post("/v1/collections/{name}/search_vectors",
              response_model=s.HitsBatchResponse | s.QueryResultOut, tags=["search"])
    def search_vectors(body: s.SearchVectorsRequest, col: Annotated[Collection, read]) -> Response:
        if body.include is not None:
            inc = cast(Any, body.include)
            vecs = f32_range(body.vectors)
            return json_response(dict(col.search_vectors(vecs, body.k, include=inc, **_opts(body))))
        res = col.search_vectors(f32_range(body.vectors), body.k, **_opts(body))
        return json_response({"results": [[hit_json(h) for h in hs] for hs in res]})

    @app.post("/v1/collections/{name}/tokenize", response_model=s.TokenViewOut, tags=["search"])
    def tokenize(body: s.TokenizeRequest, col: Annotated[Collection, read]) -> Response:
        return json_response(col.tokenize(body.text).to_dict())

    # ---- the web page's views ------------------------------------------------------------------
    @app.post("/v1/collections/{name}/map", response_model=s.MapResponse, tags=["page"])
    def map_(body: s.MapRequest, col: Annotated[Collection, read]) -> Response:
        return json_response(build_map(col, state.maps, body.query, body.k, body.max_points))

    @app.post("/v1/collections/{name}/explain", response_model=s.ExplainResponse, tags=["page"])
    def explain_(body: s.ExplainRequest, col: Annotated[Collection, read]) -> Response:
        if not body.query.strip():
            raise errors.EmptyTextError("the query is empty; type some words to search for")
        return json_response(explain(col, body.query, body.id, body.chunk))

    return app


def _install_errors(app: FastAPI) -> None:
    Handler = Callable[[Request, Any], Awaitable[Response]]

    async def api_error(_: Request, exc: ApiError) -> Response:
        return error_response(exc.status, exc.code, exc.message)

    async def akin_error(_: Request, exc: errors.AkinError) -> Response:
        code, status = codes.code_for(exc)
        return error_response(status, code, str(exc))

    async def validation(_: Request, exc: RequestValidationError) -> Response:
        errs: Sequence[Any] = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errs):
            return error_response(
                400, codes.MALFORMED_JSON,
                "the request body is not valid JSON; send a JSON object with "
                "Content-Type: application/json",
            )
        parts = []
        for e in list(errs)[:5]:
            loc = ".".join(str(x) for x in e.get("loc", ()) if x != "body") or "body"
            parts.append(f"{loc}: {e.get('msg', 'invalid')}")
        return error_response(
            422, codes.INVALID_REQUEST,
            "the request does not match the API schema (see /openapi.json): " + "; ".join(parts),
        )

    async def http_error(_: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return error_response(
                404, codes.ROUTE_NOT_FOUND,
                "no such route; the API lives under /v1 (see /openapi.json)",
            )
        if exc.status_code == 405:
            return error_response(
                405, codes.METHOD_NOT_ALLOWED,
                "this route exists but not with this HTTP method; see /openapi.json",
            )
        if exc.status_code == 413:
            return error_response(413, codes.REQUEST_TOO_LARGE, str(exc.detail))
        if exc.status_code == 408:
            return error_response(408, codes.REQUEST_TIMEOUT, str(exc.detail))
        if exc.status_code == 400:
            return error_response(
                400, codes.MALFORMED_JSON,
                "the request body could not be read; send a JSON object with "
                "Content-Type: application/json",
            )
        return error_response(exc.status_code, "http_error", str(exc.detail))

    async def internal(_: Request, exc: Exception) -> Response:
        log.exception("unexpected error in a request", exc_info=exc)
        return error_response(
            500, codes.INTERNAL_ERROR,
            f"unexpected server error ({type(exc).__name__}); nothing was changed unless the "
            "response said so. Please report it with the server log",
        )

    handlers: list[tuple[type[Exception], Handler]] = [
        (ApiError, api_error),
        (errors.AkinError, akin_error),
        (RequestValidationError, validation),
        (StarletteHTTPException, http_error),
        (Exception, internal),
    ]
    for cls, fn in handlers:
        app.add_exception_handler(cls, fn)
