"""Index maintenance over HTTP: ``tune``, ``index_stats``, ``compact`` and ``vectors_of``,
so the HTTP client has every method of the collection protocol (``akindb.protocol``)."""

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from akindb.server import schemas as s
from akindb.server.respond import f32_range, json_response
from akindb.server.routing import NameAuth, new_router
from akindb.server.state import State


def router(state: State) -> APIRouter:
    """``/v1/collections/{name}/{tune,index_stats,compact,vectors_of}``."""
    api = new_router()
    col = state.collection
    ReadName = Annotated[str, Depends(NameAuth(state, "read"))]
    WriteName = Annotated[str, Depends(NameAuth(state, "write"))]

    @api.post("/v1/collections/{name}/tune", tags=["index"])
    def tune(body: s.TuneRequest, name: WriteName) -> Response:
        """Pick the cheapest search setting that reaches ``target_recall`` (saved)."""
        queries = None if body.queries is None else f32_range(body.queries)
        return json_response(col(name).tune(
            body.target_recall, k=body.k, n_queries=body.n_queries, seed=body.seed,
            queries=queries,
        ).to_dict())

    @api.get("/v1/collections/{name}/index_stats", tags=["index"])
    def index_stats(name: ReadName) -> Response:
        """Index kind, parameters, size, built-through log seq, tombstones, last tuning."""
        return json_response(col(name).index_stats().to_dict())

    @api.post("/v1/collections/{name}/compact", tags=["index"])
    def compact(name: WriteName) -> Response:
        """Drop index tombstones and reclaim SQLite space."""
        return json_response(col(name).compact().to_dict())

    @api.post("/v1/collections/{name}/vectors_of", response_model=s.VectorsOfResponse,
              tags=["collection"])
    def vectors_of(body: s.VectorsOfRequest, name: ReadName) -> Response:
        """The stored vectors of one document's chunks (empty for an unknown id)."""
        return json_response({"vectors": col(name).vectors_of(body.id).tolist()})

    return api
