"""The web page's computed views over HTTP: a 2-D map of a collection and why a hit scored so
(the computation is ``views.py``)."""

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from akindb import errors
from akindb.server import schemas as s
from akindb.server.respond import json_response
from akindb.server.routing import NameAuth, new_router
from akindb.server.state import State
from akindb.server.views import build_map, explain, viewable


def router(state: State) -> APIRouter:
    """``/v1/collections/{name}/map`` and ``/v1/collections/{name}/explain``."""
    api = new_router()
    col = state.collection
    ReadName = Annotated[str, Depends(NameAuth(state, "read"))]

    @api.post("/v1/collections/{name}/map", response_model=s.MapResponse, tags=["page"])
    def map_(body: s.MapRequest, name: ReadName) -> Response:
        return json_response(build_map(viewable(col(name)), state.maps, body.query, body.k,
                                       body.max_points))

    @api.post("/v1/collections/{name}/explain", response_model=s.ExplainResponse, tags=["page"])
    def explain_(body: s.ExplainRequest, name: ReadName) -> Response:
        if not body.query.strip():
            raise errors.EmptyTextError("the query is empty; type some words to search for")
        return json_response(explain(viewable(col(name)), body.query, body.id, body.chunk))

    return api
