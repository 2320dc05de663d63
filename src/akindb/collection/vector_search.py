"""Search with query vectors: filter ids from SQLite, the live index, then hits or columns.

``Collection.search_vector(s)`` and ``more_like`` (``akindb.retrieval.context``) answer through
``search_vectors``; text search (``akindb.retrieval.search``) adds the model and BM25 around the
same index call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from akindb.collection import snapshot
from akindb.collection.config import Where
from akindb.collection.parts import CollectionParts
from akindb.collection.results import INCLUDE, Include, QueryResult
from akindb.core.vectors import as_matrix
from akindb.errors import InvalidArgumentError
from akindb.retrieval.request import check_k, check_threshold
from akindb.storage.filters import parse_where
from akindb.types import Hit


def search_vectors(
    parts: CollectionParts,
    vectors: Any,
    k: int,
    *,
    min_score: float | None = None,
    max_distance: float | None = None,
    where: Where = None,
    exact: bool = False,
    include: Sequence[Include] | None = None,
) -> list[list[Hit]] | QueryResult:
    """See ``Collection.search_vectors``."""
    check_k(k)
    min_score = check_threshold("min_score", min_score)
    max_distance = check_threshold("max_distance", max_distance)
    if include is not None and (
        isinstance(include, str) or any(x not in INCLUDE for x in include)
    ):
        raise InvalidArgumentError(
            f"include must be a list drawn from {list(INCLUDE)}, got {include!r}"
        )
    q = as_matrix(vectors, parts.dim, parts.metric, what="query vectors")
    w = parse_where(where)
    # Filter ids, index and rows from one version of the collection (collection.snapshot);
    # the index search itself runs under the index's shared lock, in parallel.
    fetch = (
        snapshot.fetch_hits(parts.rows, parts.store, parts.metric, min_score, max_distance)
        if include is None else snapshot.fetch_columns(
            parts.rows, parts.store, parts.metric, include, min_score, max_distance)
    )
    with parts.translated():
        return snapshot.consistent_search(  # type: ignore[return-value]
            parts.store, parts.live, parts.lock, q, k, w, exact, fetch
        )
