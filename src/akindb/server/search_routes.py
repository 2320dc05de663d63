"""Search routes: text (``search``, ``search_batch``), vectors (``search_vector``,
``search_vectors``) and ``tokenize``; and the fast path's answers for the vector ones
(``fast.FastPath``), which make the same key check, model and call as their routes."""

from collections.abc import Callable
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from akindb.collection.database import validate_name
from akindb.server import schemas as s
from akindb.server.disconnect import in_chunks
from akindb.server.fast import Answer
from akindb.server.fast_text import text_answer, text_options
from akindb.server.hardening import check_budget
from akindb.server.respond import dumps, f32_range, hit_json, hits_json, json_response, loads
from akindb.server.routing import NameAuth, new_router
from akindb.server.state import State, authenticate, authorize

LANE_MAX_QUERIES = 8
"""Batch searches up to this many vectors may take the fast lane."""

VectorBody = s.SearchVectorRequest | s.SearchVectorsRequest


def _opts(body: s._SearchOpts) -> dict[str, Any]:
    return {
        "min_score": body.min_score, "max_distance": body.max_distance,
        "where": body.where, "exact": body.exact,
    }


def _vector_call(state: State, name: str,
                 body: VectorBody) -> tuple[int, Callable[..., dict[str, Any]]]:
    col = state.collection
    if isinstance(body, s.SearchVectorRequest):
        one = body

        def single() -> dict[str, Any]:
            return hits_json(col(name).search_vector(f32_range(one.vector), one.k, **_opts(one)))

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


async def vector_search(state: State, name: str, body: VectorBody) -> dict[str, Any]:
    """A vector search on the event loop's fast lane when cheap, else in a pool thread."""
    n, call = _vector_call(state, name, body)
    if n <= LANE_MAX_QUERIES and body.where is None and not body.exact:
        return await state.lane.run(name, call)
    if isinstance(body, s.SearchVectorsRequest):  # in chunks, dropped if the client leaves
        return await in_chunks(n, body.k, call, state.lane.offload)
    return await state.lane.offload(call)


def fast_answers(state: State) -> dict[str, Answer]:
    """``fast.FastPath``'s answers: the same key check, model and call as the routes below
    (success only; anything else falls through to the route)."""

    def fast(model: type[VectorBody]) -> Answer:
        async def answer(name: str, key_text: str | None, raw: bytes) -> bytes | None:
            authorize(authenticate(state, key_text), "read", validate_name(name))
            return dumps(await vector_search(state, name, model.model_validate(loads(raw))))

        return answer

    return {
        "search_vector": fast(s.SearchVectorRequest),
        "search_vectors": fast(s.SearchVectorsRequest),
        "search": text_answer(state),
    }


def router(state: State) -> APIRouter:
    """``/v1/collections/{name}/{search,search_batch,search_vector,search_vectors,tokenize}``."""
    api = new_router()
    col = state.collection
    ReadName = Annotated[str, Depends(NameAuth(state, "read"))]

    @api.post("/v1/collections/{name}/search", response_model=s.HitsResponse, tags=["search"])
    async def search(body: s.SearchRequest, name: ReadName) -> Response:
        opts = text_options(body)
        return json_response(await state.searching(
            lambda: hits_json(col(name).search(body.query, body.k, **opts))))

    @api.post("/v1/collections/{name}/search_batch", response_model=s.HitsBatchResponse,
              tags=["search"])
    async def search_batch(body: s.SearchBatchRequest, name: ReadName) -> Response:
        opts = text_options(body)

        check_budget(len(body.queries), body.k, sum(map(len, body.queries)))

        def run(lo: int, hi: int) -> dict[str, Any]:
            c = col(name)
            res = [c.search(q, body.k, **opts) for q in body.queries[lo:hi]]
            return {"results": [[hit_json(h) for h in hs] for hs in res]}

        # in chunks, dropped if the client leaves (disconnect.py)
        return json_response(await in_chunks(len(body.queries), body.k, run, state.searching))

    @api.post("/v1/collections/{name}/search_vector", response_model=s.HitsResponse,
              tags=["search"])
    async def search_vector(body: s.SearchVectorRequest, name: ReadName) -> Response:
        return json_response(await vector_search(state, name, body))

    @api.post("/v1/collections/{name}/search_vectors",
              response_model=s.HitsBatchResponse | s.QueryResultOut, tags=["search"])
    async def search_vectors(body: s.SearchVectorsRequest, name: ReadName) -> Response:
        return json_response(await vector_search(state, name, body))

    @api.post("/v1/collections/{name}/tokenize", response_model=s.TokenViewOut, tags=["search"])
    def tokenize(body: s.TokenizeRequest, name: ReadName) -> Response:
        return json_response(col(name).tokenize(body.text).to_dict())

    return api
