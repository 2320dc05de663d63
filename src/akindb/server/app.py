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
GET    /v1/collections/{name}/shards                  shards, replicas (--cluster)     read
====================================================  ===============================  ======

Without a key: ``/`` and ``/static/*`` (the page shell, no data), ``/healthz`` and
``/openapi.json``.

Each group of routes is a module with an ``APIRouter`` (``collection_routes``,
``document_routes``, ``search_routes``, ``rag_routes``, ``maintenance_routes``,
``update_routes``, ``view_routes``, ``page_routes``; what they share is ``routing``); this
module only builds the app around them: the state, the error handlers, the middleware and the
static files. ``tests/server/test_routes.py`` pins every route's key check and role to the
table above.

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
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

import akindb
from akindb import errors
from akindb.server import (
    cluster_routes,
    collection_routes,
    document_routes,
    maintenance_routes,
    page_routes,
    rag_routes,
    search_routes,
    update_routes,
    view_routes,
)
from akindb.server import schemas as s
from akindb.server.disconnect import add_disconnect_handling
from akindb.server.fast import FastPath
from akindb.server.handlers import install_error_handlers
from akindb.server.hardening import SecurityHeaders
from akindb.server.limits import BodyLimit
from akindb.server.respond import ApiError, error_response, hit_json, json_response
from akindb.server.routing import JSONRoute
from akindb.server.state import SETTINGS_ENV, ServerSettings, State

__all__ = [
    "ApiError", "ServerSettings", "app_from_env", "create_app", "error_response", "hit_json",
    "json_response",
]

log = logging.getLogger(__name__)
STATIC = page_routes.STATIC
API_VERSION = "1"


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
    app.router.route_class = JSONRoute
    app.state.akindb = state
    install_error_handlers(app)

    # in the order of the table above (the OpenAPI schema lists them so)
    app.include_router(page_routes.router(state))
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for routes in (collection_routes, document_routes, search_routes, rag_routes,
                   maintenance_routes, update_routes, view_routes, cluster_routes):
        app.include_router(routes.router(state))

    # ---- middleware (the last added runs first) ------------------------------------------------
    if settings.fast_path:
        app.add_middleware(FastPath, routes=search_routes.fast_answers(state))
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
