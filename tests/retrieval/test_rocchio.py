"""Dense feedback in hybrid search (issue 17, part 3): the query vector moved towards its best
fused passages re-scores the candidates already found; a per-collection setting."""

from __future__ import annotations

import doctest
from dataclasses import replace

import numpy as np
import pytest
from typer.testing import CliRunner

import akindb
from akindb import errors
from akindb.cli.main import app
from akindb.retrieval import feedback as fb_mod
from akindb.retrieval.feedback import RocchioParams, rocchio
from akindb.retrieval.rm3 import Rm3Params
from akindb.retrieval.settings import (
    DEFAULT_ROCCHIO,
    RetrievalSettings,
    load_settings,
    save_settings,
    updated,
)
from tests.conftest import HashEmbedder

runner = CliRunner()
DOCS = {
    "a": "Espresso is brewed under pressure; a good espresso has a thick crema.",
    "b": "Pull the espresso shot for 25 seconds until the crema turns tiger striped.",
    "c": "Crema forms when carbon dioxide emulsifies oils into tiny bubbles.",
    "d": "Green tea should steep for three minutes in water below boiling.",
    "e": "Mountain bikes need wide tyres and strong brakes for steep trails.",
}


@pytest.fixture
def col(tmp_db: akindb.Database) -> akindb.Collection:
    c = tmp_db.create_collection("r", model=HashEmbedder())
    c.add(list(DOCS.values()), ids=list(DOCS))
    return c


def _set(tmp_db: akindb.Database, col: akindb.Collection, p: RocchioParams) -> None:
    s = load_settings(tmp_db.conn, col.config.id)
    save_settings(tmp_db.conn, tmp_db.file, col.config.id, updated(s, rocchio=p))


def test_doctests() -> None:
    assert doctest.testmod(fb_mod).failed == 0


def test_recorded_with_the_collection_and_off_in_rows_from_before(
        tmp_db: akindb.Database, col: akindb.Collection) -> None:
    assert load_settings(tmp_db.conn, col.config.id).rocchio == DEFAULT_ROCCHIO
    # a row written before dense feedback existed reads it as off
    old = {"fusion": None, "rm3": Rm3Params().to_dict()}
    assert not RetrievalSettings.from_dict(old).rocchio.enabled
    _set(tmp_db, col, RocchioParams(True, 0.4, 2))
    again = akindb.open(tmp_db.path, create=False)
    assert load_settings(again.conn, col.config.id).rocchio == RocchioParams(True, 0.4, 2)
    again.close()
    with pytest.raises(errors.InvalidArgumentError, match="beta"):
        RocchioParams(True, beta=1.5)
    with pytest.raises(errors.InvalidArgumentError, match="docs"):
        RocchioParams(True, docs=0)
    with pytest.raises(errors.InvalidArgumentError, match="unknown Rocchio settings"):
        RocchioParams.from_dict({"enabled": True, "m": 3})


def test_dense_scores_are_the_moved_querys(tmp_db: akindb.Database,
                                          col: akindb.Collection) -> None:
    _set(tmp_db, col, RocchioParams(enabled=False))
    q = "espresso shot"
    first = col.search(q, k=5, mode="hybrid")
    _set(tmp_db, col, RocchioParams(True, beta=0.5, docs=2))
    hits = col.search(q, k=5, mode="hybrid", explain=True)
    emb = HashEmbedder()
    qv = emb.embed([q], role="query")[0]
    vecs = {d: emb.embed([t])[0] for d, t in DOCS.items()}
    moved = rocchio(qv, [vecs[h.id] for h in first[:2]], 0.5)
    for h in hits:  # ranked by the cosine with the moved query (fusion.raw) ...
        e = h.explain()
        assert e.fusion is not None
        assert e.fusion["raw"]["vector"] == pytest.approx(float(vecs[h.id] @ moved), abs=1e-5)
        # ... while its dense score and distance stay the query's own (what vector mode says)
        assert e.dense_score == pytest.approx(float(vecs[h.id] @ qv), abs=1e-5)
        assert h.distance == pytest.approx(1 - float(vecs[h.id] @ qv), abs=1e-5)
        assert 0.0 <= h.score <= 1.0


def test_feedback_reaches_a_passage_without_the_query_words(
        tmp_db: akindb.Database, col: akindb.Collection) -> None:
    _set(tmp_db, col, RocchioParams(enabled=False))
    plain = {h.id: h.explain().fusion["raw"].get("vector")  # type: ignore[index]
             for h in col.search("espresso", k=5, mode="hybrid", explain=True)}
    assert (plain.get("c") or 0.0) == pytest.approx(0.0, abs=1e-6)  # no shared word
    _set(tmp_db, col, RocchioParams(True, beta=0.5, docs=2))
    hits = col.search("espresso", k=5, mode="hybrid", explain=True)
    ids = [h.id for h in hits]
    dense = {h.id: h.explain().fusion["raw"]["vector"] for h in hits}  # type: ignore[index]
    assert dense["c"] > 0.05  # "crema", shared with the top passages, pulls it in
    assert ids.index("c") < ids.index("d") and ids.index("c") < ids.index("e")


def test_beta_zero_changes_nothing(tmp_db: akindb.Database, col: akindb.Collection) -> None:
    _set(tmp_db, col, RocchioParams(enabled=False))
    plain = [(h.id, h.score) for h in col.search("espresso crema", k=5, mode="hybrid")]
    _set(tmp_db, col, RocchioParams(True, beta=0.0, docs=3))
    assert [(h.id, h.score) for h in col.search("espresso crema", k=5,
                                                mode="hybrid")] == plain


def test_rescored_keeps_a_candidate_without_a_vector() -> None:
    from akindb.retrieval.hybrid import Candidates

    c = Candidates({1: 0.9}, {2: 3.0}, {1: 0.9, 2: 0.2})
    vs = {1: np.array([1.0, 0.0], np.float32)}
    out = fb_mod.rescored(c, np.array([0.0, 1.0], np.float32), [1], vs, 0.5,
                          lambda q, m: (m @ q).astype(np.float32))
    assert out.dense[2] == pytest.approx(0.2) and out.dense[1] == pytest.approx(0.7071, 1e-3)


def test_cli_feedback_command_sets_rocchio(tmp_db: akindb.Database,
                                           col: akindb.Collection) -> None:
    base = ["--db", str(tmp_db.path), "-c", "r"]
    r = runner.invoke(app, ["feedback", "--no-rocchio", *base])
    assert r.exit_code == 0 and "rocchio off" in r.output
    r = runner.invoke(app, ["feedback", "--rocchio", "--beta", "0.4", "--rocchio-docs", "3",
                            *base])
    assert r.exit_code == 0, r.output
    assert "rocchio on: 3 passages, beta 0.4" in r.output
    # the options not given (rounds, relative cut) keep the collection's values
    assert load_settings(tmp_db.conn, col.config.id).rocchio == replace(
        DEFAULT_ROCCHIO, beta=0.4, docs=3)
    assert load_settings(tmp_db.conn, col.config.id).rm3 == Rm3Params()  # untouched
    r = runner.invoke(app, ["feedback", "--beta", "2", *base])
    assert r.exit_code != 0


def test_tuning_fuses_as_search_does(tmp_db: akindb.Database, col: akindb.Collection) -> None:
    # tune-hybrid must score the pipeline search runs: feedback included when it is on.
    from akindb.eval.tuning import collect

    fb = RocchioParams(True, beta=0.5, docs=2)
    _set(tmp_db, col, fb)
    fusion = load_settings(tmp_db.conn, col.config.id).fusion
    moved_any = False
    for q in ("espresso", "espresso shot", "green tea water", "crema bubbles"):
        t = collect(col, {"q": q}, {"q": {"a": 1}}, feedback=fb)
        hits = col.search(q, k=5, mode="hybrid")
        assert [h.chunk_id for h in hits] == t.fused("q", fusion)[: len(hits)]
        plain = collect(col, {"q": q}, {"q": {"a": 1}})
        moved_any |= plain.fused("q", fusion) != t.fused("q", fusion)
    assert moved_any  # feedback changed some ranking, and tuning saw it


def test_top_items_is_the_fused_rankings_head() -> None:
    # The cheap first ranking feedback reads must be fuse_candidates' own, ties included.
    from akindb.retrieval.fusion import FusionMethod, FusionParams
    from akindb.retrieval.hybrid import Candidates, fuse_candidates, top_items

    rng = np.random.default_rng(7)
    for trial in range(200):
        n = int(rng.integers(1, 30))
        coarse = trial % 2 == 0  # scores on a coarse grid: many exact ties

        def val(scale: float, coarse: bool = coarse) -> float:
            return float(rng.integers(0, 4) / 4 * scale if coarse else rng.random() * scale)
        vec = {i: val(1.0) for i in range(n) if rng.random() < 0.7}
        key = {i: val(8.0) for i in range(n) if rng.random() < 0.5 or i not in vec}
        dense = {**vec, **{i: val(1.0) for i in key if i not in vec}}
        c = Candidates(vec, key, dense, 10.0, float(rng.random()), bool(trial % 3))
        for p in (FusionParams(FusionMethod.CONVEX, vector_weight=0.4, keyword_weight=0.6,
                               keyword_gate_low=0.2, keyword_gate_high=0.3),
                  FusionParams(FusionMethod.RRF)):
            for m in (1, 3, 5, 40):
                want = [f.item for f in fuse_candidates(c, p)[0][:m]]
                assert top_items(c, p, m) == want, (trial, m, p.method)
