"""RAG context over a distributed collection: the embedded assembly, fed by merged hits.

Hits come from the scatter/merge search; the near-duplicate check needs the hits' stored
vectors, which each shard returns for its own hits (chunk ids are made unique per shard).
The passage assembly is ``akindb.retrieval.context``'s (its dedup, grouping and token cut).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from akindb.errors import InvalidArgumentError
from akindb.retrieval.context import Passage, RagContext, _dedup, _groups, cut_to_tokens

if TYPE_CHECKING:
    from collections.abc import Callable

    from akindb.distributed.handles import ShardedCollection


def build_context(col: ShardedCollection, query: str, max_tokens: int = 1500, *,
                  k: int = 20, mode: Any = "hybrid", where: Any = None,
                  dedup_threshold: float = 0.95, merge_adjacent: bool = True,
                  count_tokens: Callable[[str], int] | None = None) -> RagContext:
    """See ``Collection.context``; the assembly mirrors ``retrieval.context.build_context``."""
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise InvalidArgumentError(f"max_tokens must be a positive integer, got {max_tokens!r}")
    if not -1.0 <= dedup_threshold <= 1.0:
        raise InvalidArgumentError(f"dedup_threshold is a cosine in [-1, 1], got {dedup_threshold}")
    if count_tokens is None:
        emb = col.embedder

        def count_tokens(s: str) -> int:
            return emb.count_tokens([s])[0] if s else 0

    hits = col.search(query, k, mode=mode, where=where)
    vecs: dict[int, Any] = {}
    for doc_id in {h.id for h in hits}:  # one document's vectors per shard call
        stored = col.vectors_of(doc_id)
        for h in hits:
            if h.id == doc_id and h.chunk_id is not None and h.chunk < len(stored):
                vecs[h.chunk_id] = stored[h.chunk]
    kept = _dedup(hits, vecs, dedup_threshold)
    groups = _groups(kept, merge_adjacent)
    texts = {r.id: r.text for r in col.get(sorted({g.doc_id for g in groups}))}
    stats = {"hits": len(hits), "duplicates_removed": len(hits) - len(kept),
             "merged_chunks": len(kept) - len(groups)}
    chosen: list[Passage] = []
    parts: list[str] = []
    used = 0
    for g in groups:
        body = texts.get(g.doc_id, "")[g.start : g.end]
        p = Passage(len(chosen) + 1, g.doc_id, g.source, g.start, g.end, g.chunks, g.score,
                    body, 0)
        block = f"{p.header}\n{body}"
        cost = count_tokens(block) + (count_tokens("\n\n") if parts else 0)
        if used + cost > max_tokens:
            continue
        chosen.append(Passage(p.n, g.doc_id, g.source, g.start, g.end, g.chunks, g.score, body,
                              count_tokens(body)))
        parts.append(block)
        used += cost
    text = "\n\n".join(parts)
    while chosen and count_tokens(text) > max_tokens:
        chosen.pop()
        parts.pop()
        text = "\n\n".join(parts)
    note: str | None = None
    truncated = False
    if not chosen and groups:
        g = groups[0]
        body = texts.get(g.doc_id, "")[g.start : g.end]
        header = f"[1] {g.source or g.doc_id} (chars {g.start}-"
        room = max_tokens - count_tokens(header + f"{g.end})\n")
        cut = cut_to_tokens(body, room if room >= 1 else max_tokens, count_tokens)
        cut = cut or body[: max(1, max_tokens)]
        p = Passage(1, g.doc_id, g.source, g.start, g.start + len(cut), g.chunks, g.score, cut,
                    count_tokens(cut), cut=True)
        chosen = [p]
        text = f"{p.header}\n{cut}" if room >= 1 else cut
        truncated = True
        note = (f"the budget of {max_tokens} tokens is smaller than the best passage "
                f"({count_tokens(body)} tokens); it was cut to its first {p.tokens} tokens")
    elif not groups:
        note = "no passages matched the query"
    return RagContext(query, text, chosen, count_tokens(text), max_tokens, truncated, note,
                      stats)
