"""The lean single-query path (``akindb.collection.lean``, issue 14): the same answers as the
general path, bit for bit, for every metric and threshold; the general path's errors for bad
input; and a write by another connection, committed before or during a search, is never
missed and a deleted row never served."""

from __future__ import annotations

import dataclasses
import math
import pickle
import threading
from pathlib import Path

import numpy as np
import pytest

import akindb
from akindb.collection import lean
from akindb.collection.results import new_hit, row_hits
from akindb.core.vectors import normalize_rows, unit_and_raw, unit_query
from akindb.errors import InvalidArgumentError, InvalidVectorError
from akindb.storage.store import HitRow
from akindb.types import Hit

N, DIM = 500, 16


def _vectors(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)


def _open(path: Path, metric: str, base: np.ndarray) -> akindb.Database:
    db = akindb.open(path)
    col = db.create_collection("c", model=None, dim=DIM, metric=metric, index="hnsw")
    col.add(texts=[f"text {i}" for i in range(len(base))], ids=[f"d{i}" for i in range(len(base))],
            vectors=base, metadatas=[{"i": i} for i in range(len(base))])
    return db


@pytest.mark.parametrize("metric", ["cosine", "l2", "dot"])
def test_lean_answers_equal_the_general_path(tmp_path: Path, metric: str) -> None:
    base = _vectors(N, 1)
    queries = _vectors(30, 2)
    with _open(tmp_path / "db", metric, base) as db:
        col = db.get_collection("c")
        col.search_vector(queries[0])  # loads the index: the lean path needs it ready
        for q in queries:
            fast = lean.search_one(col.parts, q, 7, None, None)
            assert fast is not None  # the common case really takes the lean path
            general = col.search_vectors(q[None, :], k=7)[0]
            assert fast == general and [h.score for h in fast] == [h.score for h in general]
            assert [h.distance for h in fast] == [h.distance for h in general]
            assert col.search_vector(q, k=7) == general
            assert col.search_vector(q[None, :], k=7) == general  # (1, dim) too
            cut = general[3].score
            assert col.search_vector(q, k=7, min_score=cut) == general[:4]
            far = general[2].distance
            assert col.search_vector(q, k=7, max_distance=far) == general[:3]
            # exact=True: the exact index beside the graph, on the lean path too
            exact = col.search_vectors(q[None, :], k=7, exact=True)[0]
            fast = lean.search_one(col.parts, q, 7, None, None, True)
            assert fast is not None and fast == exact
            assert [h.score for h in fast] == [h.score for h in exact]
            assert [h.distance for h in fast] == [h.distance for h in exact]
            assert col.search_vector(q, k=7, exact=True) == exact
            assert col.search_vector(q, k=7, exact=1) == exact  # type: ignore[arg-type]
            cut = exact[4].score
            assert col.search_vector(q, k=7, exact=True, min_score=cut) == exact[:5]


def test_bad_input_gets_the_general_paths_errors(tmp_path: Path) -> None:
    base = _vectors(N, 3)
    with _open(tmp_path / "db", "cosine", base) as db:
        col = db.get_collection("c")
        col.search_vector(base[0])
        for bad_k in (0, -1, True, 2.0, "3"):
            with pytest.raises(InvalidArgumentError, match="k must be a positive integer"):
                col.search_vector(base[0], k=bad_k)  # type: ignore[arg-type]
        with pytest.raises(InvalidArgumentError, match="min_score must be a number"):
            col.search_vector(base[0], min_score=math.nan)
        nan = base[0].copy()
        nan[3] = np.nan
        with pytest.raises(InvalidVectorError, match="NaN"):
            col.search_vector(nan)
        with pytest.raises(InvalidVectorError, match="NaN"):
            col.search_vector(nan, exact=True)
        with pytest.raises(InvalidArgumentError, match="k must be a positive integer"):
            col.search_vector(base[0], k=0, exact=True)
        with pytest.raises(InvalidVectorError, match="all zeros"):
            col.search_vector(np.zeros(DIM, np.float32))
        with pytest.raises(InvalidVectorError, match="dimension"):
            col.search_vector(np.ones(DIM + 1, np.float32))
        # other dtypes and non-contiguous views take the general path, same answer
        want = col.search_vector(base[5])
        assert col.search_vector(base[5].astype(np.float64)) == want
        assert col.search_vector(base[5].tolist()) == want
        wide = np.zeros((1, 2 * DIM), np.float32)
        wide[0, ::2] = base[5]
        assert col.search_vector(wide[0, ::2]) == want


def test_a_write_by_another_connection_is_seen_by_the_next_search(tmp_path: Path) -> None:
    """The log-head read that the lean path relies on (cached behind SQLite's WAL-index
    header, ``storage.commit_watch``) sees every commit of another connection."""
    base = _vectors(N, 4)
    with _open(tmp_path / "db", "cosine", base) as db, akindb.open(tmp_path / "db") as other:
        col, col2 = db.get_collection("c"), other.get_collection("c")
        for i in range(25):
            assert col.search_vector(base[i], k=1)[0].id == f"d{i}"
            col2.delete([f"d{i}"])
            hits = col.search_vector(base[i], k=3)
            assert f"d{i}" not in {h.id for h in hits}
            assert f"d{i}" not in {h.id for h in col.search_vector(base[i], k=3, exact=True)}
            col2.add(texts=["fresh"], ids=[f"new{i}"], vectors=base[i : i + 1])
            assert col.search_vector(base[i], k=1)[0].id == f"new{i}"


def test_readers_never_see_a_deleted_row_while_another_connection_writes(
    tmp_path: Path,
) -> None:
    """Two reader threads on the lean path, a writer on another connection deleting and
    re-adding one document over and over: no answer holds a row that SQLite no longer had
    when the search began, and every answer has k hits."""
    base = _vectors(N, 5)
    with _open(tmp_path / "db", "cosine", base) as db, akindb.open(tmp_path / "db") as other:
        col, col2 = db.get_collection("c"), other.get_collection("c")
        col.search_vector(base[0])
        stop = threading.Event()
        errors: list[str] = []
        generation = [0]

        def write() -> None:
            while not stop.is_set():
                col2.delete(["d1"])
                generation[0] += 1
                col2.add(texts=[f"gen {generation[0]}"], ids=["d1"], vectors=base[1:2])

        def read() -> None:
            for _ in range(300):
                before = generation[0]
                hits = col.search_vector(base[1], k=5)
                if len(hits) != 5:
                    errors.append(f"{len(hits)} hits")
                for h in hits:
                    stale = h.text.startswith("gen ") and int(h.text.split()[1]) < before
                    if h.id == "d1" and stale:
                        errors.append(f"served {h.text!r} after generation {before}")

        writer = threading.Thread(target=write)
        readers = [threading.Thread(target=read) for _ in range(2)]
        writer.start()
        for t in readers:
            t.start()
        for t in readers:
            t.join(timeout=120)
        stop.set()
        writer.join(timeout=60)
        assert not errors, errors[:3]


def test_unit_query_is_normalize_rows_bit_for_bit() -> None:
    rng = np.random.default_rng(6)
    for scale in (1e-3, 1.0, 1e3):
        for _ in range(200):
            v = (rng.normal(size=384) * scale).astype(np.float32)
            out = unit_query(v, 384)
            assert out is not None and out.shape == (1, 384)
            assert np.array_equal(out, normalize_rows(v[None, :]))
    assert unit_query(np.zeros(4, np.float32), 4) is None
    assert unit_query(np.array([1, np.inf, 0, 0], np.float32), 4) is None
    assert unit_query(np.array([1, np.nan, 0, 0], np.float32), 4) is None
    assert unit_query(np.ones(4, np.float64), 4) is None
    assert unit_query(np.ones((2, 4), np.float32), 4) is None
    assert unit_query(np.full(4, 1e-30, np.float32), 4) is None  # squares underflow


def test_unit_and_raw_gives_the_unit_row_and_the_query_as_given() -> None:
    """The lean path's one check: ``unit_query``'s bits, and the caller's own array as a
    ``(1, dim)`` view (the recall monitor records it; no copy)."""
    rng = np.random.default_rng(3)
    for v in (rng.normal(size=16).astype(np.float32), rng.normal(size=(1, 16)).astype(np.float32)):
        got = unit_and_raw(v, 16)
        assert got is not None
        unit, raw = got
        assert unit.shape == raw.shape == (1, 16) and np.shares_memory(raw, v)
        assert unit.tobytes() == normalize_rows(v.reshape(1, 16)).tobytes()
    for bad in (np.zeros(16, np.float32), np.ones(16), np.ones((2, 16), np.float32),
                np.ones(32, np.float32)[::2], [1.0] * 16):
        assert unit_and_raw(bad, 16) is None


def test_fast_hits_are_hits() -> None:
    """``row_hits`` builds Hits without ``Hit.__init__``: views of the cached row (session 8),
    the same in every way a caller can see as a Hit built by its constructor."""
    row = HitRow(5, "a", 2, 1, 9, "text", "src.txt", {"k": 1})
    (fast,) = row_hits([row, None], [0.5, 0.1], [0.5, 0.9], None, None)
    assert fast.metadata is row.metadata and fast.text is row.text  # shared, not copied
    assert new_hit("a", 0.5, 0.5, "text", "src.txt", 1, 9, 2, {"k": 1}) == fast
    slow = Hit("a", 0.5, 0.5, "text", "src.txt", 1, 9, 2, {"k": 1})
    assert type(fast) is Hit and fast == slow and repr(fast) == repr(slow)
    assert (fast.explanation, fast.chunk_id, fast.others) == (None, None, ())
    assert pickle.loads(pickle.dumps(fast)) == slow
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.score = 1.0  # type: ignore[misc]
    assert dataclasses.replace(fast, score=0.25) == Hit("a", 0.25, 0.5, "text", "src.txt", 1, 9, 2,
                                                        {"k": 1})
    assert row_hits([row], [0.5], [0.5], 0.6, None) == []
    assert row_hits([row], [math.nan], [math.nan], None, 0.4) == []
    assert len(row_hits([row], [math.nan], [math.nan], None, None)) == 1


def test_explanation_dicts_are_asdicts() -> None:
    """``Explanation.to_dict`` skips ``asdict`` when nothing is nested: same dict, same key
    order (JSON bytes), fresh containers (a caller may mutate them)."""
    import dataclasses
    import json

    from akindb.types import Explanation, FusionExplanation

    cases = [
        Explanation("vector", 0.5, dense_score=0.5, dense_rank=1),
        Explanation("vector", 0.5, reranker={}, token_importance=[]),
    ]
    for e in cases:  # nothing nested: the shortcut must build what asdict builds
        d = e.to_dict()
        want = dataclasses.asdict(e)
        want["fusion"] = {}  # the wire's shape for "no fusion"
        assert d == want and json.dumps(d) == json.dumps(want)
    # Everything nested (the asdict branch): the wire's dict written out by hand, key order
    # included, not rebuilt the way to_dict builds it (importances rounded to 6 places).
    e = Explanation("hybrid", 0.7, 0.6, 2, 3.1, 1, {"cat": 1.2}, ["cat"],
                    FusionExplanation("convex", 0.7, weights={"vector": 0.7}), {"a": 1},
                    {"mmr": 0.5}, [("cat", 0.2500004)], False)
    cases.append(e)
    want = {
        "mode": "hybrid", "score": 0.7, "dense_score": 0.6, "dense_rank": 2,
        "bm25_score": 3.1, "keyword_rank": 1, "matched_terms": {"cat": 1.2},
        "query_terms": ["cat"],
        "fusion": {"method": "convex", "raw_score": 0.7, "rrf_k": None, "ranks": {}, "raw": {},
                   "parts": {}, "weights": {"vector": 0.7}, "keyword_strength": None,
                   "formula": ""},
        "filter": {"a": 1}, "reranker": {"mmr": 0.5},
        "token_importance": [{"token": "cat", "importance": 0.25}], "terms_recorded": False,
    }
    assert json.dumps(e.to_dict()) == json.dumps(want)
    for e in cases:
        d = e.to_dict()
        d["matched_terms"]["x"] = 1.0
        d["query_terms"].append("x")
        assert "x" not in e.matched_terms and "x" not in e.query_terms


@pytest.mark.parametrize("metric", ["cosine", "l2"])
def test_columns_are_the_hits_in_columns(tmp_path: Path, metric: str) -> None:
    """``search_vectors(include=[...])``: with nothing cut (the flat C-level pass of
    ``results.query_result``) and with a threshold that cuts (the per-row path), every column
    holds what the Hits of the same search hold, in their order; ids only likewise."""
    base = _vectors(N, 7)
    queries = _vectors(40, 8)
    with _open(tmp_path / "db", metric, base) as db:
        col = db.get_collection("c")
        inc = ["documents", "metadatas", "scores", "distances"]
        lasts = sorted(r[-1].score for r in col.search_vectors(queries, k=9))
        cut = lasts[len(lasts) // 2]  # cuts the tail of about half the rows
        for kw in ({}, {"min_score": cut}):
            hits = col.search_vectors(queries, k=9, **kw)  # type: ignore[arg-type]
            cols = col.search_vectors(queries, k=9, include=inc, **kw)  # type: ignore[arg-type]
            assert list(cols) == ["ids", *inc]
            assert cols["ids"] == [[h.id for h in r] for r in hits]
            assert cols["documents"] == [[h.text for h in r] for r in hits]
            assert cols["metadatas"] == [[h.metadata for h in r] for r in hits]
            assert cols["scores"] == [[h.score for h in r] for r in hits]
            assert cols["distances"] == [[h.distance for h in r] for r in hits]
            ids = col.search_vectors(queries, k=9, include=[], **kw)  # type: ignore[arg-type]
            assert ids == {"ids": cols["ids"]}
        lens = {len(r) for r in col.search_vectors(queries, k=9, min_score=cut)}
        assert len(lens) > 1 and 9 in lens  # the threshold really cut some rows, not all


def test_k_beyond_the_collection(tmp_path: Path) -> None:
    """A k larger than the index (padded rows: label -1) on the lean path: every stored
    chunk once, the general path's answer; the same for the columns."""
    base = _vectors(6, 9)
    with _open(tmp_path / "db", "cosine", base) as db:
        col = db.get_collection("c")
        col.search_vector(base[0])
        fast = lean.search_one(col.parts, base[1], 10, None, None)
        assert fast is not None and len(fast) == 6
        assert fast == col.search_vectors(base[1:2], k=10)[0]
        assert fast == col.search_vector(base[1], k=1000)
        cols = col.search_vectors(base[1:3], k=10, include=["documents"])
        assert [len(r) for r in cols["documents"]] == [6, 6]


@pytest.mark.parametrize("metric", ["cosine", "l2", "dot"])
def test_one_query_paths_of_the_indexes_answer_as_the_batch(metric: str) -> None:
    """``HnswIndex.search`` (faiss's C entry point, slot -1 looked for in a list) and
    ``FlatIndex.search`` (one scan, no padded arrays) on one query: the labels and scores the
    batch path gives for the same row (bit for bit for the graph; for the flat scan BLAS rounds
    a one-row product apart from a batch's, as it did before this path); tombstones take
    the general path."""
    from akindb.index import hnsw
    from akindb.index.flat import FlatIndex
    from akindb.index.hnsw import HnswIndex
    from akindb.types import Metric

    m = Metric.parse(metric)
    base = _vectors(N, 10)
    if m is Metric.COSINE:
        base = normalize_rows(base)
    labels = np.arange(100, 100 + N, dtype=np.int64)
    for index in (HnswIndex(DIM, m), FlatIndex(DIM, m)):
        index.add(labels, base)
        index.ready()
        assert isinstance(index, FlatIndex) or hnsw._swig_ptr is not None  # C path in use
        for q in _vectors(20, 11):
            q1 = normalize_rows(q[None, :]) if m is Metric.COSINE else q[None, :]
            one_l, one_s = index.search(q1, 8)
            two_l, two_s = index.search(np.vstack([q1, q1]), 8)
            assert np.array_equal(one_l, two_l[:1])
            if isinstance(index, FlatIndex):
                assert np.allclose(one_s, two_s[:1], rtol=1e-6, atol=1e-6)
            else:
                assert np.array_equal(one_s, two_s[:1])
            assert one_l.dtype == np.int64 and one_s.dtype == np.float32
        index.remove(labels[:5])
        index.ready()
        got, _ = index.search(normalize_rows(base[:1]) if m is Metric.COSINE else base[:1], 3)
        assert 100 not in got.tolist()[0]
