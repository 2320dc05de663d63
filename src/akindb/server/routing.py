"""What every route module shares: the router class and the key checks.

Each ``*_routes`` module builds an ``APIRouter`` for one route group with ``new_router()`` and
guards each route with one of the two key checks below; ``app.create_app`` includes them.
The routers are built per app (``router(state)``), not at import, because the routes close
over one process's ``State`` (several apps live in one test process).

The key checks are classes rather than closures so a test can read each route's check and role
off its dependencies (``tests/server/test_routes.py``): a route cannot lose its key check
without a test saying so. (No ``from __future__ import annotations`` here: FastAPI reads the
checks' annotations at run time, and an instance has no ``__globals__`` to resolve them in.)
"""

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute

from akindb.collection.database import validate_name
from akindb.server.auth import ApiKey
from akindb.server.respond import JSONRequest
from akindb.server.state import State, authenticate, authorize, presented

ROLES = ("read", "write", "admin")


class JSONRoute(APIRoute):
    """Parses JSON bodies with ``respond.loads`` (orjson, ~10× the standard library)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            return await handler(JSONRequest(request.scope, request.receive))

        return route


def new_router() -> APIRouter:
    """An empty router whose routes parse JSON with orjson (``JSONRoute``)."""
    return APIRouter(route_class=JSONRoute)


class NameAuth:
    """The key check of a route on one collection (``{name}`` in its path): 401 without a
    valid key, 403 unless the key has ``role`` on that collection. The route receives the
    name.

    Async: the check runs on the event loop (a hash and a ``stat``, no thread hand-off); the
    collection is opened by the route, in the thread pool (it reads SQLite under the lock).
    """

    def __init__(self, state: State, role: str) -> None:
        if role not in ROLES:
            raise ValueError(f"role {role!r} is not one of {ROLES}")
        self.state, self.role = state, role

    async def __call__(self, name: str,
                       key_text: Annotated[str | None, Depends(presented)]) -> str:
        key = authenticate(self.state, key_text)
        authorize(key, self.role, validate_name(name))
        return name


class KeyAuth:
    """The key check of a route on the database (no ``{name}``): 401 without a valid key. The
    route receives the key (``None`` when auth is off) and checks its role itself."""

    def __init__(self, state: State) -> None:
        self.state = state

    async def __call__(self, key_text: Annotated[str | None, Depends(presented)]
                       ) -> ApiKey | None:
        return authenticate(self.state, key_text)
