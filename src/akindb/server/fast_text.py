"""The hot path for text search: ``POST /v1/collections/{name}/search`` without FastAPI.

A text search costs the model (≈3-6 ms of CPU for one short query) plus everything around it.
Through the server it cost ≈2.7 ms more CPU per request than the same ``Collection.search``
in-process (7.8 against 5.1 ms, the shared 2-core machine under load; issue 14,
docs/benchmarks.md), part of it FastAPI's machinery: route matching, the key dependencies, a
second body parse, response classes. This answer, plugged into
``fast.FastPath`` beside the vector routes, does what the route does and nothing else: the
same key check, the same pydantic model, the same option checks, the same ``Collection.search``
and the same JSON bytes (``tests/server/test_fast_text.py`` compares them byte for byte).

Where the search runs: in the route's pool threads, ``search_threads`` at once
(``State.searching``), as the route runs it. Not on the event loop: run there (through
``lane.FastLane``) a worker answered one text search at a time while its other connections
waited, and 2 workers x 8 clients served 89-194 req/s with a p99 up to 325 ms, against
138-201 req/s for the threaded route, though with 21-35 % less CPU per request
(docs/benchmarks.md, issue 14).

Like the vector fast path it only ever answers 200: anything else (no or a bad key, a body that
does not validate, an option the route refuses, an error from the search) returns None and the
FastAPI route answers, with its codes and messages. A search is read-only, so running it again
for an error changes nothing.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from akindb import errors
from akindb.collection.database import validate_name
from akindb.retrieval.request import OPTION_NAMES, SearchOptions
from akindb.server import schemas as s
from akindb.server.fast import Answer
from akindb.server.respond import dumps, hits_json, loads
from akindb.server.state import State, authenticate, authorize


def text_options(body: Any) -> dict[str, Any]:
    """The body's search options, checked once (``SearchOptions.checked``), as the keyword
    arguments of ``Collection.search``: what the ``/search`` route passes. Raises what it
    raises (the route then answers the error)."""
    if body.rerank is not None and not str(body.rerank).strip().lower().startswith("mmr"):
        raise errors.InvalidArgumentError(
            f"rerank {body.rerank!r} is not available over HTTP: use 'mmr' (a cross-encoder "
            "runs in the process that has its weights)"
        )
    opts = SearchOptions(**{n: getattr(body, n) for n in OPTION_NAMES}).checked()
    return {f.name: getattr(opts, f.name) for f in fields(opts) if f.name != "k"}


class TextAnswer:
    """The ``search`` answer for ``fast.FastPath`` (an ``Answer``): JSON bytes of the 200, or
    an exception (then the route answers). ``answered`` counts the 200s it gave."""

    def __init__(self, state: State) -> None:
        self.state = state
        self.answered = 0

    async def __call__(self, name: str, key_text: str | None, raw: bytes) -> bytes | None:
        state = self.state
        authorize(authenticate(state, key_text), "read", validate_name(name))
        body = s.SearchRequest.model_validate(loads(raw))
        opts = text_options(body)

        def run() -> bytes:
            col = state.collection(name)
            return dumps(hits_json(col.search(body.query, body.k, **opts)))

        out = await state.searching(run)
        self.answered += 1
        return out


def text_answer(state: State) -> Answer:
    return TextAnswer(state)
