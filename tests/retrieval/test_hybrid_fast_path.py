"""The default hybrid pipeline's cheap path (issue 17, session 8): the candidates' vectors from
the flat index (``LiveIndex.rows_at``), convex fusion and Rocchio rounds on arrays
(``convex_arrays``), the keyword side run while the query is embedded (``keyword_side``).

Its promise is the same answers as the dict code with vectors read from SQLite, bit for bit;
these tests check that against a reference built from ``hybrid.gather``/``convex`` and
``feedback.moved`` (random candidates with ties, and real pages with the real model), and that
neither the index's vectors nor the early keyword side let a reader see a state it must not.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Sequence

import numpy as np
import pytest

import akindb
from akindb.models.base import FloatMatrix
from akindb.retrieval import keyword as kw
from akindb.retrieval import keyword_side, stages
from akindb.retrieval.convex_arrays import Pool, feedback_rounds
from akindb.retrieval.feedback import RocchioParams, applies, moved
from akindb.retrieval.fusion import FusionParams
from akindb.retrieval.hybrid import Candidates, convex, fuse_candidates, gather
from akindb.retrieval.hybrid_query import cosine_of_unit, unit_rows
from akindb.retrieval.search import dense_scores
from akindb.retrieval.settings import (
    DEFAULT_FUSION,
    RetrievalSettings,
    load_settings,
    save_settings,
    updated,
)
from akindb.storage.sqlite import read_snapshot
from akindb.types import Metric
from tests.conftest import HashEmbedder
from tests.forked import expect_clean_exit, fork_check
from tests.realdata import pydocs_collection
from tests.retrieval.test_hybrid_real import PAGES, QUESTIONS

COS = lambda q, m: dense_scores(Metric.COSINE, q, m)  # noqa: E731
FEEDBACK = [RocchioParams(True, 0.4, 5, 3, 0.8), RocchioParams(True, 0.4, 5),
            RocchioParams(True, 0.5, 2, 5, 0.0), RocchioParams(True, 0.3, 3, 2, 0.9)]


def _case(rng: np.random.Generator, coarse: bool) -> tuple[Candidates, np.ndarray,
                                                          dict[int, np.ndarray]]:
    """Candidates as hybrid search gathers them; ``coarse``: vectors and BM25 scores on a grid,
    so fused scores and list scores tie exactly; some candidates have no vector."""
    dim = 8
    n = int(rng.integers(2, 60))
    ids = [int(x) for x in rng.choice(10_000, size=n, replace=False)]
    raw = {i: rng.integers(-1, 2, size=dim).astype(np.float32) + (
        np.float32(0) if coarse else rng.normal(size=dim).astype(np.float32)) for i in ids}
    vecs = {i: v for i, v in raw.items() if np.linalg.norm(v) > 0 and rng.random() < 0.95}
    q = rng.normal(size=dim).astype(np.float32)
    s = {i: float(x) for i, x in zip(vecs, COS(q, np.stack(list(vecs.values()))).tolist(),
                                     strict=True)} if vecs else {}
    vec = {i: s[i] for i in ids if i in s and rng.random() < 0.7}
    key = {i: (float(rng.integers(1, 4)) if coarse else float(rng.random() * 8))
           for i in ids if i not in vec or rng.random() < 0.5}
    dense = {**vec, **{i: s[i] for i in key if i in s}}
    return Candidates(vec, key, dense, 10.0, float(rng.random())), q, vecs


def _arrays(c: Candidates, q: np.ndarray, vecs: dict[int, np.ndarray], params: FusionParams,
            fb: RocchioParams | None, limit: int) -> tuple[list, list[float]]:
    pool = Pool.of(c, params)
    dense = pool.dense
    if fb is not None:
        at = np.array([j for j, i in enumerate(pool.ids) if i in vecs], dtype=np.int64)
        rows = (unit_rows(np.stack([vecs[pool.ids[j]] for j in at.tolist()])) if len(at)
                else np.zeros((0, len(q)), np.float32))

        def stored(ids: Sequence[int]) -> dict[int, np.ndarray]:
            return {i: vecs[i] for i in ids if i in vecs}

        dense = feedback_rounds(pool, q, rows, at, stored, fb, cosine_of_unit)
    return pool.fused(dense, limit)


@pytest.mark.parametrize("coarse", [False, True])
def test_arrays_fuse_and_feed_back_as_the_dict_code(coarse: bool) -> None:
    rng = np.random.default_rng(17 + coarse)
    gates = [DEFAULT_FUSION, FusionParams(method="convex", vector_weight=0.5, keyword_weight=0.5,
                                          keyword_gate_low=0.0, keyword_gate_high=0.0)]
    for trial in range(300):
        c, q, vecs = _case(rng, coarse)
        params = gates[trial % 2]
        limit = int(rng.integers(1, 80))
        want = convex(c, params)[:limit]
        got, shown = _arrays(c, q, vecs, params, None, limit)
        assert got == want and shown == [f.score for f in want]
        fb = FEEDBACK[trial % len(FEEDBACK)]
        ref, ref_shown = fuse_candidates(moved(c, q, vecs, params, fb, COS), params)
        got, shown = _arrays(c, q, vecs, params, fb, limit)
        assert got == ref[:limit], trial
        assert shown == ref_shown[:limit]


def test_rows_of_and_stages_doctests() -> None:
    import doctest

    from akindb.index import flat

    for mod in (flat, stages, keyword_side):
        assert doctest.testmod(mod).failed == 0


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> Iterator[akindb.Collection]:
    db, c = pydocs_collection(tmp_path_factory.mktemp("fast"), PAGES)
    yield c
    db.close()


def _reference(col: akindb.Collection, query: str, k: int) -> list[tuple[int, float]]:
    """Hybrid search as the dict code runs it, every vector read from SQLite."""
    parts = col.parts
    conn = parts.store.conn
    with parts.lock:
        st = load_settings(conn, col.config.id)
    qv = col.embedder.embed([query], role="query")[0]
    terms = st.analyzer.query_terms(query)
    params = st.fusion
    with parts.lock, read_snapshot(conn):
        labels, scores = parts.live.search(qv[None, :], params.candidates)
        vec = {int(a): float(s) for a, s in zip(labels[0], scores[0], strict=True) if a >= 0}
        key = {h.chunk_id: h.score for h in kw.bm25_search(conn, col.config.id, terms,
                                                            params.candidates)}
        every = list(dict.fromkeys([*vec, *key]))
        stored = parts.store.vectors_by_chunk(every)

        def dense_of(ids: list[int]) -> dict[int, float]:
            got = [i for i in ids if i in stored]
            s = COS(qv, np.stack([stored[i] for i in got])) if got else np.zeros(0)
            return dict(zip(got, s.tolist(), strict=True))

        c = gather(conn, {"vector": vec, "keyword": key}, terms, params, bounded=True,
                   dense_of=dense_of)
    fb = st.rocchio
    if fb.enabled and fb.beta > 0 and applies(c, params):
        c = moved(c, qv, stored, params, fb, COS)
    fused, shown = fuse_candidates(c, params)
    return [(f.item, s) for f, s in zip(fused[:k], shown, strict=False)]


@pytest.mark.parametrize("beside", ["on", "off"])
def test_search_gives_the_reference_answers_on_real_pages(
    pages: akindb.Collection, beside: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real model on real pages, three feedback settings, the keyword side beside the
    embedding or after it: the same chunks in the same order with the same scores as the
    reference (the collection is flat and cosine: the fast path)."""
    monkeypatch.setattr(keyword_side, "mode", beside)
    db_conn, db_file = pages.parts.store.conn, pages.parts.db_file
    with pages.parts.lock:
        before = load_settings(db_conn, pages.config.id)
    queries = [q for q, _ in QUESTIONS] + [p.split("/")[1].split(".rst")[0] + " module"
                                           for p in PAGES]
    ran_feedback = 0
    try:
        for fb in (RetrievalSettings().rocchio, RocchioParams(True, 0.4, 5),
                   RocchioParams(enabled=False)):
            save_settings(db_conn, db_file, pages.config.id,
                          updated(RetrievalSettings(), rocchio=fb))
            for q in queries:
                with stages.recording() as rec:
                    hits = pages.search(q, k=10, mode="hybrid")
                ran_feedback += "feedback" in rec
                assert [(h.chunk_id, h.score) for h in hits] == _reference(pages, q, 10), q
    finally:
        save_settings(db_conn, db_file, pages.config.id, before)
    assert ran_feedback > 5  # the rounds ran for real, not only the gate-shut path


class _WritingEmbedder(HashEmbedder):
    """Injected fault: while the query is embedded, another connection commits a document that
    matches the query's words (after the early keyword side has been read)."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path
        self.armed = False

    def embed_batch(self, texts: Sequence[str]) -> FloatMatrix:
        out = super().embed_batch(texts)
        if self.armed:
            self.armed = False
            time.sleep(0.3)  # the keyword side, run beside this call, is read by now
            other = akindb.open(self.path)
            other.get_collection("w", model=HashEmbedder()).add(
                ["zebra zebra zebra quagga stripes"], ids=["late"])
            other.close()
        return out


def test_a_commit_during_the_embedding_is_seen_by_the_keyword_list(
    tmp_path, monkeypatch: pytest.MonkeyPatch  # type: ignore[no-untyped-def]
) -> None:
    monkeypatch.setattr(keyword_side, "mode", "on")  # beside the embedding, whatever the load
    emb = _WritingEmbedder(str(tmp_path / "db"))
    db = akindb.open(tmp_path / "db")
    col = db.create_collection("w", model=emb)
    col.add([f"plain text number {i} about nothing in particular" for i in range(30)])
    emb.armed = True
    hits = col.search("zebra quagga", k=5, mode="hybrid")
    late = [h for h in hits if h.id == "late"]
    assert late, [h.id for h in hits]
    expl = late[0].explanation
    assert expl is not None and expl.keyword_rank == 1  # found by BM25, in the main snapshot
    db.close()


@pytest.mark.parametrize("beside", ["on", "off"])
def test_a_deleted_row_is_never_returned_under_a_concurrent_writer(
    tmp_path, beside: str, monkeypatch: pytest.MonkeyPatch  # type: ignore[no-untyped-def]
) -> None:
    """A writer on its own connection upserts and deletes while a reader searches in hybrid
    mode (vectors from the index, the keyword side beside the embedding): no search that began
    after a delete was acknowledged returns that document, and every hit's text is one the
    document really had."""
    monkeypatch.setattr(keyword_side, "mode", beside)
    db = akindb.open(tmp_path / "db")
    col = db.create_collection("c", model=HashEmbedder())
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa"]
    col.add([f"{w} {w} common text" for w in words], ids=words)
    deleted: set[str] = set()
    texts = {w: {f"{w} {w} common text"} for w in words}
    lock = threading.Lock()
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            wdb = akindb.open(tmp_path / "db")
            wcol = wdb.get_collection("c", model=HashEmbedder())
            for r in range(40):
                w = words[r % len(words)]
                new = f"{w} common text round {r}"
                with lock:
                    texts[w].add(new)
                wcol.upsert([new], ids=[w])
                gone = f"tmp{r}"
                wcol.add([f"{words[r % 3]} common transient"], ids=[gone])
                wcol.delete([gone])
                with lock:
                    deleted.add(gone)
            wdb.close()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            stop.set()

    t = threading.Thread(target=writer)
    t.start()
    searches = 0
    while not stop.is_set() or searches < 20:
        with lock:
            gone_before = set(deleted)
        for q in ("alpha common", "beta transient", "gamma text round"):
            for h in col.search(q, k=10, mode="hybrid"):
                assert h.id not in gone_before, (q, h.id)
                if not h.id.startswith("tmp"):
                    with lock:
                        assert h.text in texts[h.id], (h.id, h.text)
            searches += 1
    t.join()
    assert not errors, errors
    db.close()


def test_a_forked_child_gets_its_own_embedding_pool() -> None:
    """The parent's pool threads do not exist in a forked child: a search there must not wait
    for them (it would hang for ever)."""
    keyword_side.beside_embedding(lambda: 1, lambda: 2)  # the parent's pool exists now
    pid = fork_check(lambda: keyword_side.beside_embedding(lambda: 3, lambda: 4) == (3, 4))
    expect_clean_exit(pid, "the forked child's search waited for the parent's pool")


def test_the_keyword_side_goes_beside_the_embedding_only_with_a_core_to_spare(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``mode`` "auto" follows the load average (injected here); "on" and "off" do not."""
    cores = os.cpu_count() or 1
    for load, want in ((0.0, True), (cores - 0.4, False), (cores * 4.0, False)):
        monkeypatch.setattr(keyword_side.os, "getloadavg", lambda v=load: (v, v, v))
        monkeypatch.setattr(keyword_side, "_load_seen", [-1e9, 0.0])
        for mode, expect in (("auto", want), ("on", True), ("off", False)):
            monkeypatch.setattr(keyword_side, "mode", mode)
            assert keyword_side.beside() is expect, (load, mode)
