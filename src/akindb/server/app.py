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
POST   /v1/collections/{name}/update                  Collection.update                write
POST   /v1/collections/{name}/add_files               Collection.add_files (uploads)   write
POST   /v1/collections/{name}/delete                  Collection.delete                write
POST   /v1/collections/{name}/get                     Collection.get                   read
GET    /v1/collections/{name}/count                   Collection.count                 read
POST   /v1/collections/{name}/search                  Collection.search                read
POST   /v1/collections/{name}/search_batch            Collection.search per query      read
POST   /v1/collections/{name}/search_vector           Collection.search_vector         read
POST   /v1/collections/{name}/search_vectors          Collection.search_vectors        read
POST   /v1/collections/{name}/context                 Collection.context (RAG)         read
POST   /v1/collections/{name}/more_like               Collection.more_like             read
POST   /v1/collections/{name}/tokenize                Collection.tokenize              read
POST   /v1/collections/{name}/flush                   Collection.flush                 write
POST   /v1/collections/{name}/tune                    Collection.tune                  write
GET    /v1/collections/{name}/index_stats             Collection.index_stats           read
POST   /v1/collections/{name}/compact                 Collection.compact               write
POST   /v1/collections/{name}/vectors_of              Collection.vectors_of            read
POST   /v1/collections/{name}/map                     2-D PCA map (web page)           read
POST   /v1/collections/{name}/explain                 why a hit scored so (web page)   read
====================================================  ===============================  ======

Without a key: ``/`` and ``/static/*`` (the page shell, no data), ``/healthz`` and
``/openapi.json``.

Concurrency: the key check runs on the event loop (a hash and a ``stat``); the work runs in the
thread pool, so searches run in parallel with writes (SQLite WAL; the model and a vector search's
index search run outside the database lock; see ``akindb.snapshot`` for how a search still reads
one version of the collection). Text searches run ``ServerSettings.search_threads`` at a time;
cheap vector searches skip the thread pool (``lane.FastLane``), and successful ones skip
FastAPI's routing too (``fast.FastPath``). Bodies are parsed with orjson. The model and the
indexes are loaded once per worker process, at startup (``ServerSettings.warm``), and kept;
``akindb serve --workers N`` runs N such processes on one socket (``app_from_env``), all
reading and writing the same SQLite file: a write acknowledged by one is seen by the others'
next query (each index catches up from the log).
"""

import contextlib
import logging
import os
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any, cast

from fastapi import Depends, FastAPI, Request
from fastapi.responses import FileResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

import akindb
from akindb import errors
from akindb.collection.database import validate_name
from akindb.server import schemas as s
from akindb.server.auth import ApiKey
from akindb.server.disconnect import add_disconnect_handling, in_chunks
from akindb.server.fast import Answer, FastPath
from akindb.server.handlers import install_error_handlers
from akindb.server.hardening import SecurityHeaders, check_budget
from akindb.server.limits import BodyLimit
from akindb.server.respond import (
    ApiError,
    JSONRequest,
    dumps,
    error_response,
    f32_range,
    hit_json,
    hits_json,
    json_response,
    loads,
)
from akindb.server.state import (
    SETTINGS_ENV,
    ServerSettings,
    State,
    authenticate,
    authorize,
    presented,
)
from akindb.server.views import build_map, explain

__all__ = [
    "ApiError", "ServerSettings", "app_from_env", "create_app", "error_response", "hit_json",
    "json_response",
]

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
API_VERSION = "1"
LANE_MAX_QUERIES = 8
"""Batch searches up to this many vectors may take the fast lane."""


class _Route(APIRoute):
    """Parses JSON bodies with ``respond.loads`` (orjson, ~10× the standard library)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            return await handler(JSONRequest(request.scope, request.receive))

        return route


def create_app(settings: ServerSettings) -> FastAPI:
    """Build the app for one worker process (opens the database)."""
    state = State(settings)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if settings.warm:
            await run_in_threadpool(state.warm)
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
    app.router.route_class = _Route
    app.state.akindb = state
    install_error_handlers(app)

    def name_auth(role: str) -> Callable[..., Coroutine[Any, Any, str]]:
        # async: the key check runs on the event loop (no thread hand-off); the collection is
        # opened by the route, in the thread pool (it reads SQLite under the database lock).
        async def dep(name: str, key_text: Annotated[str | None, Depends(presented)]) -> str:
            key = authenticate(state, key_text)
            authorize(key, role, validate_name(name))
            return name

        return dep

    ReadName = Annotated[str, Depends(name_auth("read"))]
    WriteName = Annotated[str, Depends(name_auth("write"))]
    AdminName = Annotated[str, Depends(name_auth("admin"))]

    async def _key(key_text: Annotated[str | None, Depends(presented)]) -> ApiKey | None:
        return authenticate(state, key_text)

    authed = Depends(_key)
    col = state.collection

    # ---- page shell and health (no data, no key) ---------------------------------------------
    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/healthz", tags=["server"])
    async def health() -> dict[str, Any]:
        return {"status": "ok", "version": akindb.__version__, "auth": settings.auth,
                "pid": os.getpid()}

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
        authorize(key, "admin", validate_name(body.name))
        kwargs: dict[str, Any] = {
            "model": state.resolve_model(body.model), "metric": body.metric, "dim": body.dim,
            "index": body.index, "index_params": body.index_params,
        }
        if body.get_or_create:
            try:
                return json_response(col(body.name).info().to_dict())
            except errors.CollectionNotFoundError:
                pass
        created = state.db.create_collection(body.name, **kwargs)
        return json_response(created.info().to_dict(), 201)

    @app.get("/v1/collections/{name}", response_model=dict[str, Any], tags=["collection"])
    def info(name: ReadName) -> Response:
        return json_response(col(name).info().to_dict())

    @app.delete("/v1/collections/{name}", status_code=204, tags=["database"])
    def drop_collection(name: AdminName) -> Response:
        state.db.drop_collection(col(name).name)
        return Response(status_code=204)

    # ---- writes --------------------------------------------------------------------------------
    def _write(name: str, body: s.AddRequest, upsert: bool) -> Response:
        c = col(name)
        fn = c.upsert if upsert else c.add
        ids = fn(
            body.texts, ids=body.ids, metadatas=body.metadatas, vectors=f32_range(body.vectors),
            sources=body.sources, chunk=body.chunk,
        )
        return json_response({"ids": ids})

    @app.post("/v1/collections/{name}/add", response_model=s.IdsResponse, tags=["collection"])
    def add(body: s.AddRequest, name: WriteName) -> Response:
        return _write(name, body, upsert=False)

    @app.post("/v1/collections/{name}/upsert", response_model=s.IdsResponse, tags=["collection"])
    def upsert(body: s.AddRequest, name: WriteName) -> Response:
        return _write(name, body, upsert=True)

    @app.post("/v1/collections/{name}/delete", response_model=s.CountResponse,
              tags=["collection"])
    def delete(body: s.DeleteRequest, name: WriteName) -> Response:
        return json_response({"count": col(name).delete(body.ids, where=body.where)})

    @app.post("/v1/collections/{name}/flush", status_code=204, tags=["collection"])
    def flush(name: WriteName) -> Response:
        col(name).flush()
        return Response(status_code=204)

    # ---- reads ---------------------------------------------------------------------------------
    @app.post("/v1/collections/{name}/get", response_model=s.RecordsResponse, tags=["collection"])
    def get(body: s.GetRequest, name: ReadName) -> Response:
        recs = col(name).get(body.ids, where=body.where, limit=body.limit, offset=body.offset)
        return json_response({"records": [r.to_dict() for r in recs]})

    @app.get("/v1/collections/{name}/count", response_model=s.CountResponse, tags=["collection"])
    def count(name: ReadName) -> Response:
        return json_response({"count": col(name).count()})

    def _opts(body: s._SearchOpts) -> dict[str, Any]:
        return {
            "min_score": body.min_score, "max_distance": body.max_distance,
            "where": body.where, "exact": body.exact,
        }

    def _text_opts(body: Any) -> dict[str, Any]:
        """The body's search options, checked once (``SearchOptions.checked``), as the
        keyword arguments of ``Collection.search``."""
        from dataclasses import fields

        from akindb.retrieval.request import OPTION_NAMES, SearchOptions

        if body.rerank is not None and not str(body.rerank).strip().lower().startswith("mmr"):
            raise errors.InvalidArgumentError(
                f"rerank {body.rerank!r} is not available over HTTP: use 'mmr' (a cross-encoder "
                "runs in the process that has its weights)"
            )
        opts = SearchOptions(**{n: getattr(body, n) for n in OPTION_NAMES}).checked()
        return {f.name: getattr(opts, f.name) for f in fields(opts) if f.name != "k"}

    @app.post("/v1/collections/{name}/search", response_model=s.HitsResponse, tags=["search"])
    async def search(body: s.SearchRequest, name: ReadName) -> Response:
        opts = _text_opts(body)
        return json_response(await state.searching(
            lambda: hits_json(col(name).search(body.query, body.k, **opts))))

    @app.post("/v1/collections/{name}/search_batch", response_model=s.HitsBatchResponse,
              tags=["search"])
    async def search_batch(body: s.SearchBatchRequest, name: ReadName) -> Response:
        opts = _text_opts(body)

        check_budget(len(body.queries), body.k, sum(map(len, body.queries)))

        def run(lo: int, hi: int) -> dict[str, Any]:
            c = col(name)
            res = [c.search(q, body.k, **opts) for q in body.queries[lo:hi]]
            return {"results": [[hit_json(h) for h in hs] for hs in res]}

        # in chunks, dropped if the client leaves (disconnect.py)
        return json_response(await in_chunks(len(body.queries), body.k, run, state.searching))

    VectorBody = s.SearchVectorRequest | s.SearchVectorsRequest

    def _vector_call(name: str, body: VectorBody) -> tuple[int, Callable[..., dict[str, Any]]]:
        if isinstance(body, s.SearchVectorRequest):
            one = body

            def single() -> dict[str, Any]:
                return hits_json(col(name).search_vector(f32_range(one.vector), one.k,
                                                         **_opts(one)))

            return 1, single
        many = body
        check_budget(len(many.vectors), many.k)

        def batch(lo: int = 0, hi: int | None = None) -> dict[str, Any]:
            c, vecs = col(name), f32_range(many.vectors[lo:hi])
            if many.include is not None:
                inc = cast(Any, many.include)
                return dict(c.search_vectors(vecs, many.k, include=inc, **_opts(many)))
            res = c.search_vectors(vecs, many.k, **_opts(many))
            return {"results": [[hit_json(h) for h in hs] for hs in res]}

        return len(many.vectors), batch

    async def vector_search(name: str, body: VectorBody) -> dict[str, Any]:
        n, call = _vector_call(name, body)
        if n <= LANE_MAX_QUERIES and body.where is None and not body.exact:
            return await state.lane.run(name, call)
        if isinstance(body, s.SearchVectorsRequest):  # in chunks, dropped if the client leaves
            return await in_chunks(n, body.k, call, state.lane.offload)
        return await state.lane.offload(call)

    @app.post("/v1/collections/{name}/search_vector", response_model=s.HitsResponse,
              tags=["search"])
    async def search_vector(body: s.SearchVectorRequest, name: ReadName) -> Response:
        return json_response(await vector_search(name, body))

    @app.post("/v1/collections/{name}/search_vectors",
              response_model=s.HitsBatchResponse | s.QueryResultOut, tags=["search"])
    async def search_vectors(body: s.SearchVectorsRequest, name: ReadName) -> Response:
        return json_response(await vector_search(name, body))

    def fast(model: type[VectorBody]) -> Answer:
        # The same key check, model and call as the routes above (fast.py: success only).
        async def answer(name: str, key_text: str | None, raw: bytes) -> bytes | None:
            authorize(authenticate(state, key_text), "read", validate_name(name))
            return dumps(await vector_search(name, model.model_validate(loads(raw))))

        return answer

    @app.post("/v1/collections/{name}/tokenize", response_model=s.TokenViewOut, tags=["search"])
    def tokenize(body: s.TokenizeRequest, name: ReadName) -> Response:
        return json_response(col(name).tokenize(body.text).to_dict())

    from akindb.server.maintenance_routes import add_maintenance_routes
    from akindb.server.rag_routes import add_rag_routes

    add_rag_routes(app, state, name_auth)
    add_maintenance_routes(app, state, name_auth)
    from akindb.server.update_routes import add_update_routes

    add_update_routes(app, state, name_auth)

    # ---- the web page's views ------------------------------------------------------------------
    @app.post("/v1/collections/{name}/map", response_model=s.MapResponse, tags=["page"])
    def map_(body: s.MapRequest, name: ReadName) -> Response:
        return json_response(build_map(col(name), state.maps, body.query, body.k,
                                       body.max_points))

    @app.post("/v1/collections/{name}/explain", response_model=s.ExplainResponse, tags=["page"])
    def explain_(body: s.ExplainRequest, name: ReadName) -> Response:
        if not body.query.strip():
            raise errors.EmptyTextError("the query is empty; type some words to search for")
        return json_response(explain(col(name), body.query, body.id, body.chunk))

    # ---- middleware (the last added runs first) ------------------------------------------------
    if settings.fast_path:
        app.add_middleware(FastPath, routes={
            "search_vector": fast(s.SearchVectorRequest),
            "search_vectors": fast(s.SearchVectorsRequest),
        })
    # outermost: the size and time limits apply to every route, the fast path's included
    app.add_middleware(
        BodyLimit, max_bytes=settings.max_body_bytes, timeout_s=settings.body_timeout_s
    )
    app.add_middleware(SecurityHeaders)  # outermost: every response, errors included
    add_disconnect_handling(app)  # outermost: watches the connection itself (disconnect.py)
    return app


def app_from_env() -> FastAPI:
    """The app for a worker started by ``akindb serve`` (a uvicorn factory: the settings come
    as JSON in ``AKINDB_SERVE_SETTINGS``, so any number of worker processes can build it)."""
    text = os.environ.get(SETTINGS_ENV)
    if not text:
        raise errors.InvalidArgumentError(
            f"{SETTINGS_ENV} is not set; start the server with `akindb serve`"
        )
    return create_app(ServerSettings.from_json(text))
