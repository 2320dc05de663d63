"""The in-memory copy of the keyword index (``retrieval.keyword_memory``, issue 17 session 9).

Its promise: FTS5's own BM25 scores bit for bit and the same top-k lists, on a real corpus
(NFCorpus text, two collections in one file, the 324 NFCorpus dev queries); used only at the
index version it was built from, so a deleted row is never returned and a commit from another
connection is seen; an index inconsistent with itself is never copied; a copy that does not
match the version is never trusted. The embedder is beside the point (BM25 never reads it).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import akindb
from akindb.eval.beir import load_beir
from akindb.retrieval import keyword as kw
from akindb.retrieval import keyword_memory as km
from akindb.retrieval.settings import KeywordAnalyzer
from akindb.storage import keyword_index as fts
from akindb.storage.sqlite import read_snapshot
from tests.conftest import HashEmbedder, shared_data
from tests.forked import expect_clean_exit, fork_check

ANALYZER = KeywordAnalyzer()


def _fts_top(conn: sqlite3.Connection, cid: int, terms: list[str], k: int
             ) -> list[tuple[int, float]]:
    """FTS5's answer as ``keyword.bm25_pairs`` gives it without the copy."""
    rows = [(c, -r) for c, r in fts.bm25_top(conn, cid, kw.fts_query(terms), k)]
    return sorted(rows, key=lambda x: (-x[1], x[0]))


@pytest.fixture(scope="module")
def nf(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any, Any, list[str]]]:
    """NFCorpus text in two collections of one file (the first 900 documents, the next
    400), and the dev queries' terms."""
    data = load_beir(shared_data() / "ir" / "nfcorpus", "dev")
    docs = list(data.corpus.values())
    db = akindb.open(tmp_path_factory.mktemp("kwmem") / "db")
    a = db.create_collection("a", model=HashEmbedder())  # type: ignore[arg-type]
    b = db.create_collection("b", model=HashEmbedder())  # type: ignore[arg-type]
    a.add([d.full_text for d in docs[:900]], ids=[d.id for d in docs[:900]])
    b.add([d.full_text for d in docs[900:1300]], ids=[d.id for d in docs[900:1300]])
    yield db, a, b, [ANALYZER.query_terms(q) for q in data.queries.values()]
    db.close()


def _terms(queries: list[Any]) -> list[list[str]]:
    return [q for q in queries if q]


def test_scores_and_lists_equal_fts5_bit_for_bit(nf: tuple[Any, Any, Any, list[Any]]) -> None:
    _db, a, b, queries = nf
    conn = a.parts.store.conn
    with a.parts.lock:
        p = km.build(conn)
        assert p is not None
        compared = 0
        for terms in _terms(queries):
            stems = p.stems(terms)
            assert stems is not None
            for col in (a, b):
                cid = col.config.id
                # every match, every score: == on floats, so bit for bit
                assert p.top(cid, stems, 10**6) == _fts_top(conn, cid, terms, 10**6)
                for k in (1, 10, 100):  # ORDER BY rank LIMIT k: the same rows at the cut
                    assert p.top(cid, stems, k) == _fts_top(conn, cid, terms, k)
            assert [p.doc_freq(s) for s in stems] == fts.match_counts(
                conn, [kw.fts_query([t]) for t in terms])
            compared += 1
        assert compared > 300


def test_searches_answer_the_same_with_the_copy(
    nf: tuple[Any, Any, Any, list[Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    _db, a, b, queries = nf
    texts = [" ".join(t) for t in _terms(queries)[:60]]

    def answers() -> list[list[tuple[str, float, float]]]:
        return [[(h.id, h.score, h.distance) for h in col.search(q, 10, mode=m)]
                for q in texts for col in (a, b) for m in ("keyword", "hybrid")]

    monkeypatch.setattr(km, "MAX_TOKENS", 0)  # FTS5 only
    km.forget(a.parts.store.conn)
    before = answers()
    monkeypatch.setattr(km, "MAX_TOKENS", 10**9)
    monkeypatch.setattr(km, "WARM", 1)
    monkeypatch.setattr(km, "TOKENS_PER_READ", 0)  # built at the first read
    after = answers()
    with a.parts.lock, read_snapshot(a.parts.store.conn):
        assert km.current(a.parts.store.conn) is not None  # the copy answered
    assert after == before


def _current(col: Any) -> km.Postings | None:
    with col.parts.lock, read_snapshot(col.parts.store.conn):
        return km.current(col.parts.store.conn)


@pytest.fixture
def col(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Four short documents in collection "c" of ``tmp_path/db``; the copy is built at the
    first keyword read (``WARM`` 1) unless a test sets ``WARM`` before its first read."""
    monkeypatch.setattr(km, "WARM", 1)
    db = akindb.open(tmp_path / "db")
    col = db.create_collection("c", model=HashEmbedder())  # type: ignore[arg-type]
    col.add(["the quick brown fox jumps", "a lazy brown dog sleeps", "foxes and dogs play",
             "quick thinking saves the day"], ids=["d1", "d2", "d3", "d4"])
    yield col
    db.close()


def test_copy_is_built_when_warm_and_used_only_at_its_version(
    col: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(km, "WARM", 3)
    assert _current(col) is None and _current(col) is None  # FTS5 answers the first reads
    p = _current(col)
    assert p is not None and _current(col) is p
    assert [h.id for h in col.search("brown", 10, mode="keyword")] == ["d1", "d2"]
    assert col.delete(["d2"]) == 1
    assert _current(col) is None  # stale: the log moved; FTS5 answers
    assert [h.id for h in col.search("brown", 10, mode="keyword")] == ["d1"]
    assert "d2" not in [h.id for h in col.search("brown dog", 10, mode="hybrid")]
    fresh = _current(col)
    assert fresh is not None and fresh is not p and fresh.version != p.version
    assert [h.id for h in col.search("brown", 10, mode="keyword")] == ["d1"]  # from the copy
    assert fresh.doc_freq("brown") == 1


def test_a_commit_from_another_connection_is_seen(tmp_path: Path, col: Any) -> None:
    assert [h.id for h in col.search("quick", 10, mode="keyword")] == ["d1", "d4"]
    assert _current(col) is not None
    other = akindb.open(tmp_path / "db")
    oc = other.get_collection("c", model=HashEmbedder())  # type: ignore[arg-type]
    oc.delete(["d4"])
    oc.add(["quick quick quick"], ids=["d5"])
    other.close()
    got = [h.id for h in col.search("quick", 10, mode="keyword")]
    assert got == ["d5", "d1"]  # d4 never comes back; d5 is there
    with col.parts.lock, read_snapshot(col.parts.store.conn):
        assert kw.bm25_pairs(col.parts.store.conn, col.config.id, ["quick"], 10) == _fts_top(
            col.parts.store.conn, col.config.id, ["quick"], 10)


def test_a_copy_that_does_not_match_the_index_is_never_trusted(col: Any) -> None:
    conn = col.parts.store.conn
    p = _current(col)
    assert p is not None
    st = km._state(conn)
    assert st is not None
    # an injected fault: the copy claims another version (a corrupt or foreign copy)
    st.postings = p.with_version(("not", "this", "index"))
    q = _current(col)
    assert q is not None and q.version == p.version and q is not p  # rebuilt from FTS5


def test_an_inconsistent_index_is_not_copied_and_not_retried(
    col: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = col.parts.db_file
    raw = sqlite3.connect(path)  # an injected fault: FTS5 loses a row's length record
    with raw:
        raw.execute("DELETE FROM chunks_fts_docsize WHERE id = (SELECT min(id) FROM chunks)")
    raw.close()
    builds: list[object] = []
    real = km.build
    monkeypatch.setattr(km, "build", lambda c: builds.append(1) or real(c))
    assert _current(col) is None and _current(col) is None
    assert len(builds) == 1  # refused once for this version, not rebuilt per query


def test_a_word_fts5_cuts_in_two_is_left_to_fts5(col: Any) -> None:
    col.add(["x\u19b0y marks the brown spot"], ids=["d9"])  # FTS5 reads "x" and "y"
    p = _current(col)
    assert p is not None and p.stems(["x\u19b0y"]) is None
    got = [h.id for h in col.search("x\u19b0y", 10, mode="keyword")]
    assert got == ["d9"]  # FTS5's phrase match, not the copy


def test_a_larger_index_waits_for_more_reads_and_ready_builds_at_once(
    col: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(km, "WARM", 3)
    monkeypatch.setattr(km, "TOKENS_PER_READ", 2)  # the 4 texts hold 18 tokens: 9 reads
    assert [_current(col) for _ in range(8)] == [None] * 8
    assert _current(col) is not None  # the 9th read builds it
    col.add(["the brown fox again"], ids=["d5"])
    assert _current(col) is None  # stale again; FTS5 until it has paid
    assert km.ready(col.parts.store.conn)  # ...unless asked to build now
    p = _current(col)
    assert p is not None and p.doc_freq("fox") == 3  # fox, foxes (d3), fox (d5)
    assert fts.match_counts(col.parts.store.conn, ['"fox"']) == [3]


def test_a_forked_child_does_not_wait_for_the_parents_locks() -> None:
    """A lock held in the parent when it forks stays held in the child: the child's module
    state starts afresh (its copies are rebuilt, its tokenizer is its own)."""
    held = km.TOKENS._lock  # as if another thread of the parent were cutting words now
    held.acquire()
    try:
        pid = fork_check(lambda: km.TOKENS.tokens(["copies"]) == [("copi",)])
    finally:
        held.release()
    expect_clean_exit(pid, "the forked child waited for a lock its parent held")


def test_an_empty_index_and_one_emptied_by_deletes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(km, "WARM", 1)
    db = akindb.open(tmp_path / "db")
    col = db.create_collection("c", model=HashEmbedder())  # type: ignore[arg-type]
    conn = col.parts.store.conn
    with col.parts.lock:
        assert km.ready(conn)
    assert col.search("hello world", 5, mode="keyword") == []
    col.add(["hello there"], ids=["a"])
    with col.parts.lock:
        assert km.ready(conn)
    assert [h.id for h in col.search("hello", 5, mode="keyword")] == ["a"]
    col.delete(["a"])
    with col.parts.lock:
        assert km.ready(conn)
        p = km.current(conn)
    assert p is not None and p.doc_freq("hello") == 0 and p.n_rows == 0
    assert col.search("hello", 5, mode="keyword") == []
    assert col.search("hello", 5, mode="hybrid") == []
    db.close()
