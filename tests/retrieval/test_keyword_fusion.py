"""Keyword (FTS5 BM25) search, fusion and hybrid search with a deterministic fake embedder:
user text never becomes FTS5 syntax or SQL, and the modes and their scores behave as documented."""

from __future__ import annotations

import doctest

import pytest

import akindb
from akindb import errors
from akindb.retrieval import explain as explain_mod
from akindb.retrieval import fusion
from akindb.retrieval import keyword as kw
from akindb.retrieval import rerank as rerank_mod
from akindb.retrieval import search as search_mod
from akindb.retrieval.fusion import (
    FusionMethod,
    FusionParams,
    effective_weights,
    keyword_gate,
    normalise,
    rrf,
    weighted,
)
from tests.conftest import HashEmbedder

DOCS = {
    "bot": "Setting up agent parameters: the bot reads its configuration file at start.",
    "err": "Error code E1234 means the disk quota was exceeded; free some space.",
    "tea": "Green tea should steep for three minutes in water below boiling.",
    "near": "The NEAR operator finds words close to each other in a document.",
    "star": "Wildcards like * and prefixes such as foo* match many terms.",
}


@pytest.fixture
def col(tmp_db: akindb.Database) -> akindb.Collection:
    c = tmp_db.create_collection("kw", model=HashEmbedder())
    c.add(list(DOCS.values()), ids=list(DOCS), metadatas=[{"n": i} for i in range(len(DOCS))])
    return c


HOSTILE = [
    '"unbalanced quote',
    'say "hello" NEAR(tea water, 2)',
    "tea*",
    "-tea",
    "tea AND NOT water OR",
    "^tea : text : bot",
    "(((",
    "'); DROP TABLE chunks; --",
    "chunks_fts MATCH '*'",
    "col:tea {a b} [c]",
    "🙂 naïve café",
    "x" * 5000,
]


@pytest.mark.parametrize("query", HOSTILE, ids=range(len(HOSTILE)))
@pytest.mark.parametrize("mode", ["keyword", "hybrid"])
def test_hostile_text_is_never_syntax(col: akindb.Collection, query: str, mode: str) -> None:
    hits = col.search(query, k=5, mode=mode)  # type: ignore[arg-type]
    assert isinstance(hits, list)
    assert col.count() == len(DOCS)  # nothing dropped or changed


def test_operators_are_plain_words(col: akindb.Collection) -> None:
    # NEAR is looked up as a word (the doc that contains it wins), not used as an operator.
    assert col.search("NEAR", k=1, mode="keyword")[0].id == "near"
    # "-tea" does not exclude tea, "tea*" is not a prefix query: both find the tea doc.
    assert col.search("-tea", k=1, mode="keyword")[0].id == "tea"
    assert col.search("E1234", k=1, mode="keyword")[0].id == "err"


def test_stemming_and_stop_words(col: akindb.Collection) -> None:
    assert col.search("steeping", k=1, mode="keyword")[0].id == "tea"  # porter stemmer
    assert kw.query_terms("the of and") == ["the", "of", "and"]  # only stop-words: kept
    assert col.search("the of and", k=5, mode="keyword")  # and they still match
    assert kw.query_terms("what is the tea") == ["what", "tea"]


@pytest.mark.parametrize("query", ["?!...", "*", "--", '""', "(*)"])
def test_punctuation_only(col: akindb.Collection, query: str) -> None:
    assert kw.query_terms(query) == []
    assert col.search(query, k=3, mode="keyword") == []
    hybrid = col.search(query, k=3, mode="hybrid")  # falls back to the vector list
    assert all(h.explain().bm25_score is None for h in hybrid)


def test_empty_query_and_bad_mode(col: akindb.Collection) -> None:
    with pytest.raises(errors.EmptyTextError):
        col.search("   ", mode="keyword")
    with pytest.raises(errors.InvalidArgumentError, match="unknown search mode"):
        col.search("tea", mode="bm25")  # type: ignore[arg-type]


def test_keyword_scores_filter_and_deletes(col: akindb.Collection) -> None:
    hits = col.search("tea water", k=5, mode="keyword")
    assert hits[0].id == "tea" and hits[0].score > 0 and hits[0].distance == -hits[0].score
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert col.search("tea", k=5, mode="keyword", where={"n": {"$ne": 2}}) == []
    assert col.search("tea", k=5, mode="keyword", min_score=1e9) == []
    col.delete(["tea"])
    assert all(h.id != "tea" for h in col.search("tea", k=5, mode="keyword"))
    col.upsert(["Oolong tea leaves"], ids=["tea2"])
    assert col.search("oolong", k=1, mode="keyword")[0].id == "tea2"


def test_keyword_is_per_collection(tmp_db: akindb.Database, col: akindb.Collection) -> None:
    other = tmp_db.create_collection("other", model=HashEmbedder())
    other.add(["tea from another collection"], ids=["x"])
    assert {h.id for h in col.search("tea", k=10, mode="keyword")} == {"tea"}
    assert [h.id for h in other.search("tea", k=10, mode="keyword")] == ["x"]


def test_hybrid_scores_and_distance(col: akindb.Collection) -> None:
    hits = col.search("bot configuration", k=3, mode="hybrid", fusion=FusionParams())
    assert hits[0].id == "bot"
    e = hits[0].explain()
    assert e.mode == "hybrid" and e.dense_rank == 1 and e.keyword_rank == 1
    # RRF k=60, rank 1 in both lists: raw 2/61, shown divided by its maximum 2/61.
    assert e.fusion["raw_score"] == pytest.approx(2 / 61) and hits[0].score == pytest.approx(1)
    assert hits[0].distance == pytest.approx(1 - e.dense_score)  # type: ignore[operator]
    assert e.fusion["parts"] == {"vector": pytest.approx(1 / 61), "keyword": pytest.approx(1 / 61)}
    vec = col.search("bot configuration", k=3, mode="vector")
    assert vec[0].score == pytest.approx(e.dense_score)
    assert col.search("bot configuration", k=3, mode="hybrid", fusion=FusionParams(),
                      max_distance=-1.0) == []


def test_fusion_params_and_weighted_mode(col: akindb.Collection) -> None:
    p = FusionParams(FusionMethod.WEIGHTED, vector_weight=0.5, keyword_weight=0.5, candidates=10)
    assert FusionParams.from_dict(p.to_dict()) == p
    hits = col.search("bot configuration", k=3, mode="hybrid", fusion=p)
    assert hits[0].id == "bot" and 0.0 <= hits[-1].score <= hits[0].score <= 1.0
    with pytest.raises(errors.InvalidArgumentError):
        FusionParams(vector_weight=0, keyword_weight=0)
    with pytest.raises(ValueError):
        FusionParams(method="sum")  # type: ignore[arg-type]


def test_rrf_and_weighted_arithmetic() -> None:
    out = rrf({"a": {1: 3.0, 2: 2.0}, "b": {2: 9.0}}, k=0)
    assert [(f.item, f.score) for f in out] == [(2, 1.5), (1, 1.0)]
    assert rrf({}, k=60) == []
    out = weighted({"a": {1: 1.0, 2: 0.0}, "b": {2: 5.0, 3: 5.0}}, weights={"a": 2, "b": 1})
    assert {f.item: f.score for f in out} == {1: 2.0, 2: 1.0, 3: 1.0}
    assert normalise({}) == {} and normalise({7: 3.0}) == {7: 1.0}


# --- keyword gate -------------------------------------------------------------------------------


def test_keyword_gate_and_params() -> None:
    assert [keyword_gate(s, 0.2, 0.3) for s in (0.0, 0.2, 0.25, 0.3, 0.99)] == pytest.approx(
        [0.0, 0.0, 0.5, 1.0, 1.0])
    assert keyword_gate(0.0, 0.0, 0.0) == 1.0  # 0, 0: off
    p = FusionParams(keyword_gate_low=0.1, keyword_gate_high=0.4)
    assert FusionParams.from_dict(p.to_dict()) == p
    assert effective_weights(p, 0.25) == {"vector": 1.0, "keyword": pytest.approx(0.5)}
    assert effective_weights(p, None) == {"vector": 1.0, "keyword": 1.0}
    # Without a vector list to lean on, the gate never silences the keyword list.
    assert effective_weights(FusionParams(vector_weight=0), 0.0)["keyword"] == 1.0
    assert not FusionParams(keyword_gate_low=0, keyword_gate_high=0).gated
    with pytest.raises(errors.InvalidArgumentError, match="keyword gate"):
        FusionParams(keyword_gate_low=0.5, keyword_gate_high=0.2)


def test_match_strength_on_fts5(col: akindb.Collection) -> None:
    conn = col.parts.store.conn
    assert kw.fts_row_count(conn) == len(DOCS)
    assert kw.doc_freqs(conn, ["tea", "steeping", "zzz", "near"]) == [1, 1, 0, 1]
    hits = kw.bm25_search(conn, col.config.id, ["tea"], 5)
    s = kw.match_strength(hits[0].score, kw.doc_freqs(conn, ["tea"]), len(DOCS))
    assert 0.3 < s < 1.0  # one rare term, matched
    # The same match is weak once the query's other, rarer terms are missing from the collection.
    weak = kw.match_strength(hits[0].score, kw.doc_freqs(conn, ["tea", "zzz", "qqq"]), len(DOCS))
    assert weak < s / 2
    assert kw.match_strength(1.0, [], 10) == 0.0


def test_weak_keyword_match_leans_on_vectors(col: akindb.Collection) -> None:
    q = "tea zanzibar quixotic"  # "tea" matches; the rarer two are nowhere
    gated = col.search(q, k=5, mode="hybrid", explain=True, fusion=FusionParams())
    e = gated[0].explain()
    strength = e.fusion["keyword_strength"]
    assert strength is not None and strength < 0.2
    assert e.fusion["weights"]["keyword"] == 0.0
    assert all(h.explain().fusion["parts"]["keyword"] == 0.0 for h in gated)
    vec = col.search(q, k=5, mode="vector")
    assert [h.id for h in gated] == [h.id for h in vec]
    assert "keyword weight 0" in str(e)
    plain = col.search(q, k=5, mode="hybrid",
                       fusion=FusionParams(keyword_gate_low=0, keyword_gate_high=0))
    assert plain[0].explain().fusion["keyword_strength"] is None
    assert plain[[h.id for h in plain].index("tea")].explain().fusion["parts"]["keyword"] > 0


@pytest.mark.parametrize("module", [kw, fusion, search_mod, explain_mod, rerank_mod],
                         ids=lambda m: m.__name__)
def test_docstring_examples(module: object) -> None:
    result = doctest.testmod(module)  # type: ignore[arg-type]
    assert result.attempted > 0
    assert result.failed == 0
