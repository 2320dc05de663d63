"""RM3 keyword feedback (issue 17, part 3): the query grows by its top passages' words, a
per-collection setting, safe FTS5 queries, exact weighted scores, explain that adds up."""

from __future__ import annotations

import doctest
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

import akindb
from akindb import errors
from akindb.cli.main import app
from akindb.retrieval import rm3 as rm3_mod
from akindb.retrieval.rm3 import Rm3Params
from akindb.retrieval.settings import RetrievalSettings, load_settings, save_settings, updated
from tests.conftest import HashEmbedder

runner = CliRunner()
DOCS = {
    # "espresso" passages all talk about "crema"; one passage says only "crema".
    "a": "Espresso is brewed under pressure; a good espresso has a thick crema.",
    "b": "Pull the espresso shot for 25 seconds until the crema turns tiger striped.",
    "c": "Crema forms when carbon dioxide emulsifies coffee oils into tiny bubbles.",
    "d": "Green tea should steep for three minutes in water below boiling.",
    "e": 'Odd text: NEAR(crema espresso) "quoted" -minus* OR AND NOT ^caret col:umn',
}


@pytest.fixture
def col(tmp_db: akindb.Database) -> akindb.Collection:
    c = tmp_db.create_collection("r", model=HashEmbedder())
    c.add(list(DOCS.values()), ids=list(DOCS), metadatas=[{"n": i} for i in range(len(DOCS))])
    return c


def _set(tmp_db: akindb.Database, col: akindb.Collection, p: Rm3Params) -> None:
    s = load_settings(tmp_db.conn, col.config.id)
    save_settings(tmp_db.conn, tmp_db.file, col.config.id, updated(s, rm3=p))


def test_doctests() -> None:
    assert doctest.testmod(rm3_mod).failed == 0


def test_off_by_default_and_stored_with_the_collection(tmp_db: akindb.Database,
                                                       col: akindb.Collection) -> None:
    s = load_settings(tmp_db.conn, col.config.id)
    assert s.rm3 == Rm3Params() and not s.rm3.enabled
    assert RetrievalSettings.from_dict({"fusion": None}).rm3 == Rm3Params()  # rows from before
    _set(tmp_db, col, Rm3Params(True, 3, 5, 0.6))
    again = akindb.open(tmp_db.path, create=False)
    assert load_settings(again.conn, col.config.id).rm3 == Rm3Params(True, 3, 5, 0.6)
    again.close()
    with pytest.raises(errors.InvalidArgumentError, match="original_weight"):
        Rm3Params(True, original_weight=1.5)
    with pytest.raises(errors.InvalidArgumentError, match="docs and terms"):
        Rm3Params(True, docs=0)
    with pytest.raises(errors.InvalidArgumentError, match="unknown RM3 settings"):
        Rm3Params.from_dict({"enabled": True, "fb": 3})


def test_expansion_finds_a_passage_without_the_query_words(tmp_db: akindb.Database,
                                                           col: akindb.Collection) -> None:
    plain = [h.id for h in col.search("espresso", k=5, mode="keyword")]
    assert "c" not in plain  # "c" never says espresso
    _set(tmp_db, col, Rm3Params(True, docs=2, terms=5, original_weight=0.5))
    hits = col.search("espresso", k=5, mode="keyword", explain=True)
    ids = [h.id for h in hits]
    assert "c" in ids and "d" not in ids  # reached through "crema"; tea never
    assert ids.index("a") < ids.index("c") and ids.index("b") < ids.index("c")
    for h in hits:  # explain's per-term parts add up to the (weighted) keyword score
        e = h.explain()
        assert math.isclose(sum(e.matched_terms.values()), h.score, rel_tol=1e-9)
        assert "crema" in e.query_terms and "espresso" in e.query_terms
    # hybrid mode uses the expanded list too, with its score still in [0, 1]
    hy = col.search("espresso", k=5, mode="hybrid")
    assert all(0.0 <= h.score <= 1.0 for h in hy)


def test_original_weight_one_is_plain_bm25(tmp_db: akindb.Database,
                                           col: akindb.Collection) -> None:
    plain = [(h.id, h.score) for h in col.search("espresso crema", k=5, mode="keyword")]
    _set(tmp_db, col, Rm3Params(True, original_weight=1.0))
    same = [(h.id, h.score) for h in col.search("espresso crema", k=5, mode="keyword")]
    assert same == plain


def test_operators_in_feedback_passages_stay_words(tmp_db: akindb.Database,
                                                   col: akindb.Collection) -> None:
    # Passage "e" is full of FTS5 syntax; as feedback its words become quoted terms.
    _set(tmp_db, col, Rm3Params(True, docs=5, terms=20, original_weight=0.3))
    for q in ("near quoted minus caret", 'NEAR(" OR *', "col:umn AND crema"):
        hits = col.search(q, k=5, mode="keyword")
        assert all(isinstance(h.score, float) for h in hits)
    assert col.search("caret", k=1, mode="keyword")[0].id == "e"


def test_where_filter_holds_for_the_expanded_pass(tmp_db: akindb.Database,
                                                  col: akindb.Collection) -> None:
    _set(tmp_db, col, Rm3Params(True, docs=2, terms=5))
    hits = col.search("espresso", k=5, mode="keyword", where={"n": {"$in": [1, 2]}})
    assert {h.id for h in hits} <= {"b", "c"}
    assert "c" in {h.id for h in hits}


def test_feedback_terms_weigh_passages_by_score() -> None:
    stops = frozenset({"the"})
    t = rm3_mod.feedback_terms(["alpha alpha", "beta"], [3.0, 1.0], 2, stops)
    assert t["alpha"] == pytest.approx(0.75) and t["beta"] == pytest.approx(0.25)
    # numbers, one-letter words and stop words are never expansion words
    assert rm3_mod.feedback_terms(["the 2024 x"], [1.0], 5, stops) == {}


def test_cli_feedback_command(tmp_db: akindb.Database, col: akindb.Collection) -> None:
    base = ["--db", str(tmp_db.path), "-c", "r"]
    r = runner.invoke(app, ["feedback", *base])
    assert r.exit_code == 0 and "rm3 off" in r.output
    r = runner.invoke(app, ["feedback", "--rm3", "--docs", "4", "--original-weight", "0.7",
                            *base])
    assert r.exit_code == 0, r.output
    assert "rm3 on: 4 passages, 10 words, original weight 0.7" in r.output
    assert load_settings(tmp_db.conn, col.config.id).rm3 == Rm3Params(True, 4, 10, 0.7)
    r = runner.invoke(app, ["feedback", "--original-weight", "2", *base])
    assert r.exit_code != 0


def test_hybrid_skips_expansion_when_the_gate_shuts_keywords_out(
        tmp_db: akindb.Database, col: akindb.Collection) -> None:
    from akindb.retrieval import keyword as kw
    from akindb.retrieval.settings import DEFAULT_FUSION

    conn = tmp_db.conn
    weak = "tea quasar nebula galaxy pulsar"  # one common word matches, four are nowhere
    strong = "espresso crema"
    for q, closed in ((weak, True), (strong, False)):
        terms = load_settings(conn, col.config.id).analyzer.query_terms(q)
        first = {h.chunk_id: h.score for h in kw.bm25_search(conn, col.config.id, terms, 10)}
        assert rm3_mod.gate_closed(conn, terms, first, DEFAULT_FUSION) is closed
    before = [(h.id, h.score) for h in col.search(weak, k=5, mode="hybrid")]
    c_plain = {h.id: h.explain().bm25_score
               for h in col.search(strong, k=5, mode="hybrid", explain=True)}["c"]
    _set(tmp_db, col, Rm3Params(True, docs=2, terms=5, original_weight=0.7))
    assert [(h.id, h.score) for h in col.search(weak, k=5, mode="hybrid")] == before
    hits = col.search(strong, k=5, mode="hybrid", explain=True)
    c = next(h for h in hits if h.id == "c")  # the gate is open: "c" has its expanded BM25
    assert c_plain is not None and c.explain().bm25_score != pytest.approx(c_plain)
    assert "crema" in c.explain().matched_terms and len(c.explain().query_terms) > 2


def test_tune_hybrid_scores_the_pipeline_search_runs(tmp_db: akindb.Database,
                                                    col: akindb.Collection,
                                                    tmp_path: Path) -> None:
    # With RM3 on, tune-hybrid must fuse the expanded keyword list, as search does.
    from akindb.eval.tuning import tune_collection

    queries = {"q1": "espresso"}
    qrels = {"q1": {"c": 1}}  # only reachable by keywords through the expansion ("crema")
    plain = tune_collection(col, queries, qrels, save=False)
    assert plain["keyword"] == 0.0
    _set(tmp_db, col, Rm3Params(True, docs=2, terms=5))
    assert tune_collection(col, queries, qrels, save=False)["keyword"] > 0.0
