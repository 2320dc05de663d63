"""The database's routes: list, create, describe and drop collections."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from akindb import errors
from akindb.collection.database import validate_name
from akindb.server import schemas as s
from akindb.server.auth import ApiKey
from akindb.server.respond import json_response
from akindb.server.routing import KeyAuth, NameAuth, new_router
from akindb.server.state import State, authorize


def router(state: State) -> APIRouter:
    """``/v1/collections`` and ``/v1/collections/{name}`` (GET, DELETE)."""
    api = new_router()
    col = state.collection
    Key = Annotated[ApiKey | None, Depends(KeyAuth(state))]
    ReadName = Annotated[str, Depends(NameAuth(state, "read"))]
    AdminName = Annotated[str, Depends(NameAuth(state, "admin"))]

    @api.get("/v1/collections", response_model=s.CollectionList, tags=["database"])
    def list_collections(key: Key) -> Response:
        names = state.db.list_collections()
        if key is not None:
            names = [n for n in names if key.can_see(n)]
        return json_response({"collections": names})

    @api.post("/v1/collections", response_model=dict[str, Any], tags=["database"])
    def create_collection(key: Key, body: s.CreateCollection) -> Response:
        authorize(key, "admin", validate_name(body.name))
        kwargs: dict[str, Any] = {
            "model": state.resolve_model(body.model), "metric": body.metric, "dim": body.dim,
            "index": body.index, "index_params": body.index_params,
        }
        if body.get_or_create:
            try:
                return json_response(col(body.name).info().to_dict())
            except errors.CollectionNotFoundError:
                pass
        created = state.db.create_collection(body.name, **kwargs)
        return json_response(created.info().to_dict(), 201)

    @api.get("/v1/collections/{name}", response_model=dict[str, Any], tags=["collection"])
    def info(name: ReadName) -> Response:
        return json_response(col(name).info().to_dict())

    @api.delete("/v1/collections/{name}", status_code=204, tags=["database"])
    def drop_collection(name: AdminName) -> Response:
        state.db.drop_collection(col(name).name)
        return Response(status_code=204)

    return api
