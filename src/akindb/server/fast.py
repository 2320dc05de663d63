"""The hot path: vector searches answered without FastAPI's routing and dependency machinery.

On a loaded 2-core machine a ``search_vector`` request through FastAPI cost ≈0.65 ms of the
event loop's CPU around a ≈0.7 ms search: route matching over every route, four nested
dependency resolutions for the key, request objects, response classes
(docs/benchmarks.md, HTTP server). This ASGI middleware answers the successful case of
``POST /v1/collections/{name}/search_vector`` (and ``search_vectors``) directly: the same key
check, the same pydantic model, the same search call and the same JSON, in ≈0.15 ms.

It only ever answers 200. Anything else (no or a bad key, a body that does not validate, an
error from the search, a body over the size limit) is handed to the app with the body replayed,
and the FastAPI route answers it exactly as it always does: the error responses, their codes
and the OpenAPI schema do not depend on this path. Both routes are read-only, so running the
work again for an error changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from akindb.server.disconnect import ClientGone

Answer = Callable[[str, str | None, bytes], Awaitable[bytes | None]]
"""``(collection name, presented key, body) → JSON bytes of a 200``, or ``None`` (or an
exception) to let the app answer."""

_ROUTE = re.compile(r"^/v1/collections/([^/]+)/([a-z_]+)$")


def presented_key(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The key from ``Authorization: Bearer <key>`` or ``X-API-Key``, as the app reads it.

    >>> presented_key([(b"authorization", b"Bearer akdb_1"), (b"x-api-key", b"other")])
    'akdb_1'
    """
    bearer = xkey = None
    for k, v in headers:
        if k == b"authorization":
            scheme, _, cred = v.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and cred:
                bearer = cred
        elif k == b"x-api-key":
            xkey = v.decode("latin-1")
    return bearer if bearer is not None else xkey


def _is_json(headers: list[tuple[bytes, bytes]]) -> bool:
    for k, v in headers:
        if k == b"content-type":
            return v.split(b";", 1)[0].strip().lower() == b"application/json"
    return False


class FastPath:
    """ASGI middleware: ``routes`` maps a route's last segment (``search_vector``) to its
    answer; it sits inside the body limit, so the limit applies here too."""

    def __init__(self, app: ASGIApp, *, routes: dict[str, Answer]) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        m = _ROUTE.match(scope["path"])
        answer = self.routes.get(m.group(2)) if m else None
        headers = scope["headers"]
        if m is None or answer is None or not _is_json(headers):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        try:
            while True:
                msg = await receive()
                if msg["type"] != "http.request":  # the client left
                    await self.app(scope, _replay(b"".join(chunks), receive, msg), send)
                    return
                chunks.append(msg.get("body", b""))
                if not msg.get("more_body", False):
                    break
        except HTTPException as exc:  # over the size limit, or too slow: the app says so
            await self.app(scope, _raise(exc), send)
            return
        body = b"".join(chunks)
        try:
            out = await answer(m.group(1), presented_key(headers), body)
        except ClientGone:  # no one to answer: not worth running again (disconnect.py)
            raise
        except Exception:
            out = None
        if out is None:
            await self.app(scope, _replay(body, receive), send)
            return
        await send({
            "type": "http.response.start", "status": 200,
            "headers": [(b"content-type", b"application/json"),
                        (b"content-length", str(len(out)).encode())],
        })
        await send({"type": "http.response.body", "body": out})


def _replay(body: bytes, receive: Receive, first: Message | None = None) -> Receive:
    done = False

    async def replay() -> Message:
        nonlocal done
        if not done:
            done = True
            if first is not None:
                return first
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _raise(exc: HTTPException) -> Receive:
    async def receive() -> Message:
        raise exc

    return receive
