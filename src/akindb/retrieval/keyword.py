"""Keyword (BM25) search over the SQLite FTS5 table ``chunks_fts`` kept beside the vectors.

The FTS5 table indexes every chunk's text with the ``porter unicode61`` tokenizer (stemming,
case and diacritics folded) and is written by triggers in the same transaction as the chunk and
its vector, so keyword and vector search always see the same rows.

User text never reaches FTS5 syntax. :func:`fts_query` extracts plain word terms (letters and
digits only), drops English stop-words (unless nothing else is left), and writes each term as a
double-quoted FTS5 string joined by ``OR``; the result is bound as an SQL parameter. Quotes,
``NEAR``, ``AND``/``OR``/``NOT``, ``*``, ``-``, ``^``, ``:`` and parentheses in the query are
therefore plain words or separators, never operators, and cannot cause an FTS5 syntax error or
inject SQL. A query with no word character at all gives no terms and no keyword hits.

A process that keeps reading an unchanged keyword index answers the BM25 top-k and the
document frequencies from an in-memory copy of FTS5's postings instead (``keyword_memory``:
the same scores bit for bit, checked against the index's version in every snapshot).

Scores: FTS5's ``bm25()`` (k1 = 1.2, b = 0.75) is negative, better = more negative; we report
``-bm25()`` so that, as everywhere in akindb, higher is better. BM25 statistics (document count,
average length, document frequencies) are those of the whole FTS5 table, i.e. of every
collection in the database file; with one collection per file they are exactly BM25's.

BM25 scores are unbounded and their scale depends on the query, so hybrid search also needs to
know how *good* the best keyword match is: :func:`match_strength` divides the best score by the
most any document could score for those terms (``(k1 + 1) · Σ idf``), giving a number in [0, 1)
(0.9: the top chunk matches the query's rare terms many times; 0.1: it matches a few common
words and the query's distinctive terms are nowhere in the collection).
"""

from __future__ import annotations

import math
import re
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from akindb.retrieval import keyword_memory
from akindb.storage import keyword_index as fts

# Lucene's English stop-word set (what Anserini's BM25 anchors use), 33 words.
STOP_WORDS: frozenset[str] = frozenset(
    [
        "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is",
        "it",
        "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these",
        "they", "this", "to", "was", "will", "with",
    ]
)
# Terms are runs of letters/digits: what FTS5's unicode61 tokenizer keeps as one token
# ("_" is a separator there, so it is one here too).
_TERM = re.compile(r"[^\W_]+", re.UNICODE)
MAX_TERMS = 64
"""Longer queries keep their first 64 distinct terms (FTS5 cost grows with each OR branch)."""
K1 = 1.2
"""FTS5 ``bm25()``'s term-frequency saturation (its default; b = 0.75 does not bound scores)."""
Copy = keyword_memory.Postings | None | Literal["ask"]
"""The in-memory copy of the keyword index a caller looked up in its snapshot (``None``: none
is current), or "ask": look it up (one read of the index's version)."""


def _copy(conn: sqlite3.Connection, copy: Copy) -> keyword_memory.Postings | None:
    return keyword_memory.current(conn) if isinstance(copy, str) else copy


@dataclass(frozen=True, slots=True)
class KeywordHit:
    """One chunk matched by BM25: its chunk id (SQLite rowid) and ``-bm25()`` score."""

    chunk_id: int
    score: float


def query_terms(text: str, *, stop_words: frozenset[str] = STOP_WORDS) -> list[str]:
    """The distinct, lower-cased word terms of ``text`` that keyword search looks for.

    Stop-words are dropped unless the query has nothing else (then they are all there is to
    search for). Punctuation-only text has no terms.

    >>> query_terms('What is "NEAR(a b)" -x* OR y?')
    ['what', 'near', 'b', 'x', 'y']
    >>> query_terms("to be or not to be")
    ['to', 'be', 'or', 'not']
    >>> query_terms("?!*")
    []
    """
    seen: dict[str, None] = {}
    for m in _TERM.finditer(text):
        seen.setdefault(m.group(0).lower(), None)
    terms = list(seen)
    content = [t for t in terms if t not in stop_words]
    return (content or terms)[:MAX_TERMS]


def fts_query(terms: Sequence[str]) -> str:
    """An FTS5 MATCH expression that ORs ``terms`` as quoted strings (no operators).

    >>> fts_query(["near", "x"])
    '"near" OR "x"'
    """
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)


def bm25_search(
    conn: sqlite3.Connection,
    collection_id: int,
    terms: Sequence[str],
    k: int,
    where: Mapping[str, Any] | None = None,
) -> list[KeywordHit]:
    """The ``k`` best chunks of one collection for ``terms`` by BM25, best first.

    ``where`` is a parsed metadata filter (see ``storage.filters``), applied in the same query.
    """
    return [KeywordHit(c, s) for c, s in bm25_pairs(conn, collection_id, terms, k, where)]


def bm25_pairs(
    conn: sqlite3.Connection,
    collection_id: int,
    terms: Sequence[str],
    k: int,
    where: Mapping[str, Any] | None = None,
    *,
    copy: Copy = "ask",
) -> list[tuple[int, float]]:
    """``bm25_search`` as ``(chunk id, score)`` pairs (hybrid search builds a dict of them:
    no ``KeywordHit`` per candidate). From the in-memory copy of the postings when it is
    current (``keyword_memory``: the same scores and order), else from FTS5. ``copy``: the
    copy the caller already looked up in this snapshot (``None``: there is none), or "ask"."""
    if not terms or k < 1:
        return []
    mem = _copy(conn, copy) if where is None else None
    stems = mem.stems(terms) if mem is not None else None
    if mem is not None and stems is not None:
        return mem.top(collection_id, stems, k)
    rows = [(c, -rank) for c, rank in fts.bm25_top(conn, collection_id, fts_query(terms), k,
                                                   where)]
    rows.sort(key=lambda h: (-h[1], h[0]))  # deterministic order among ties
    return rows


def term_scores(
    conn: sqlite3.Connection, chunk_ids: Sequence[int], terms: Sequence[str]
) -> dict[int, dict[str, float]]:
    """Per chunk, the BM25 contribution of each query term that matches it (for explain).

    FTS5's BM25 is a sum over the query's terms, so these parts add up to the chunk's score.
    One small query per term, restricted to ``chunk_ids``.
    """
    out: dict[int, dict[str, float]] = {c: {} for c in chunk_ids}
    if not chunk_ids:
        return out
    for t in terms:
        for rowid, s in fts.bm25_of(conn, fts_query([t]), chunk_ids):
            out[rowid][t] = -s
    return out


def fts_row_count(conn: sqlite3.Connection) -> int:
    """Rows in the FTS5 table, i.e. the ``N`` that ``bm25()`` uses (one row read)."""
    return fts.fts_row_count(conn)


def doc_freqs(conn: sqlite3.Connection, terms: Sequence[str], *, copy: Copy = "ask"
              ) -> list[int]:
    """How many FTS5 rows contain each term (after stemming, as ``MATCH`` sees it); one query,
    or none when the in-memory copy is current (``keyword_memory``; ``copy`` as for
    ``bm25_pairs``)."""
    mem = _copy(conn, copy) if terms else None
    stems = mem.stems(terms) if mem is not None else None
    if mem is not None and stems is not None:
        return [mem.doc_freq(s) for s in stems]
    return fts.match_counts(conn, [fts_query([t]) for t in terms])


def idf(n_rows: int, df: int) -> float:
    """FTS5's BM25 inverse document frequency, ``ln((N - n + 0.5) / (n + 0.5))``, floored at 1e-6.

    >>> round(idf(1000, 10), 4), idf(1000, 900)
    (4.5468, 1e-06)
    """
    v = math.log((n_rows - df + 0.5) / (df + 0.5))
    return v if v > 0 else 1e-6


def match_strength(best_score: float, dfs: Sequence[int], n_rows: int) -> float:
    """The best BM25 score as a fraction of the most a chunk could score for these terms.

    FTS5 scores a chunk ``Σ_t idf(t) · tf·(k1+1) / (tf + k1·(1 - b + b·len/avglen))`` over the
    query's terms, and each part is below ``idf(t) · (k1 + 1)``; so the result is in [0, 1).
    Terms absent from the collection count fully in the denominator: a query whose distinctive
    words are nowhere in the collection gets a low strength even if its common words match.

    >>> round(match_strength(2 * 2.2 * idf(100, 1), [1, 1], 100), 3)
    1.0
    >>> round(match_strength(2.2 * idf(100, 1), [1, 0], 100), 3)  # one of two rare terms absent
    0.442
    """
    top = (K1 + 1) * sum(idf(n_rows, df) for df in dfs)
    return max(0.0, best_score) / top if top > 0 else 0.0
