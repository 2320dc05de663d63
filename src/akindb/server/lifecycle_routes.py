"""The stats route: the index's state and the recall monitor's live estimate over HTTP (what
``Collection.index_stats()`` returns embedded)."""

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI
from fastapi.responses import Response

from akindb.server.respond import json_response
from akindb.server.state import State


def add_lifecycle_routes(app: FastAPI, state: State, name_auth: Callable[[str], Any]) -> None:
    ReadName = Annotated[str, Depends(name_auth("read"))]

    @app.get("/v1/collections/{name}/index_stats", response_model=dict[str, Any],
             tags=["collection"])
    def index_stats(name: ReadName) -> Response:
        """Index kind, parameters, size, log position, tombstones, the last tuning and
        ``recall_monitor``: the live recall@k estimate on sampled real queries, its sample
        count, target and whether it is below target (null for an exact flat index)."""
        return json_response(state.collection(name).index_stats())
