"""Search with query vectors: filter ids from SQLite, the live index, then hits or columns.

``Collection.search_vector(s)`` and ``more_like`` (``akindb.retrieval.context``) answer through
``search_vectors``; text search (``akindb.retrieval.search``) adds the model and BM25 around the
same index call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from akindb.collection.config import Where
from akindb.collection.parts import CollectionParts
from akindb.collection.results import (
    INCLUDE,
    Include,
    QueryResult,
    hits_from_rows,
    query_result,
)
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
    with parts.translated():
        # The database lock is held for the SQL parts only: the index search runs under
        # the index's shared lock, in parallel with other searches and with writes.
        with parts.lock:
            allowed = parts.store.filter_chunk_ids(w) if w is not None else None
        if allowed is not None and len(allowed) == 0:
            labels, scores = parts.live.empty_result(len(q), k)
            seq = -1  # nothing found: no rows to read
        else:
            labels, scores, seq = parts.live.search_at(q, k, allowed, exact=exact)
        with parts.lock:
            reader = parts.rows.reader(parts.store, seq)  # rows without a B-tree walk per hit
            if include is not None:
                return query_result(
                    reader, parts.metric, labels, scores, include, min_score, max_distance,
                )
            rows = reader.rows(labels[labels >= 0].tolist())
    return hits_from_rows(labels, scores, rows, parts.metric, min_score, max_distance)
