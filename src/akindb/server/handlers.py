"""Exceptions → JSON error responses with a stable ``code`` (see ``akindb.wire.codes``)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from akindb import errors
from akindb.server.respond import ApiError, error_response
from akindb.wire import codes

log = logging.getLogger("akindb.server.app")


def install_error_handlers(app: FastAPI) -> None:
    Handler = Callable[[Request, Any], Awaitable[Response]]

    async def api_error(_: Request, exc: ApiError) -> Response:
        return error_response(exc.status, exc.code, exc.message)

    async def akin_error(_: Request, exc: errors.AkinError) -> Response:
        code, status = codes.code_for(exc)
        return error_response(status, code, str(exc))

    async def validation(_: Request, exc: RequestValidationError) -> Response:
        errs: Sequence[Any] = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errs):
            return error_response(
                400, codes.MALFORMED_JSON,
                "the request body is not valid JSON; send a JSON object with "
                "Content-Type: application/json",
            )
        parts = []
        for e in list(errs)[:5]:
            loc = ".".join(str(x) for x in e.get("loc", ()) if x != "body") or "body"
            parts.append(f"{loc}: {e.get('msg', 'invalid')}")
        return error_response(
            422, codes.INVALID_REQUEST,
            "the request does not match the API schema (see /openapi.json): " + "; ".join(parts),
        )

    async def http_error(_: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return error_response(
                404, codes.ROUTE_NOT_FOUND,
                "no such route; the API lives under /v1 (see /openapi.json)",
            )
        if exc.status_code == 405:
            return error_response(
                405, codes.METHOD_NOT_ALLOWED,
                "this route exists but not with this HTTP method; see /openapi.json",
            )
        if exc.status_code == 413:
            return error_response(413, codes.REQUEST_TOO_LARGE, str(exc.detail))
        if exc.status_code == 408:
            return error_response(408, codes.REQUEST_TIMEOUT, str(exc.detail))
        if exc.status_code == 400:
            return error_response(
                400, codes.MALFORMED_JSON,
                "the request body could not be read; send a JSON object with "
                "Content-Type: application/json",
            )
        return error_response(exc.status_code, "http_error", str(exc.detail))

    async def internal(_: Request, exc: Exception) -> Response:
        log.exception("unexpected error in a request", exc_info=exc)
        return error_response(
            500, codes.INTERNAL_ERROR,
            f"unexpected server error ({type(exc).__name__}); nothing was changed unless the "
            "response said so. Please report it with the server log",
        )

    handlers: list[tuple[type[Exception], Handler]] = [
        (ApiError, api_error),
        (errors.AkinError, akin_error),
        (RequestValidationError, validation),
        (StarletteHTTPException, http_error),
        (Exception, internal),
    ]
    for cls, fn in handlers:
        app.add_exception_handler(cls, fn)
