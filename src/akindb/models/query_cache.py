"""A bounded LRU of query vectors, keyed by the model's pin and the query text (issue 14).

The same question asked again (a UI re-running a search, a dashboard, several users) should not
run the model again: one MiniLM query costs milliseconds, a dictionary lookup microseconds.
The key is the model's whole ``ModelSpec`` (name, revision, weights hash, dimension, pooling,
normalisation, token limit) plus the exact text, so a vector made by one model is never served
for another, however similar their names. Cached vectors are read-only arrays.

Process-wide, shared by every collection and thread. Size: ``DEFAULT_SIZE`` entries (384-d
float32: 1.5 KB each, 1.5 MB for 1,024), or ``$AKINDB_QUERY_CACHE`` (read once, at import;
``0`` turns the cache off); ``set_size`` changes it at run time (``set_size(0)`` also empties
it). Only single-query text search goes through it; ingest never does.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict

import numpy as np

from akindb.models.base import Embedder, FloatMatrix, ModelSpec

DEFAULT_SIZE = 1024


def _env_size() -> int:
    raw = os.environ.get("AKINDB_QUERY_CACHE", "")
    try:
        return max(0, int(raw)) if raw.strip() else DEFAULT_SIZE
    except ValueError:
        return DEFAULT_SIZE


_lock = threading.Lock()
_cache: OrderedDict[tuple[ModelSpec, str], FloatMatrix] = OrderedDict()
_size = _env_size()
stats = {"hits": 0, "misses": 0}


def set_size(n: int) -> None:
    """Keep at most ``n`` vectors (0: off, and emptied)."""
    global _size
    with _lock:
        _size = max(0, int(n))
        while len(_cache) > _size:
            _cache.popitem(last=False)


def size() -> int:
    return _size


def count() -> int:
    """How many vectors are cached now."""
    return len(_cache)


def embed_query(embedder: Embedder, text: str) -> FloatMatrix:
    """``embedder.embed([text], role="query")`` (shape ``(1, dim)``: with the model's query
    prefix, if it declares one), from the cache when this model made this text's vector
    before. The returned array is read-only."""
    if _size == 0:
        return embedder.embed([text], role="query")
    key = (embedder.spec, text)
    with _lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            stats["hits"] += 1
            return hit
    vec = np.array(embedder.embed([text], role="query"), dtype=np.float32, copy=True)
    vec.flags.writeable = False
    with _lock:
        stats["misses"] += 1
        if _size > 0:
            _cache[key] = vec
            _cache.move_to_end(key)
            while len(_cache) > _size:
                _cache.popitem(last=False)
    return vec
