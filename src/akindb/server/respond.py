"""JSON in and out of the server: parsing request bodies, encoding results and errors.

orjson (in the ``server`` extra) when it is installed, the standard library otherwise; both give
the same JSON. Measured on a 384-float ``search_vector`` body: ``json.loads`` 0.40 ms, orjson
0.035 ms (docs/benchmarks.md, HTTP server).
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
from fastapi import Request
from fastapi.responses import Response

from akindb import errors
from akindb.types import Hit

try:
    import orjson
except ImportError:  # pragma: no cover - orjson is in the server extra
    orjson = None  # type: ignore[assignment]


class ApiError(Exception):
    """An HTTP error the server raises itself (auth): status, stable code, message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def loads(body: bytes) -> Any:
    """Parse a request body. Bodies orjson refuses (``NaN``, ``Infinity``, integers beyond 64
    bits) are parsed by the standard library, which accepts them, so the core can say what is
    wrong with the value (e.g. ``InvalidVectorError`` for NaN) instead of a JSON error.

    >>> loads(b'{"v": [NaN, 1]}')["v"][1]
    1
    """
    if orjson is not None:
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass
    return json.loads(body)


class JSONRequest(Request):
    """A request whose ``json()`` uses ``loads`` (FastAPI parses bodies through it)."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = loads(await self.body())
        return self._json


def _finite(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


def dumps(obj: Any) -> bytes:
    """Strict JSON bytes: a non-finite number (NaN, ±inf) is written as null, never as a bare
    ``NaN`` that strict parsers refuse (orjson's rule; the fallback follows it).

    >>> dumps({"a": [1.5, float("nan"), float("inf")]})
    b'{"a":[1.5,null,null]}'
    """
    if orjson is not None:
        try:
            return orjson.dumps(obj)
        except TypeError:  # non-str keys, integers beyond 64 bits, other types
            pass
    try:
        text = json.dumps(obj, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except ValueError:
        text = json.dumps(_finite(obj), ensure_ascii=False, separators=(",", ":"))
    return text.encode("utf-8")


def json_response(obj: Any, status: int = 200) -> Response:
    """JSON without re-validation (results come from our own types); never emits NaN/inf."""
    return Response(dumps(obj), status_code=status, media_type="application/json")


def error_response(status: int, code: str, message: str) -> Response:
    return json_response({"error": {"code": code, "message": message, "status": status}}, status)


_F32_MAX = float(np.finfo(np.float32).max)


def f32_range(vectors: Any) -> Any:
    """Refuse numbers float32 cannot hold (the core would cast them to inf with a warning)."""
    if vectors is None:
        return None
    try:
        arr = np.asarray(vectors, dtype=np.float64)
    except (TypeError, ValueError):
        return vectors  # ragged or non-numeric: the core's validation explains it
    with np.errstate(invalid="ignore"):
        if arr.size and np.isfinite(arr).all() and np.abs(arr).max() > _F32_MAX:
            raise errors.InvalidVectorError(
                f"vectors contain values beyond float32's range (±{_F32_MAX:.3g}); scale them"
            )
    return vectors


def hit_json(h: Hit) -> dict[str, Any]:
    d = h.to_dict()
    d["chunk_id"] = h.chunk_id
    expl = h.explanation
    d["explanation"] = expl.to_dict() if expl is not None else None
    if h.others:
        d["others"] = [hit_json(o) for o in h.others]
    return d


def hits_json(hits: list[Hit]) -> dict[str, Any]:
    return {"hits": [hit_json(h) for h in hits]}
