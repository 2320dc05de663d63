"""Limits and headers that keep one request from hurting the server or the page's users
(issue 13, items 6, 9 and 13).

* ``check_budget``: a read key could ask ``search_vectors`` for 1,000 queries x k=10,000 (> 280 s
  and 6.8 GB in the probe). The library caps ``k`` at the collection size; the server also caps
  queries x k and the characters embedded per request, so every request's work is bounded.
* ``SecurityHeaders``: the web page renders stored documents, so the browser is told to run
  only the page's own script (CSP), never to frame it, and never to sniff a JSON body as HTML.
* ``not_found``: a 404 names only what was asked for: never other collections (the key may not
  see them) nor the database path.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from akindb import errors

MAX_RESULTS = 100_000
"""Queries x k one search request may ask for (e.g. 1,000 queries x k=100)."""

MAX_QUERY_CHARS = 1_000_000
"""Characters of query text one request may have embedded (a batch of text searches)."""

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
"""The page loads one script and one stylesheet from /static and talks to its own origin."""

_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]
_DOCS_PATHS = ("/docs", "/redoc")  # FastAPI's API explorer pages load their own CDN scripts


def check_budget(n_queries: int, k: int, chars: int = 0) -> None:
    """Refuse a search request whose work is beyond the per-request bounds.

    >>> check_budget(1000, 100)
    >>> check_budget(1000, 10_000)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    akindb.errors.InvalidArgumentError: this request asks for 1000 queries x k=10000 = ...
    """
    if n_queries * k > MAX_RESULTS:
        raise errors.InvalidArgumentError(
            f"this request asks for {n_queries} queries x k={k} = {n_queries * k} results, over "
            f"the server's limit of {MAX_RESULTS}; lower k or split the queries into batches"
        )
    if chars > MAX_QUERY_CHARS:
        raise errors.InvalidArgumentError(
            f"this request has {chars} characters of query text to embed, over the server's "
            f"limit of {MAX_QUERY_CHARS}; split the queries into batches"
        )


def not_found(name: str) -> errors.CollectionNotFoundError:
    """The 404 for a collection: the name asked for, what to do, nothing else."""
    return errors.CollectionNotFoundError(
        f"no collection {name!r} on this server that your key may read; list the ones you "
        "can see with GET /v1/collections, or create it with POST /v1/collections"
    )


class SecurityHeaders:
    """ASGI middleware adding the headers above to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = list(_HEADERS)
        if not str(scope.get("path", "")).startswith(_DOCS_PATHS):
            extra.append((b"content-security-policy", CSP.encode()))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                have = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = [
                    *message.get("headers", []), *(h for h in extra if h[0] not in have)
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)
