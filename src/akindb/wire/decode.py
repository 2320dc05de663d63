"""JSON bodies of the HTTP API back into akindb's result types, and error bodies back into
akindb's errors. Used by the sync client (``akindb.client``) and the async one (``akindb.aio``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from akindb import errors
from akindb.models.base import TokenView
from akindb.types import Chunk, Explanation, FusionExplanation, Hit, Record
from akindb.wire.codes import error_class


class AuthError(errors.AkinError):
    """401: no key, or an unknown, revoked or expired one."""


class PermissionDeniedError(errors.AkinError):
    """403: the key's role or collections do not cover the request."""


class ServerError(errors.AkinError):
    """The server answered with an error that has no embedded counterpart (5xx, 413, ...)."""

    def __init__(self, message: str, status: int = 0, code: str = "") -> None:
        super().__init__(message)
        self.status, self.code = status, code


def error_from(status: int, body: Any, url: str, text: str) -> errors.AkinError:
    """The exception for an error response (``body``: its parsed JSON, or ``None``).

    >>> type(error_from(404, {"error": {"code": "collection_not_found", "message": "x"}},
    ...                 "u", "")).__name__
    'CollectionNotFoundError'
    """
    try:
        err = body["error"]
        code, message = str(err["code"]), str(err["message"])
    except (KeyError, TypeError):
        return ServerError(f"HTTP {status} from {url}: {text[:200]}", status)
    if status == 401:
        return AuthError(message)
    if status == 403:
        return PermissionDeniedError(message)
    if code in ("invalid_request", "malformed_json"):
        return errors.InvalidArgumentError(message)
    cls = error_class(code)
    if cls is None or cls is errors.MissingExtraError:
        return ServerError(message, status, code)
    return cls(message)


def explanation(d: Mapping[str, Any] | None) -> Explanation | None:
    if not d:
        return None
    names = {f.name for f in dataclasses.fields(Explanation)}
    kw = {k: v for k, v in d.items() if k in names}
    kw["fusion"] = FusionExplanation.from_dict(kw["fusion"]) if kw.get("fusion") else None
    if kw.get("token_importance") is not None:
        kw["token_importance"] = [(t["token"], t["importance"]) for t in kw["token_importance"]]
    return Explanation(**kw)


def hit(d: Mapping[str, Any]) -> Hit:
    return Hit(
        id=d["id"], score=d["score"], distance=d["distance"], text=d["text"],
        source=d.get("source"), start=d.get("start", 0), end=d.get("end", 0),
        chunk=d.get("chunk", 0), metadata=d.get("metadata") or {},
        explanation=explanation(d.get("explanation")), chunk_id=d.get("chunk_id"),
        others=tuple(hit(o) for o in d.get("others") or ()),
    )


def record(d: Mapping[str, Any]) -> Record:
    return Record(
        id=d["id"], text=d["text"], source=d.get("source"), metadata=d.get("metadata") or {},
        content_hash=d["content_hash"],
        chunks=tuple(Chunk(c["text"], c["start"], c["end"], c["index"]) for c in d["chunks"]),
    )


def token_view(d: Mapping[str, Any]) -> TokenView:
    return TokenView(d["tokens"], d["ids"], [(a, b) for a, b in d["offsets"]],
                     d["truncated"], d["max_tokens"])


def plain(v: Any) -> Any:
    """A numpy array (or anything with ``tolist``) as nested lists, for a JSON body."""
    tolist = getattr(v, "tolist", None)
    return tolist() if callable(tolist) else v
