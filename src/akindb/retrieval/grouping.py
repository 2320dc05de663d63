"""``group_by="document"``: hits are chunks, users often ask for documents.

A plain ``search(k=20)`` can answer with ten documents as overlapping chunks of the same file.
Grouped, each document appears once, as its best chunk, with its other matching chunks (best
first) on ``Hit.others``, and ``k`` counts documents. Chunk candidates are fetched in growing
rounds (``k`` x 4, then doubling) until ``k`` documents are found or the candidates run out
(fewer chunks came back than were asked for: every match, or every match above the threshold,
has been seen). Ranking, thresholds and re-ranking are those of the chunk search; grouping
only folds the ranked list, so the order of documents is the order of their best chunks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from akindb.collection.parts import CollectionParts
from akindb.retrieval.request import SearchRequest
from akindb.types import Hit

FIRST_ROUND = 4
"""Chunks fetched per wanted document in the first round (documents rarely match in more)."""
MAX_CHUNKS = 100_000
"""Upper bound on one round's chunk candidates (the collection's size caps it anyway)."""

ChunkSearch = Callable[[CollectionParts, SearchRequest], list[Hit]]


def group_hits(hits: list[Hit]) -> list[Hit]:
    """Fold ranked chunk hits into one hit per document: its best chunk, the rest on
    ``others``. Order is kept (by each document's best chunk).

    >>> hs = [Hit("a", 0.9, 0.1, "a1"), Hit("b", 0.8, 0.2, "b1"), Hit("a", 0.7, 0.3, "a2")]
    >>> [(h.id, [o.text for o in h.others]) for h in group_hits(hs)]
    [('a', ['a2']), ('b', [])]
    """
    order: dict[str, list[Hit]] = {}
    for h in hits:
        order.setdefault(h.id, []).append(h)
    return [dataclasses.replace(best, others=tuple(rest))
            for best, *rest in order.values()]


def search_grouped(parts: CollectionParts, req: SearchRequest, chunk_search: ChunkSearch
                   ) -> list[Hit]:
    """``req.k`` documents (see the module docstring); ``chunk_search`` is the plain search."""
    k = req.k
    with parts.lock, parts.translated():
        total = parts.store.count_chunks()
    n = min(k * FIRST_ROUND, MAX_CHUNKS)
    while True:
        hits = chunk_search(parts, dataclasses.replace(req, k=n, group_by=None))
        docs = group_hits(hits)
        if len(docs) >= k or len(hits) < n or n >= min(total, MAX_CHUNKS):  # enough, or all
            return docs[:k]
        n = min(n * 2, MAX_CHUNKS)
