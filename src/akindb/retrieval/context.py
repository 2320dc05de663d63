"""RAG context (``Collection.context``) and more-like-this (``Collection.more_like``).

``build_context`` turns a question into the passages an LLM should read:

1. search (default hybrid) for the top ``k`` chunks;
2. drop near-duplicates: a chunk whose stored vector has cosine > ``dedup_threshold`` with a
   better-ranked kept chunk (0.95 catches copies and boilerplate; lower it to diversify more);
3. merge adjacent chunks of the same document (consecutive chunk numbers) into one passage, the
   document's text between the first start and the last end offset, ranked as its best chunk;
4. fill the budget: passages in rank order, each rendered as ``[n] source (chars a-b)`` then its
   text, kept while the whole text stays within ``max_tokens`` of the given token counter (a
   passage that does not fit is skipped and smaller later ones may still fit). The top hit
   always goes in first: when its merged passage is too long, the longest run of adjacent
   chunks around the top chunk that fits is used instead (``note`` says so); when not even the
   top chunk alone fits, it is cut at a word boundary to fit, ``truncated`` is set and ``note``
   says so.

Every passage carries its citation: document id, source and character offsets into the stored
document, so ``record.text[start:end] == passage.text``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from akindb.collection.parts import CollectionParts
from akindb.collection.vector_search import search_vectors
from akindb.errors import DocumentNotFoundError, EmptyTextError, InvalidArgumentError
from akindb.retrieval.explain import Explanation
from akindb.retrieval.request import SearchRequest, check_k, check_mode
from akindb.retrieval.search import search
from akindb.types import Hit, Metric

TokenCounter = Callable[[str], int]


@dataclass(frozen=True, slots=True)
class Passage:
    """One piece of context with its citation."""

    n: int
    doc_id: str
    source: str | None
    start: int
    end: int
    chunks: list[int]
    score: float
    text: str
    tokens: int
    cut: bool = False

    @property
    def header(self) -> str:
        return f"[{self.n}] {self.source or self.doc_id} (chars {self.start}-{self.end})"

    def citation(self) -> dict[str, Any]:
        return {"n": self.n, "id": self.doc_id, "source": self.source, "start": self.start,
                "end": self.end}


@dataclass(frozen=True)
class RagContext:
    """What ``Collection.context`` returns: ``text`` to paste into a prompt, ``passages`` with
    their citations, the token count, and whether (and why) anything was cut."""

    query: str
    text: str
    passages: list[Passage]
    tokens: int
    max_tokens: int
    truncated: bool = False
    note: str | None = None
    stats: dict[str, int] = field(default_factory=dict)

    @property
    def citations(self) -> list[dict[str, Any]]:
        return [p.citation() for p in self.passages]

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "text": self.text,
            "tokens": self.tokens,
            "max_tokens": self.max_tokens,
            "truncated": self.truncated,
            "note": self.note,
            "passages": [asdict(p) for p in self.passages],
            "citations": self.citations,
            "stats": self.stats,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)


@dataclass
class _Group:
    doc_id: str
    source: str | None
    chunks: list[int]
    start: int
    end: int
    rank: int
    score: float


def _dedup(hits: Sequence[Hit], vecs: dict[int, Any], threshold: float) -> list[Hit]:
    kept: list[Hit] = []
    kept_v: list[Any] = []
    for h in hits:
        v = vecs.get(h.chunk_id if h.chunk_id is not None else -1)
        if v is not None and kept_v:
            vn = v / max(float(np.linalg.norm(v)), 1e-12)
            if float(np.max(np.array(kept_v) @ vn)) > threshold:
                continue
        if any(h.text.strip() == k.text.strip() for k in kept):
            continue
        kept.append(h)
        if v is not None:
            kept_v.append(v / max(float(np.linalg.norm(v)), 1e-12))
    return kept


def _groups(hits: Sequence[Hit], merge: bool) -> list[_Group]:
    groups: list[_Group] = []
    by_doc: dict[str, list[tuple[int, Hit]]] = {}
    for rank, h in enumerate(hits):
        by_doc.setdefault(h.id, []).append((rank, h))
    for items in by_doc.values():
        items.sort(key=lambda x: x[1].chunk)
        cur: _Group | None = None
        last = -10
        for rank, h in items:
            if merge and cur is not None and h.chunk == last + 1:
                cur.chunks.append(h.chunk)
                cur.start, cur.end = min(cur.start, h.start), max(cur.end, h.end)
                if rank < cur.rank:
                    cur.rank, cur.score = rank, h.score
            else:
                cur = _Group(h.id, h.source, [h.chunk], h.start, h.end, rank, h.score)
                groups.append(cur)
            last = h.chunk
    groups.sort(key=lambda g: g.rank)
    return groups


_WORDS = re.compile(r"\S+")


def _lead_groups(groups: Sequence[_Group], kept: Sequence[Hit]) -> list[_Group]:
    """Ways to give the top hit, largest first: its whole merged run, then every shorter run of
    adjacent chunks that still holds the top chunk, down to the top chunk alone.

    A merged run's prefix may not even contain the top chunk (it can sit last in the run), so
    when the run is too long a window around the top chunk is what gets placed (or trimmed).
    """
    if not groups:
        return []
    top, g0 = kept[0], groups[0]
    spans = {h.chunk: h for h in kept if h.id == top.id and h.chunk in g0.chunks}
    run = sorted(spans)
    at = run.index(top.chunk)
    out: list[_Group] = [g0]
    for size in range(len(run) - 1, 0, -1):
        for lo in range(max(0, at - size + 1), min(at, len(run) - size) + 1):
            win = run[lo : lo + size]
            out.append(_Group(top.id, top.source, win, min(spans[c].start for c in win),
                              max(spans[c].end for c in win), 0, top.score))
    return out


def _cost(g: _Group, texts: dict[str, str], count: TokenCounter) -> int:
    body = texts.get(g.doc_id, "")[g.start : g.end]
    return count(f"[1] {g.source or g.doc_id} (chars {g.start}-{g.end})\n{body}")


def cut_to_tokens(text: str, budget: int, count: TokenCounter) -> str:
    """The longest word-boundary prefix of ``text`` with at most ``budget`` tokens.

    >>> cut_to_tokens("one two three four", 2, lambda s: len(s.split()))
    'one two'
    """
    ends = [m.end() for m in _WORDS.finditer(text)]
    lo, hi = 0, len(ends)
    while lo < hi:  # largest i with count(text[:ends[i-1]]) <= budget
        mid = (lo + hi + 1) // 2
        if count(text[: ends[mid - 1]]) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return text[: ends[lo - 1]] if lo else ""


def build_context(
    col: CollectionParts,
    query: str,
    max_tokens: int = 1500,
    *,
    k: int = 20,
    mode: str = "hybrid",
    where: Any = None,
    dedup_threshold: float = 0.95,
    merge_adjacent: bool = True,
    count_tokens: TokenCounter | None = None,
) -> RagContext:
    """See the module doc and ``Collection.context``."""
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise InvalidArgumentError(f"max_tokens must be a positive integer, got {max_tokens!r}")
    if not -1.0 <= dedup_threshold <= 1.0:
        raise InvalidArgumentError(f"dedup_threshold is a cosine in [-1, 1], got {dedup_threshold}")
    if count_tokens is None:
        emb = col.embedder

        def count_tokens(s: str) -> int:
            return emb.count_tokens([s])[0] if s else 0

    hits = search(col, SearchRequest(query=query, k=k, mode=check_mode(mode), where=where))
    with col.lock, col.translated():
        vecs = col.store.vectors_by_chunk([h.chunk_id for h in hits if h.chunk_id is not None])
    kept = _dedup(hits, vecs, dedup_threshold)
    groups = _groups(kept, merge_adjacent)
    with col.lock, col.translated():
        records = col.store.records(sorted({g.doc_id for g in groups}), None, None, 0)
    texts = {r.id: r.text for r in records}
    stats = {"hits": len(hits), "duplicates_removed": len(hits) - len(kept),
             "merged_chunks": len(kept) - len(groups)}
    chosen: list[Passage] = []
    parts: list[str] = []
    used = 0
    note: str | None = None
    truncated = False
    lead = _lead_groups(groups, kept)
    for i, g in enumerate(groups):
        if i == 0:  # the top hit always goes in first: merged, alone, or (below) trimmed
            g = next((c for c in lead if _cost(c, texts, count_tokens) <= max_tokens), lead[-1])
            if g is not groups[0]:
                note = (f"the best passage with all its adjacent chunks ({len(groups[0].chunks)})"
                        f" did not fit; {len(g.chunks)} around the top hit were kept")
        body = texts.get(g.doc_id, "")[g.start : g.end]
        p = Passage(len(chosen) + 1, g.doc_id, g.source, g.start, g.end, g.chunks, g.score,
                    body, 0)
        block = f"{p.header}\n{body}"
        cost = count_tokens(block) + (count_tokens("\n\n") if parts else 0)
        if used + cost > max_tokens:
            if i == 0:
                break  # even the top hit alone is too long: cut it below
            continue
        chosen.append(Passage(p.n, g.doc_id, g.source, g.start, g.end, g.chunks, g.score, body,
                              count_tokens(body)))
        parts.append(block)
        used += cost
    text = "\n\n".join(parts)
    while len(chosen) > 1 and count_tokens(text) > max_tokens:  # counts need not add up
        chosen.pop()
        parts.pop()
        text = "\n\n".join(parts)
    if chosen and count_tokens(text) > max_tokens:
        chosen, parts = [], []
    if not chosen and groups:
        g = lead[-1]
        body = texts.get(g.doc_id, "")[g.start : g.end]
        header = f"[1] {g.source or g.doc_id} (chars {g.start}-"
        room = max_tokens - count_tokens(header + f"{g.end})\n")
        with_header = room >= 1
        cut = cut_to_tokens(body, room if with_header else max_tokens, count_tokens)
        if not cut:  # not one word fits: cut inside the first word
            cut = body[: max(1, max_tokens)]
        end = g.start + len(cut)
        p = Passage(1, g.doc_id, g.source, g.start, end, g.chunks, g.score, cut,
                    count_tokens(cut), cut=True)
        chosen = [p]
        text = f"{p.header}\n{cut}" if with_header else cut
        truncated = True
        full = count_tokens(body)
        note = (
            f"the budget of {max_tokens} tokens is smaller than the best passage ({full} tokens);"
            f" it was cut to its first {p.tokens} tokens"
            + ("" if with_header else " and its citation header left out of the text")
        )
    elif not groups:
        note = "no passages matched the query"
    return RagContext(query, text, chosen, count_tokens(text), max_tokens, truncated, note,
                      stats)


class _PartsReads:
    """The public reads ``more_like`` needs (``vectors_of``, ``count_chunks``,
    ``search_vectors``, ``embedder``), over one collection's parts. A distributed collection
    has them already, so ``more_like`` serves both."""

    def __init__(self, parts: CollectionParts) -> None:
        self.parts, self.name, self.metric = parts, parts.name, parts.metric

    @property
    def embedder(self) -> Any:
        return self.parts.embedder

    def vectors_of(self, doc_id: str) -> Any:
        with self.parts.lock, self.parts.translated():
            return self.parts.store.chunk_vectors(doc_id)

    def count_chunks(self) -> int:
        with self.parts.lock, self.parts.translated():
            return self.parts.store.count_chunks()

    def search_vectors(self, vectors: Any, k: int, *, where: Any = None) -> Any:
        return search_vectors(self.parts, vectors, k, where=where)


def more_like(
    col: Any, id: str | None, k: int = 10, *, text: str | None = None, where: Any = None
) -> list[Hit]:
    """See ``Collection.more_like``: one hit per document, best first. ``col`` is a
    collection's ``CollectionParts`` or any collection with the public reads (the distributed
    one)."""
    if isinstance(col, CollectionParts):
        col = _PartsReads(col)
    if (id is None) == (text is None):
        raise InvalidArgumentError("give either a stored document id or text=..., not both")
    check_k(k)
    if id is not None:
        vecs = col.vectors_of(id)
        if len(vecs) == 0:
            raise DocumentNotFoundError(
                f"no document {id!r} in collection {col.name!r}; check the id (akindb get) "
                "or pass text=... to find documents like a piece of text"
            )
        q = vecs.mean(axis=0)
        if col.metric is Metric.COSINE:
            q = q / max(float(np.linalg.norm(q)), 1e-12)
        own = len(vecs)
    else:
        assert text is not None
        if not text.strip():
            raise EmptyTextError("the text is empty; give some words to find similar documents")
        q = col.embedder.embed([text], role="query")[0]
        own = 0
    total = col.count_chunks()
    want = min(total, (k + 1) * 4 + own)
    while True:
        found = col.search_vectors(q[None, :], max(want, 1), where=where)
        assert isinstance(found, list)
        rows = found[0]
        best: dict[str, Hit] = {}
        for h in rows:
            if h.id == id or h.id in best:
                continue
            best[h.id] = h
        if len(best) >= k or want >= total:
            break
        want = min(total, want * 4)
    out = list(best.values())[:k]
    return [
        Hit(id=h.id, score=h.score, distance=h.distance, text=h.text, source=h.source,
            start=h.start, end=h.end, chunk=h.chunk, metadata=h.metadata,
            explanation=Explanation("vector", h.score, dense_score=h.score, dense_rank=r))
        for r, h in enumerate(out, 1)
    ]
