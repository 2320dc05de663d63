"""The routes without a key and without data: the web page's shell (``/``; its script and
styles are ``/static/*``, mounted by ``app.create_app``) and ``/healthz``."""

import os
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import FileResponse

import akindb
from akindb.server.routing import new_router
from akindb.server.state import State

STATIC = Path(__file__).parent / "static"


def router(state: State) -> APIRouter:
    """``/`` (not in the schema) and ``/healthz``."""
    api = new_router()
    settings = state.settings

    @api.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @api.get("/healthz", tags=["server"])
    async def health() -> dict[str, Any]:
        return {"status": "ok", "version": akindb.__version__, "auth": settings.auth,
                "pid": os.getpid()}

    return api
