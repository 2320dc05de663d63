"""``Collection.update`` over HTTP: change stored documents by id (metadata merged without
re-embedding, texts re-embedded), so the HTTP client has every method of the collection
protocol (``akindb.protocol``)."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from akindb.server import schemas as s
from akindb.server.respond import json_response
from akindb.server.routing import NameAuth, new_router
from akindb.server.state import State


class UpdateRequest(BaseModel):
    """``ids`` with new ``texts`` and/or ``metadatas`` (merged; a ``null`` value removes a
    key)."""

    model_config = ConfigDict(extra="forbid")
    ids: list[str] = Field(max_length=s.MAX_ITEMS)
    texts: list[str] | None = Field(None, max_length=s.MAX_ITEMS)
    metadatas: list[dict[str, Any]] | None = Field(None, max_length=s.MAX_ITEMS)
    chunk: bool = True


def router(state: State) -> APIRouter:
    """``POST /v1/collections/{name}/update``."""
    api = new_router()
    WriteName = Annotated[str, Depends(NameAuth(state, "write"))]

    @api.post("/v1/collections/{name}/update", response_model=s.IdsResponse,
              tags=["collection"])
    def update(body: UpdateRequest, name: WriteName) -> Response:
        """Change stored documents by id; an unknown id is a 404 and nothing is written."""
        ids = state.collection(name).update(
            body.ids, texts=body.texts, metadatas=body.metadatas, chunk=body.chunk,
        )
        return json_response({"ids": ids})

    return api
