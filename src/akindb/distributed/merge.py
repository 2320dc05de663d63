"""Merging shard answers, and running one write per shard in parallel.

``merge_hits`` is the embedded engine's tie-stable top-k (``akindb.core.topk``) over the
shards' best-first lists; ``PartialResult`` is how a result says shards are missing (only when
the caller allowed it).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from akindb.core.topk import top_k
from akindb.index.base import F32
from akindb.types import Hit

if TYPE_CHECKING:
    from akindb.distributed.router import Router

_CHUNK_KEY = 1 << 40  # hits of different shards get distinct chunk ids: shard * _CHUNK_KEY + id


class PartialResult(list):  # type: ignore[type-arg]
    """A result list missing the shards in ``missing_shards`` (only with ``allow_partial``)."""

    def __init__(self, items: Sequence[Any] = (), missing: Sequence[int] = ()) -> None:
        super().__init__(items)
        self.missing_shards = list(missing)
        self.partial = bool(self.missing_shards)


def merge_hits(per_shard: Sequence[Sequence[Hit]], k: int) -> list[Hit]:
    """The best ``k`` of several shards' best-first lists, ties to the lower shard and rank,
    using the embedded engine's top-k. Each hit's ``chunk_id`` is made unique across shards.

    >>> a = Hit("a", 0.9, 0.1, "x"); b = Hit("b", 0.95, 0.05, "y"); c = Hit("c", 0.9, 0.1, "z")
    >>> [h.id for h in merge_hits([[a], [b, c]], 2)]
    ['b', 'a']
    """
    flat = [h for hits in per_shard for h in hits]
    if not flat:
        return []
    scores = np.array([[h.score for h in flat]], dtype=np.float64)
    idx, _ = top_k(cast(F32, scores), k)
    return [flat[int(i)] for i in idx[0]]


def _tag(hits: Sequence[Hit], shard: int) -> list[Hit]:
    return [h if h.chunk_id is None
            else dataclasses.replace(h, chunk_id=shard * _CHUNK_KEY + h.chunk_id)
            for h in hits]


def parallel_writes(router: Router, kind: str, parts: Mapping[int, dict[str, Any]]) -> list[Any]:
    """``router.write`` on several shards at once (one thread each, the calls wait on Ray);
    results in shard order. The first error is raised after every shard has answered."""
    from concurrent.futures import ThreadPoolExecutor

    if len(parts) == 1:
        ((s, p),) = parts.items()
        return [router.write(s, kind, p)]
    with ThreadPoolExecutor(max_workers=min(len(parts), 16)) as ex:
        futs = [ex.submit(router.write, s, kind, p) for s, p in sorted(parts.items())]
        return [f.result() for f in futs]
