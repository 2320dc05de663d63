"""Scores users can read and a keyword analyzer that skips stop words (issue 12, items 5-7;
issue 17, parts 1-2): thresholds mean the same in every mode, explain() says what it did not
record, settings live with the collection, tune-hybrid fits fusion on a user's judgements."""

from __future__ import annotations

import doctest
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import akindb
from akindb import errors
from akindb.cli.main import app
from akindb.eval.judgements import load_judgements
from akindb.eval.tuning import tune_collection
from akindb.retrieval import analyzer as analyzer_mod
from akindb.retrieval import hybrid as hybrid_mod
from akindb.retrieval import settings as settings_mod
from akindb.retrieval.fusion import FusionMethod, FusionParams
from akindb.retrieval.hybrid import Candidates, convex
from akindb.retrieval.settings import (
    KeywordAnalyzer,
    RetrievalSettings,
    load_settings,
    save_settings,
    updated,
)
from tests.conftest import HashEmbedder

runner = CliRunner()
DOCS = {
    "bot": "What does the bot do? The bot reads its configuration file at start.",
    "tea": "Green tea should steep for three minutes in water below boiling.",
    "err": "Error code E1234 means the disk quota was exceeded; free some space.",
    "copy": "To copy a list, slice it: new = old[:]. Changing the copy leaves the original.",
}


@pytest.fixture
def col(tmp_db: akindb.Database) -> akindb.Collection:
    c = tmp_db.create_collection("q", model=HashEmbedder())
    c.add(list(DOCS.values()), ids=list(DOCS))
    return c


def test_stop_words_are_not_searched(col: akindb.Collection) -> None:
    # Issue 12, item 7: "does" was matched and scored (Lucene's 33 words keep it).
    hits = col.search("how does tea steep", k=4, mode="keyword", explain=True)
    assert hits[0].id == "tea"
    assert all("does" not in h.explain().matched_terms for h in hits)
    assert "does" not in hits[0].explain().query_terms
    assert [h.id for h in col.search("what does", k=4, mode="keyword")] == ["bot"]  # only stops


def test_analyzer_setting_lives_with_the_collection(tmp_db: akindb.Database,
                                                    col: akindb.Collection) -> None:
    s = load_settings(tmp_db.conn, col.config.id)
    assert s == RetrievalSettings()  # recorded at creation
    row = tmp_db.conn.execute("SELECT settings FROM collection_settings WHERE collection_id = ?",
                              (col.config.id,)).fetchone()
    assert json.loads(row[0])["analyzer"] == {"stop_words": "english", "stemmer": "porter"}
    save_settings(tmp_db.conn, tmp_db.file, col.config.id,
                  updated(s, analyzer=KeywordAnalyzer("lucene")))
    hits = col.search("how does tea steep", k=4, mode="keyword", explain=True)
    assert "does" in hits[0].explain().query_terms  # the next query reads the new setting
    again = akindb.open(tmp_db.path, create=False)
    assert load_settings(again.conn, col.config.id).analyzer.stop_words == "lucene"
    again.close()
    with pytest.raises(errors.InvalidArgumentError, match="english, lucene, none"):
        KeywordAnalyzer("french")
    tmp_db.drop_collection("q")
    assert tmp_db.conn.execute("SELECT count(*) FROM collection_settings").fetchone()[0] == 0


def test_collection_without_a_settings_row_reads_the_defaults(tmp_db: akindb.Database,
                                                              col: akindb.Collection) -> None:
    # A database made before migration 3 has no row for its collections.
    tmp_db.conn.execute("DELETE FROM collection_settings")
    assert load_settings(tmp_db.conn, col.config.id) == RetrievalSettings()
    assert col.search("tea", k=1)[0].id == "tea"


def test_min_score_means_the_same_in_hybrid_mode(col: akindb.Collection) -> None:
    # Issue 12, item 5: RRF scores are <= 0.033, so min_score=0.3 returned nothing in hybrid.
    q = "green tea steep water"
    vec = col.search(q, k=4, mode="vector", min_score=0.3)
    hyb = col.search(q, k=4, mode="hybrid", min_score=0.3)
    assert vec and vec[0].id == "tea"
    assert hyb and hyb[0].id == "tea"
    for h in col.search(q, k=4, mode="hybrid"):
        e = h.explain()
        assert 0.0 <= h.score <= 1.0
        assert e.fusion is not None
        assert e.fusion.raw_score == pytest.approx(h.score)  # convex: shown as computed
        assert sum(e.fusion.parts.values()) == pytest.approx(h.score)
    rrf = col.search(q, k=4, mode="hybrid", fusion=FusionParams(), min_score=0.3)
    assert rrf and all(0.0 <= h.score <= 1.0 for h in rrf)  # RRF divided by its maximum


def test_max_distance_in_keyword_mode_names_min_score(col: akindb.Collection) -> None:
    # Issue 12, item 5: max_distance kept everything in keyword mode.
    with pytest.raises(errors.InvalidArgumentError, match="use min_score"):
        col.search("tea", k=2, mode="keyword", max_distance=0.5)


def test_explain_without_explain_flag_says_not_recorded(col: akindb.Collection) -> None:
    # Issue 12, item 6: it said "matched: -" although BM25 matched.
    h = col.search("tea steep", k=1, mode="hybrid")[0]
    text = str(h.explain())
    assert "matched: -" not in text and "not recorded" in text
    h2 = col.search("tea steep", k=1, mode="hybrid", explain=True)[0]
    assert set(h2.explain().matched_terms) == {"tea", "steep"}
    assert "not recorded" not in str(h2.explain())


def test_convex_is_the_cosine_when_the_keyword_gate_closes(col: akindb.Collection) -> None:
    p = FusionParams(FusionMethod.CONVEX, vector_weight=0.7, keyword_weight=0.3,
                     keyword_gate_low=0.99, keyword_gate_high=1.0)
    q = "tea zanzibar quixotic"  # a weak BM25 match: the gate closes
    hyb = col.search(q, k=3, mode="hybrid", fusion=p)
    vec = col.search(q, k=3, mode="vector")
    assert [h.id for h in hyb] == [h.id for h in vec]
    assert [h.score for h in hyb] == pytest.approx([h.score for h in vec])


def test_convex_arithmetic() -> None:
    c = Candidates({1: 0.8, 2: 0.2}, {2: 5.0}, {1: 0.8, 2: 0.2}, bm25_max=10.0)
    p = FusionParams(FusionMethod.CONVEX, vector_weight=0.5, keyword_weight=0.5,
                     keyword_gate_low=0, keyword_gate_high=0)
    out = {f.item: f.score for f in convex(c, p)}
    assert out == {1: pytest.approx(0.4), 2: pytest.approx(0.35)}
    c.bounded = False  # dot / l2: dense is min-max normalised over the candidates
    assert {f.item: f.score for f in convex(c, p)} == {1: pytest.approx(0.5),
                                                       2: pytest.approx(0.25)}


def _judgements(root: Path, rows: list[str]) -> Path:
    (root / "qrels").mkdir(parents=True)
    queries = {"q1": "green tea water", "q2": "bot configuration file", "q3": "disk quota error",
               "q4": "copy a list"}
    (root / "queries.jsonl").write_text(
        "".join(json.dumps({"_id": q, "text": t}) + "\n" for q, t in queries.items()))
    (root / "qrels" / "dev.tsv").write_text("query-id\tcorpus-id\tscore\n" + "\n".join(rows))
    return root


def test_tune_hybrid_fits_and_stores_the_fusion(tmp_db: akindb.Database, col: akindb.Collection,
                                                tmp_path: Path) -> None:
    """What ``akindb tune-hybrid`` runs (the CLI needs a real model; the fake one suffices)."""
    qdir = _judgements(tmp_path / "j", ["q1\ttea\t1", "q2\tbot\t1", "q3\terr\t1", "q4\tcopy\t1"])
    queries, qrels = load_judgements(qdir, "dev")
    out = tune_collection(col, queries, qrels, source={"qrels": str(qdir)})
    assert out["queries"] == 4 and out["saved"] is True
    assert out["chosen"]["ndcg@10"] >= out["vector"]
    stored = load_settings(tmp_db.conn, col.config.id)
    assert stored.fusion.to_dict() == out["chosen"]["fusion"]
    assert stored.tuned is not None and stored.tuned["queries"] == 4


def test_judgements_in_the_wrong_format_name_the_line(tmp_path: Path) -> None:
    qdir = _judgements(tmp_path / "j", ["q1\ttea\t1", "q2 bot 1"])
    with pytest.raises(errors.InvalidArgumentError, match=r"dev.tsv:3: expected 3 tab-separated"):
        load_judgements(qdir, "dev")
    with pytest.raises(errors.NotFoundError, match="splits there: dev"):
        load_judgements(qdir, "test")
    res = runner.invoke(app, ["tune-hybrid", "--qrels", str(qdir), "--db",
                              str(tmp_path / "nodb")])
    assert res.exit_code == 2 and "dev.tsv:3" in res.stderr  # before touching any database


def test_analyzer_command(tmp_db: akindb.Database, col: akindb.Collection) -> None:
    tmp_db.flush()
    base = ["analyzer", "--db", str(tmp_db.path), "-c", "q"]
    res = runner.invoke(app, [*base, "--stop-words", "none", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout) == {"stop_words": "none", "stemmer": "porter"}
    res = runner.invoke(app, [*base, "--stop-words", "klingon"])
    assert res.exit_code == 2 and "english, lucene, none" in res.stderr


@pytest.mark.parametrize("module", [analyzer_mod, hybrid_mod, settings_mod],
                         ids=lambda m: m.__name__)
def test_docstring_examples(module: object) -> None:
    assert doctest.testmod(module).failed == 0  # type: ignore[arg-type]


def test_no_keyword_match_leaves_the_cosine(col: akindb.Collection) -> None:
    p = FusionParams(FusionMethod.CONVEX, vector_weight=0.5, keyword_weight=0.5,
                     keyword_gate_low=0, keyword_gate_high=0)
    q = "zanzibar quixotic"  # no chunk has either word
    hyb = col.search(q, k=3, mode="hybrid", fusion=p)
    vec = col.search(q, k=3, mode="vector")
    assert [h.score for h in hyb] == pytest.approx([h.score for h in vec])
