"""Stop a long search when its client has gone (issue 13, defect 6).

A read key could send ``search_vectors`` with many queries and a large ``k``; the per-request
caps (``hardening.check_budget``) bound the work, but a client that gives up (a timeout, a
closed browser tab) still left the server computing every query and building a response nobody
reads. Here the work runs in chunks of queries, each in the offload thread, and between two
chunks the server asks the connection whether the client is still there; if not, the rest is
dropped (:class:`ClientGone`, answered 499 to nobody) and the thread is free for the next
request. At most one chunk's work is wasted.

How the question is asked: :class:`ClientWatch` (ASGI middleware) puts a checker for the
request's own ``receive`` in a context variable; :func:`client_gone` polls it without waiting,
the way Starlette's ``Request.is_disconnected`` does. The checker is asked only after the body
was read (a poll before that could swallow a body chunk). Both the FastAPI route and the fast
path (``fast.FastPath``) run in the request's task, so both see the same checker.

Each query of a chunked batch is answered from one consistent version of the collection
(``akindb.snapshot``); two chunks may see two versions, like two requests would.
"""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CHUNK_RESULTS = 10_000
"""Results (queries x k) computed between two looks at the connection."""

CHUNK_QUERIES = 64
"""At most this many queries per chunk (a small k would otherwise make one chunk of all)."""

Checker = Callable[[], Awaitable[bool]]
_checker: contextvars.ContextVar[Checker | None] = contextvars.ContextVar(
    "akindb_client_gone", default=None)


@dataclass
class WorkStats:
    """Per worker process: chunks computed and requests dropped because the client left (the
    reliability campaign and tests read them)."""

    chunks_run: int = 0
    abandoned: int = 0
    last_abandoned_at: tuple[int, int] = (0, 0)
    """(chunks done, chunks in the request) of the last dropped request."""


STATS = WorkStats()


class ClientGone(Exception):
    """The client closed its connection; the rest of its request's work was dropped."""


def _watch(receive: Receive) -> Checker:
    gone = False

    async def check() -> bool:
        nonlocal gone
        if not gone:
            msg: Message = {}
            with anyio.CancelScope() as scope:
                scope.cancel()  # poll: a message already there, or nothing
                msg = await receive()
            gone = msg.get("type") == "http.disconnect"
        return gone

    return check


class ClientWatch:
    """ASGI middleware: lets the request's handlers ask :func:`client_gone`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = _checker.set(_watch(receive))
        try:
            await self.app(scope, receive, send)
        except ClientGone:
            # from the fast path, which raises it before sending anything (a route's is
            # answered by the exception handler and never gets here)
            await Response(status_code=499)(scope, receive, send)
        finally:
            _checker.reset(token)


async def client_gone() -> bool:
    """Whether the current request's client has closed its connection (False outside one)."""
    check = _checker.get()
    return check is not None and await check()


def spans(n: int, k: int) -> list[tuple[int, int]]:
    """Chunks of ``n`` queries with at most ``CHUNK_RESULTS`` results each.

    >>> spans(5, 4000)
    [(0, 2), (2, 4), (4, 5)]
    """
    step = max(1, min(CHUNK_QUERIES, CHUNK_RESULTS // max(1, k)))
    return [(lo, min(n, lo + step)) for lo in range(0, n, step)]


async def in_chunks(
    n: int, k: int, work: Callable[[int, int], dict[str, Any]],
    offload: Callable[[Callable[[], dict[str, Any]]], Awaitable[dict[str, Any]]],
) -> dict[str, Any]:
    """``work(lo, hi)`` for each chunk of queries (``offload`` runs it in a thread), the
    per-query lists of each key concatenated in order; raises :class:`ClientGone` as soon as
    the client is seen gone between two chunks."""
    parts = spans(n, k)
    if not parts:
        return await offload(partial(work, 0, 0))
    out: dict[str, Any] = {}
    for done, (lo, hi) in enumerate(parts):
        if await client_gone():
            STATS.abandoned += 1
            STATS.last_abandoned_at = (done, len(parts))
            raise ClientGone(f"client left after {done} of {len(parts)} chunks")
        part = await offload(partial(work, lo, hi))
        STATS.chunks_run += 1
        for key, value in part.items():
            out.setdefault(key, []).extend(value)
    return out


async def _answer_gone(_: Request, exc: Exception) -> Response:
    # 499 (nginx's "client closed request"): nobody reads it; nothing is logged as an error
    return Response(status_code=499)


def add_disconnect_handling(app: Any) -> None:
    """Install the middleware and the :class:`ClientGone` answer on a FastAPI app (add it
    last, so it is the outermost layer and watches the connection's own ``receive``)."""
    app.add_exception_handler(ClientGone, _answer_gone)
    app.add_middleware(ClientWatch)
