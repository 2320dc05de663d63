"""Request body limits as plain ASGI middleware: a size cap (checked on ``Content-Length`` and
again while the body streams in, for chunked uploads) and a per-read timeout so a client that
trickles its body cannot hold a worker thread forever."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(
            413,
            f"request body over the server's limit of {limit} bytes; send fewer items per "
            "call (split the batch) or start the server with a larger limit",
        )


class BodyTimeout(HTTPException):
    def __init__(self, timeout_s: float) -> None:
        super().__init__(
            408,
            f"the request body did not arrive within {timeout_s:g} s of the previous part; "
            "send it in one go",
        )


class BodyLimit:
    def __init__(self, app: ASGIApp, *, max_bytes: int, timeout_s: float) -> None:
        self.app, self.max_bytes, self.timeout_s = app, max_bytes, timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    too_big = int(value) > self.max_bytes
                except ValueError:
                    too_big = False
                if too_big:
                    await _reject(send, BodyTooLarge(self.max_bytes), "request_too_large")
                    return
        received = 0
        done = False

        async def limited() -> Message:
            nonlocal received, done
            if done:
                return await receive()
            try:
                msg = await asyncio.wait_for(receive(), self.timeout_s)
            except TimeoutError:
                raise BodyTimeout(self.timeout_s) from None
            if msg["type"] == "http.request":
                received += len(msg.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
                done = not msg.get("more_body", False)
            return msg

        await self.app(scope, limited, send)


async def _reject(send: Send, exc: HTTPException, code: str) -> None:
    body: dict[str, Any] = {
        "error": {"code": code, "message": exc.detail, "status": exc.status_code}
    }
    data = json.dumps(body).encode()
    await send({
        "type": "http.response.start",
        "status": exc.status_code,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(data)).encode()),
            (b"connection", b"close"),
        ],
    })
    await send({"type": "http.response.body", "body": data})
