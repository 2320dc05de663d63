"""``GET /v1/collections/{name}/shards``: a cluster collection's shards and replicas, with
health and lag, for the web page's Shards table (``serve --cluster``); ``null`` on a server of
an embedded database, so the page hides the section."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from akindb.server.cluster_state import ClusterCatalog
from akindb.server.respond import json_response
from akindb.server.routing import NameAuth, new_router
from akindb.server.state import State


def router(state: State) -> APIRouter:
    """``/v1/collections/{name}/shards`` (read role on the collection)."""
    api = new_router()
    ReadName = Annotated[str, Depends(NameAuth(state, "read"))]

    @api.get("/v1/collections/{name}/shards", response_model=dict[str, Any], tags=["cluster"])
    def shards(name: ReadName) -> Response:
        """Shards and replicas of a cluster collection, with health and lag; ``null`` on a
        server of an embedded database."""
        state.collection(name)  # 404 for an unknown name, as every route
        db = state.db
        if not isinstance(db, ClusterCatalog):
            return json_response({"shards": None})
        return json_response(db.shards(name))

    return api
