"""A collection's documents by id: add, upsert, delete, get, count and flush."""

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from akindb.server import schemas as s
from akindb.server.respond import f32_range, json_response
from akindb.server.routing import NameAuth, new_router
from akindb.server.state import State


def router(state: State) -> APIRouter:
    """``/v1/collections/{name}/{add,upsert,delete,flush,get,count}``."""
    api = new_router()
    col = state.collection
    ReadName = Annotated[str, Depends(NameAuth(state, "read"))]
    WriteName = Annotated[str, Depends(NameAuth(state, "write"))]

    def _write(name: str, body: s.AddRequest, upsert: bool) -> Response:
        c = col(name)
        fn = c.upsert if upsert else c.add
        ids = fn(
            body.texts, ids=body.ids, metadatas=body.metadatas, vectors=f32_range(body.vectors),
            sources=body.sources, chunk=body.chunk,
        )
        return json_response({"ids": ids})

    @api.post("/v1/collections/{name}/add", response_model=s.IdsResponse, tags=["collection"])
    def add(body: s.AddRequest, name: WriteName) -> Response:
        return _write(name, body, upsert=False)

    @api.post("/v1/collections/{name}/upsert", response_model=s.IdsResponse, tags=["collection"])
    def upsert(body: s.AddRequest, name: WriteName) -> Response:
        return _write(name, body, upsert=True)

    @api.post("/v1/collections/{name}/delete", response_model=s.CountResponse,
              tags=["collection"])
    def delete(body: s.DeleteRequest, name: WriteName) -> Response:
        return json_response({"count": col(name).delete(body.ids, where=body.where)})

    @api.post("/v1/collections/{name}/flush", status_code=204, tags=["collection"])
    def flush(name: WriteName) -> Response:
        col(name).flush()
        return Response(status_code=204)

    @api.post("/v1/collections/{name}/get", response_model=s.RecordsResponse, tags=["collection"])
    def get(body: s.GetRequest, name: ReadName) -> Response:
        recs = col(name).get(body.ids, where=body.where, limit=body.limit, offset=body.offset)
        return json_response({"records": [r.to_dict() for r in recs]})

    @api.get("/v1/collections/{name}/count", response_model=s.CountResponse, tags=["collection"])
    def count(name: ReadName) -> Response:
        return json_response({"count": col(name).count()})

    return api
