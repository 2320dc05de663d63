"""RM3 pseudo-relevance feedback for keyword (BM25) search: the query grows by the words of its
own top passages.

BM25 finds only passages that share the query's words. RM3 (Lavrenko & Croft's relevance
model, "RM3" as in Abdul-Jaleel et al., 2004, and Anserini's default) runs the query once, takes
the ``docs`` best passages as if they were relevant, and adds the ``terms`` words that are most
probable in them::

    P(w | R) = Σ_d  s_d / Σ s  ·  tf(w, d) / |d|          (d: a feedback passage, s_d its BM25)
    weight(w) = λ · qtf(w) + (1 - λ) · |q| · P'(w | R)     (P': P(w|R) over the chosen words)

``λ`` is ``original_weight``; the scale makes ``λ = 1`` plain BM25 and keeps the original terms
near weight 1 (so keyword-mode scores stay on BM25's scale). Words are counted by their Porter
stem, the same stem FTS5's ``porter unicode61`` tokenizer indexes (a private in-memory FTS5 table
stems them, so no second stemmer can disagree with the index); stop words, one-letter words and
numbers are not candidates.

FTS5 cannot weight query terms, so the second pass is computed here, a term at a time: FTS5
returns each weighted term's own best chunks (``k``, at least ``TERM_DEPTH``) with that term's
BM25 (BM25 is a sum over terms and a one-term query scores with the same idf, length and
averages), and a chunk's score is ``Σ_t weight(t) · bm25_t(chunk)`` over the lists it is in.
Exact for a term found in at most that many chunks; for a commoner term a chunk outside its
list misses a share smaller than the list's last one (the classic truncated term-at-a-time
approximation). Scoring exactly the candidates instead (FTS5 ``rowid IN (...)`` per term)
measured 7x slower. The terms are quoted FTS5 strings bound as parameters
(``keyword.fts_query``): no operator, no SQL.

Costs: the passages' text (one read), stemming (cached), one FTS5 query per weighted term
(about ``terms`` + the query's own), each scoring every chunk that has the term: on NFCorpus
with 2 busy cores, hybrid + RM3 (5 passages, 20 words) took 5.2x vector search's p50, against
1.34x without it; hybrid search skips it when the keyword gate is shut. Off by default: it did
not win on both dev tasks (docs/benchmarks.md, "Feedback and fusion, measured again").
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from akindb.errors import InvalidArgumentError, refuse_unknown
from akindb.retrieval import keyword as kw
from akindb.retrieval.analyzer import words
from akindb.retrieval.fusion import FusionParams, effective_weights
from akindb.storage.porter_stems import PorterStems
from akindb.storage.scans import chunk_texts

TERM_DEPTH = 100
"""Each weighted term's list is at least this deep, also when fewer hits are asked for: a
keyword search for 10 hits sums the terms' 100 best, as hybrid search with its 100 candidates
does (with 10-deep lists, NFCorpus test keyword + RM3 fell from 0.345 to 0.3282)."""


@dataclass(frozen=True)
class Rm3Params:
    """RM3 for the keyword list (round-trips to JSON; stored with the collection's settings).

    * ``enabled``: expand keyword queries (keyword and hybrid modes).
    * ``docs``: feedback passages (the first pass's best). More: steadier, slower, more drift.
    * ``terms``: expansion words added. More: recall on vocabulary mismatch, more drift.
    * ``original_weight``: ``λ``, the original query's share (1 = no expansion).
    """

    enabled: bool = False
    docs: int = 10
    terms: int = 10
    original_weight: float = 0.5

    def __post_init__(self) -> None:
        if not 1 <= self.docs <= 100 or not 1 <= self.terms <= 100:
            raise InvalidArgumentError(
                f"RM3 docs and terms must be within 1-100, got docs={self.docs}, "
                f"terms={self.terms}")
        if not 0.0 <= self.original_weight <= 1.0:
            raise InvalidArgumentError(
                f"RM3 original_weight must be within [0, 1], got {self.original_weight}")

    def to_dict(self) -> dict[str, Any]:
        return {"enabled": self.enabled, "docs": self.docs, "terms": self.terms,
                "original_weight": self.original_weight}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Rm3Params:
        refuse_unknown(d, (f.name for f in fields(cls)), "RM3 settings")
        return cls(**dict(d))


STEMS = PorterStems()


def _candidate(w: str, stop_words: frozenset[str]) -> bool:
    return len(w) > 1 and not w.isdigit() and w not in stop_words


def feedback_terms(
    texts: Sequence[str], scores: Sequence[float], n_terms: int, stop_words: frozenset[str]
) -> dict[str, float]:
    """The ``n_terms`` most probable words of the feedback passages, ``{surface word: P'(w|R)}``
    (summing to 1). A stem is written as its most frequent surface form in the passages.

    >>> t = feedback_terms(["copy the list", "a shallow copy copies"], [2.0, 2.0], 2,
    ...                    frozenset({"the", "a"}))
    >>> sorted(t), round(sum(t.values()), 6)
    (['copy', 'list'], 1.0)
    """
    toks = [[w for w in words(t) if _candidate(w, stop_words)] for t in texts]
    stem_of = STEMS.stems(sorted({w for ws in toks for w in ws}))
    total = sum(max(0.0, s) for s in scores)
    p: dict[str, float] = {}
    surface: dict[str, Counter[str]] = {}
    for ws, s in zip(toks, scores, strict=True):
        if not ws:
            continue
        dw = max(0.0, s) / total if total > 0 else 1.0 / len(texts)
        tf = Counter(stem_of[w] for w in ws)
        for st, n in tf.items():
            p[st] = p.get(st, 0.0) + dw * n / len(ws)
        for w in ws:
            surface.setdefault(stem_of[w], Counter())[w] += 1
    top = sorted(p.items(), key=lambda x: (-x[1], x[0]))[:n_terms]
    norm = sum(v for _, v in top)
    out: dict[str, float] = {}
    for st, v in top:
        form = min(surface[st].items(), key=lambda x: (-x[1], len(x[0]), x[0]))[0]
        out[form] = v / norm if norm > 0 else 0.0
    return out


def expanded_weights(
    terms: Sequence[str], feedback: Mapping[str, float], original_weight: float
) -> dict[str, float]:
    """Per surface term, its weight in the expanded query (the module's formula); a feedback
    word with the same stem as a query term adds to that term's weight.

    >>> expanded_weights(["copy", "list"], {"copies": 0.5, "shallow": 0.5}, 0.5)
    {'copy': 1.0, 'list': 0.5, 'shallow': 0.5}
    """
    lam = original_weight
    stem_of = STEMS.stems([*terms, *feedback])
    out: dict[str, float] = {t: lam for t in terms}
    by_stem = {stem_of[t]: t for t in terms}
    for w, pr in feedback.items():
        if pr <= 0:
            continue
        key = by_stem.setdefault(stem_of[w], w)
        out[key] = out.get(key, 0.0) + (1 - lam) * len(terms) * pr
    return {t: v for t, v in out.items() if v > 0}


@dataclass(frozen=True)
class Expanded:
    """The expanded keyword list: ``{chunk: Σ weight·bm25_t}`` best first, the weights, and the
    first (unexpanded) pass it came from."""

    scores: dict[int, float]
    weights: dict[str, float]
    first: dict[int, float]


def expand(
    conn: sqlite3.Connection,
    collection_id: int,
    terms: Sequence[str],
    first: Mapping[int, float],
    k: int,
    params: Rm3Params,
    stop_words: frozenset[str],
    where: Mapping[str, Any] | None = None,
) -> Expanded:
    """RM3's second pass (module doc) from the first pass's ``{chunk: bm25}`` list ``first``."""
    first = dict(first)
    fb = sorted(first, key=lambda i: (-first[i], i))[: params.docs]
    if not terms or not fb or params.original_weight >= 1.0:
        return Expanded(first, {t: 1.0 for t in terms}, first)
    text_of = chunk_texts(conn, fb)
    texts = [text_of.get(i, "") for i in fb]
    probs = feedback_terms(texts, [first[i] for i in fb], params.terms, stop_words)
    weights = expanded_weights(terms, probs, params.original_weight)
    scored: dict[int, float] = {}
    depth = max(k, TERM_DEPTH)
    for t, wt in weights.items():  # term at a time: each term's own best chunks
        for h in kw.bm25_search(conn, collection_id, [t], depth, where):
            scored[h.chunk_id] = scored.get(h.chunk_id, 0.0) + wt * h.score
    best = sorted(scored, key=lambda c: (-scored[c], c))[:k]
    return Expanded({c: scored[c] for c in best}, weights, first)


def weighted_bound(conn: sqlite3.Connection, weights: Mapping[str, float]) -> float:
    """The most any chunk could score for the weighted terms, ``(k1 + 1) · Σ w_t · idf_t``
    (``keyword.match_strength``'s bound, weighted)."""
    ts = list(weights)
    dfs = kw.doc_freqs(conn, ts)
    n = kw.fts_row_count(conn)
    return (kw.K1 + 1) * sum(weights[t] * kw.idf(n, d) for t, d in zip(ts, dfs, strict=True))


def weighted_parts(
    conn: sqlite3.Connection, chunk_ids: Sequence[int], weights: Mapping[str, float]
) -> dict[int, dict[str, float]]:
    """For explain: each chunk's expanded-query score split by term (``weight · bm25_t``; they
    add up to the keyword score)."""
    parts = kw.term_scores(conn, chunk_ids, list(weights))
    return {c: {t: weights[t] * s for t, s in ts.items()} for c, ts in parts.items()}


def gate_closed(
    conn: sqlite3.Connection, terms: Sequence[str], first: Mapping[int, float],
    fusion: FusionParams,
) -> bool:
    """In hybrid search: whether the keyword gate shuts the keyword list out for this query
    (its unexpanded match is too weak), so that expanding it would cost time and change
    nothing."""
    if not fusion.gated or not first:
        return False
    s = kw.match_strength(max(first.values()), kw.doc_freqs(conn, terms), kw.fts_row_count(conn))
    return effective_weights(fusion, s)["keyword"] <= 0.0
