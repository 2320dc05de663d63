"""BM25 from an in-memory copy of the keyword index's postings: FTS5's scores, without FTS5.

FTS5 answers a BM25 top-k by scoring every row that matches any query term and sorting them
(~470 rows per NFCorpus query, ~0.55 ms: the largest part of the default hybrid query's own
work, docs/benchmarks.md "Session 9"). This module keeps, per database connection, every
(term, row) posting with its BM25 contribution worked out in advance, so a query is a few
array gathers and one ``bincount``: ~0.05 ms.

**The same scores, bit for bit.** FTS5's ``bm25()`` (SQLite's ``fts5_aux.c``) scores a row
``Σ_i idf_i · (f_i · (k1 + 1)) / (f_i + k1 · (1 - b + b · D / avgdl))`` over the query's
phrases in order, starting from 0.0, with ``idf = ln((N - n + 0.5) / (n + 0.5))`` floored at
1e-6, ``k1 = 1.2``, ``b = 0.75``, ``N`` and the token total from FTS5's averages record and
``D`` the row's token count. Each posting's term here is that expression's summand, computed
with the same IEEE operations in the same order (``math.log``: the C library's ``log``, as
SQLite's), and a row's summands are added in the query's term order from 0.0 (``bincount``
adds in input order); a term that misses a row adds FTS5's +0.0 there. Ties in score are
broken by chunk id, which is what ``ORDER BY rank`` then ``keyword.bm25_search``'s sort give
(checked on every NFCorpus query, ``tests/retrieval/test_keyword_memory.py``).

**Never trusted more than SQLite.** The copy is derived: built from FTS5 itself
(``storage.keyword_postings``) inside one read snapshot and stamped with the index's version
key (the operations log's sequence, FTS5's structure and averages records); every use first
reads the key inside the caller's snapshot and uses the copy only when it is equal. Any commit
that touches a chunk (any collection of the file) or the FTS5 index changes the key, so a
reader never sees a row deleted since, nor misses one added; it then gets FTS5's own answer.
A build that finds the index inconsistent with itself (row counts, postings that name no row)
is thrown away and the version is not retried.

**When it is built.** A build reads every token occurrence (NFCorpus: 0.9 M tokens, ~0.18 s
on 2 cores, under the database lock) and saves ~0.5 ms per keyword read, so it is built only
once the reads FTS5 has answered at one index version would have paid for it: at least
``WARM`` of them and one per ``TOKENS_PER_READ`` tokens of the index (NFCorpus: ~360 reads,
~0.18 s of FTS5 work). So a cold ``akindb search`` or a short evaluation pays nothing; a
server that keeps answering a collection that is not being written gets the copy after a
few seconds; a collection written between every few hundred reads keeps FTS5 (each write
makes the copy stale, and rebuilding costs no more than the FTS5 reads it waited for).
``ready`` builds it at once (benchmarks' warm-up). A file over ``MAX_TOKENS`` tokens is never
copied (``$AKINDB_KEYWORD_MEMORY``: 0 turns the copy off, a number sets the limit). A query
with a metadata filter, or a word the tokenizer does not make exactly one token of, uses FTS5.
"""

from __future__ import annotations

import contextlib
import math
import os
import sqlite3
import threading
import weakref
from collections.abc import Sequence

import numpy as np

from akindb.storage import keyword_postings as kp
from akindb.storage.porter_stems import QueryTokens
from akindb.storage.sqlite import read_snapshot

K1, B = 1.2, 0.75
"""FTS5 ``bm25()``'s defaults (akindb never passes other weights)."""
WARM = 32
"""Keyword reads FTS5 answers at one index version before the copy is built, at least."""
TOKENS_PER_READ = 2500
"""...and one more read per this many tokens of the index: a build costs ~0.2 µs a token,
an FTS5 read ~0.5 ms (NFCorpus, 2 cores), so the reads waited for pay for the build."""
MAX_TOKENS = int(os.environ.get("AKINDB_KEYWORD_MEMORY", "") or 4_000_000)
"""Largest keyword index (token occurrences) copied: ~12 bytes per (term, row) pair kept,
~1 s and ~150 MB passing to build at the limit."""
TOKENS = QueryTokens()


class Postings:
    """One version of the keyword index, in memory: per term its rows (positions in ``ids``)
    and each row's BM25 summand for that term, stored term after term (``start``). Never
    changed once built (a plain class: this module is imported by every cold search)."""

    __slots__ = ("coll", "ids", "index", "n_rows", "part", "pos", "start", "version")

    def __init__(self, version: kp.Version, n_rows: int, index: dict[str, int],
                 start: np.ndarray, pos: np.ndarray, part: np.ndarray, ids: np.ndarray,
                 coll: np.ndarray) -> None:
        self.version, self.n_rows, self.index = version, n_rows, index
        self.start, self.pos, self.part, self.ids, self.coll = start, pos, part, ids, coll

    def with_version(self, version: kp.Version) -> Postings:
        """The same postings stamped with another version (tests inject a foreign copy)."""
        return Postings(version, self.n_rows, self.index, self.start, self.pos, self.part,
                        self.ids, self.coll)

    def stems(self, terms: Sequence[str]) -> list[str] | None:
        """The indexed token of each query term, or ``None`` when one is not exactly one
        token (FTS5 would read it as a phrase: its answer is used instead)."""
        out: list[str] = []
        for toks in TOKENS.tokens(terms):
            if len(toks) != 1:
                return None
            out.append(toks[0])
        return out

    def doc_freq(self, stem: str) -> int:
        """Rows holding ``stem``: what ``SELECT count(*) ... MATCH`` counts."""
        j = self.index.get(stem)
        return 0 if j is None else int(self.start[j + 1] - self.start[j])

    def top(self, collection_id: int, stems: Sequence[str], k: int) -> list[tuple[int, float]]:
        """``(chunk id, -bm25())`` of the collection's ``k`` best rows, best first, ties by
        chunk id (``keyword.bm25_search``'s order)."""
        spans = [(int(self.start[j]), int(self.start[j + 1]))
                 for j in (self.index.get(s) for s in stems) if j is not None]
        if not spans or k < 1:
            return []
        if len(spans) == 1:
            a, b = spans[0]
            rows, score = self.pos[a:b], self.part[a:b]
        else:
            cat = np.concatenate([self.pos[a:b] for a, b in spans])
            rows, inv = np.unique(cat, return_inverse=True)
            score = np.bincount(inv, np.concatenate([self.part[a:b] for a, b in spans]),
                                len(rows))
        mine = self.coll[rows] == collection_id
        if not mine.all():
            rows, score = rows[mine], score[mine]
        chunk = self.ids[rows]
        if len(score) > k:  # everything scoring at least the k-th best, then the exact order
            keep = score >= np.partition(score, len(score) - k)[len(score) - k]
            chunk, score = chunk[keep], score[keep]
        order = np.lexsort((chunk, -score))[:k]
        return list(zip(chunk[order].tolist(), score[order].tolist(), strict=True))


def build(conn: sqlite3.Connection) -> Postings | None:
    """The keyword index of ``conn``'s file as ``Postings``, read in one snapshot; ``None``
    when it is too large, not the tokenizer this module mirrors, or inconsistent."""
    with read_snapshot(conn):
        version = kp.fts_version(conn)
        n_rows, total = kp.fts_totals(conn)
        if total > MAX_TOKENS or not kp.tokenizer_is_porter(conn):
            return None
        terms, cnt = kp.vocabulary(conn)
        docs = kp.occurrences(conn)
        ids, sizes, coll = kp.row_sizes(conn)
    if n_rows != len(ids) or len(docs) != int(cnt.sum()) or int(sizes.sum()) != total:
        return None
    down = np.flatnonzero(docs[1:] < docs[:-1]) + 1  # rows rise within each term's run
    if not np.isin(down, np.cumsum(cnt)[:-1]).all():
        return None
    term = np.repeat(np.arange(len(terms), dtype=np.int64), cnt)
    new = np.ones(len(docs), dtype=bool)
    new[1:] = (term[1:] != term[:-1]) | (docs[1:] != docs[:-1])
    first = np.flatnonzero(new)
    tf = np.diff(np.append(first, len(docs))).astype(np.float64)
    pair_term, pair_doc = term[first], docs[first]
    pos = np.searchsorted(ids, pair_doc)
    if len(pos) and (pos.max() >= len(ids) or not np.array_equal(ids[pos], pair_doc)):
        return None  # a posting names a row FTS5 has no size for
    df = np.bincount(pair_term, minlength=len(terms))
    idf_of = {}
    for n in np.unique(df).tolist():
        v = math.log((n_rows - n + 0.5) / (n + 0.5))
        idf_of[n] = v if v > 0.0 else 1e-6
    idf = np.array([idf_of[n] for n in df.tolist()], dtype=np.float64)
    avgdl = float(total) / float(n_rows) if n_rows else 1.0
    norm = K1 * ((1 - B) + (B * sizes.astype(np.float64)) / avgdl)
    part = idf[pair_term] * ((tf * (K1 + 1.0)) / (tf + norm[pos]))
    start = np.zeros(len(terms) + 1, dtype=np.int64)
    np.cumsum(df, out=start[1:])
    return Postings(version, n_rows, {t: j for j, t in enumerate(terms)}, start,
                    pos.astype(np.int32), part, ids, coll)


class _State:
    """One connection's copy and its warm-up count (``current``)."""

    __slots__ = ("lock", "misses", "needed", "postings", "refused", "seen")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.postings: Postings | None = None
        self.seen: kp.Version | None = None
        self.misses = 0
        self.needed = WARM
        self.refused: kp.Version | None = None


_STATES: weakref.WeakKeyDictionary[sqlite3.Connection, _State] = weakref.WeakKeyDictionary()
_STATES_LOCK = threading.Lock()


def _state(conn: sqlite3.Connection) -> _State | None:
    with _STATES_LOCK:
        try:
            st = _STATES.get(conn)
            if st is None:
                st = _STATES[conn] = _State()
        except TypeError:  # a connection type without weak references: no copy
            return None
        return st


def current(conn: sqlite3.Connection) -> Postings | None:
    """The copy of ``conn``'s keyword index when it is the index as this snapshot sees it
    (built now if it is time, module doc); ``None``: ask FTS5."""
    if MAX_TOKENS <= 0 or (st := _state(conn)) is None:
        return None
    version = kp.fts_version(conn)
    with st.lock:
        p = st.postings
        if p is not None and p.version == version:
            return p
        if st.seen != version:
            st.seen, st.misses = version, 0
            st.needed = WARM
        st.misses += 1
        if st.misses < st.needed or st.refused == version:
            return None
        if st.misses == WARM and TOKENS_PER_READ > 0:  # the size decides how many more
            st.needed = max(WARM, kp.fts_totals(conn)[1] // TOKENS_PER_READ)
            if st.misses < st.needed:
                return None
        return _rebuild(conn, st, version)


def _rebuild(conn: sqlite3.Connection, st: _State, version: kp.Version) -> Postings | None:
    st.postings = None  # the stale copy's memory goes before the new one is read
    p = build(conn)
    if p is None or p.version != version:  # refused, or read in another state
        st.refused = version if p is None else None
        return None
    st.postings = p
    return p


def ready(conn: sqlite3.Connection) -> bool:
    """Build the copy now unless it is current (a benchmark's warm-up, a server that wants
    its first reads fast); whether one is there now."""
    if MAX_TOKENS <= 0 or (st := _state(conn)) is None:
        return False
    with read_snapshot(conn):
        version = kp.fts_version(conn)
        with st.lock:
            p = st.postings
            if p is not None and p.version == version:
                return True
            if st.refused == version:
                return False
            return _rebuild(conn, st, version) is not None


def _after_fork() -> None:
    """In a forked child: a lock another thread of the parent held stays held there, and the
    tokenizer's private connection must not be shared; start afresh (copies are rebuilt)."""
    global _STATES, _STATES_LOCK, TOKENS
    _STATES, _STATES_LOCK, TOKENS = weakref.WeakKeyDictionary(), threading.Lock(), QueryTokens()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


def forget(conn: sqlite3.Connection) -> None:
    """Drop ``conn``'s copy (tests; a closed connection's copy goes with it: weak keys)."""
    with _STATES_LOCK, contextlib.suppress(TypeError):
        _STATES.pop(conn, None)
