"""Explain, RAG context, more-like-this and re-ranking, with a deterministic fake embedder."""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

import akindb
from akindb import errors
from akindb.models.base import FloatMatrix
from akindb.retrieval.context import RagContext
from akindb.retrieval.rerank import MMR, CrossEncoderReranker, Reranker, parse_reranker
from akindb.text.chunking import ChunkingParams
from akindb.types import FusionExplanation
from tests.conftest import HashEmbedder


class CountingEmbedder(HashEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def embed_batch(self, texts: Sequence[str]) -> FloatMatrix:
        self.calls += 1
        return super().embed_batch(texts)


PARAS = [
    "Sourdough starters need rye flour and water every day.",
    "Bread dough rises faster in a warm kitchen with more yeast.",
    "Baking stones hold heat and give the loaf a crisp crust.",
    "Tea leaves should steep three minutes in hot water.",
    "Coffee beans are roasted until they crack twice.",
]


@pytest.fixture
def emb() -> CountingEmbedder:
    return CountingEmbedder()


@pytest.fixture
def col(tmp_db: akindb.Database, emb: CountingEmbedder) -> akindb.Collection:
    c = tmp_db.create_collection("x", model=emb)
    c.add(
        [
            "Sourdough starters need rye flour and water every day.",
            "Sourdough starters need rye flour and water every day!",  # near-duplicate
            "Knitting a scarf takes wool, needles and patience.",
        ],
        ids=["a", "a-copy", "knit"],
        sources=["a.txt", "a-copy.txt", "knit.txt"],
    )
    return c


def test_explain_parts_add_up(col: akindb.Collection) -> None:
    hits = col.search("rye flour starters", k=3, mode="hybrid", explain=True)
    for h in hits:
        e = h.explain()
        assert isinstance(e.fusion, FusionExplanation)
        assert sum(e.fusion.parts.values()) == pytest.approx(h.score)
        if e.bm25_score is not None:
            assert sum(e.matched_terms.values()) == pytest.approx(e.bm25_score)
            assert set(e.matched_terms) <= {"rye", "flour", "starters"}
        assert e.token_importance is not None
        assert [t for t, _ in e.token_importance] == ["rye", "flour", "starters"]
    text = str(hits[0].explain())
    assert "fusion convex" in text and "tokens that mattered" in text and "bm25" in text
    json.loads(hits[0].explain().to_json())
    assert "explanation" not in hits[0].to_dict()  # to_dict keeps its keys


def test_fusion_explanation_is_typed_and_its_json_unchanged(col: akindb.Collection) -> None:
    """``Explanation.fusion`` is a ``FusionExplanation`` in hybrid mode and ``None`` in the
    others; the JSON keeps the dict it replaced (``{}`` outside hybrid), so the HTTP API, the
    CLI's ``--json`` and the client read the same bytes; old dict reads keep working."""
    from akindb.wire.decode import explanation

    hyb = col.search("rye flour starters", k=2, mode="hybrid")[0].explain()
    vec = col.search("rye flour starters", k=2, mode="vector")[0].explain()
    assert vec.fusion is None and vec.to_dict()["fusion"] == {}
    assert "fusion" not in " ".join(vec.lines())
    f = hyb.fusion
    assert isinstance(f, FusionExplanation)
    d = hyb.to_dict()["fusion"]
    assert list(d) == ["method", "raw_score", "rrf_k", "ranks", "raw", "parts", "weights",
                       "keyword_strength", "formula"]
    assert d["method"] == f.method == "convex" and d["parts"] == f.parts
    assert f["raw_score"] == f.raw_score and f.get("nope", 1) == 1
    with pytest.raises(KeyError):
        f["nope"]
    back = explanation(json.loads(hyb.to_json()))  # what the HTTP client rebuilds
    assert back == hyb and back is not None and back.fusion == f
    assert explanation(json.loads(vec.to_json())) == vec
    with pytest.raises(dataclasses.FrozenInstanceError):
        f.method = "rrf"  # type: ignore[misc]


def test_token_importance_is_one_model_call(
    col: akindb.Collection, emb: CountingEmbedder
) -> None:
    emb.calls = 0
    hits = col.search("knitting wool scarf needles patience", k=3, mode="hybrid", explain=True)
    assert emb.calls == 1  # the query and its 5 occluded variants in one batch
    top = hits[0].explain().token_importance
    assert top is not None and len(top) == 5
    emb.calls = 0
    col.search("wool", k=3, mode="keyword", explain=True)  # one-word query
    assert emb.calls == 1


def test_vector_mode_explain_and_filter(col: akindb.Collection) -> None:
    hits = col.search("knitting wool", k=2, mode="vector", where={"source": {"$ne": "x"}})
    e = hits[0].explain()
    assert e.mode == "vector" and e.dense_rank == 1 and e.dense_score == hits[0].score
    assert "vector" in str(e)


def _long_doc() -> str:
    return "\n\n".join(p * 3 for p in PARAS)


@pytest.fixture
def chunked(tmp_db: akindb.Database) -> akindb.Collection:
    c = tmp_db.create_collection(
        "long", model=HashEmbedder(), chunking=ChunkingParams(max_tokens=30, overlap_tokens=0)
    )
    c.add([_long_doc()], ids=["doc"], sources=["bake.txt"])
    c.add(["Rye flour and sourdough starters, again and again."], ids=["short"])
    return c


def test_context_merges_neighbours_and_cites(chunked: akindb.Collection) -> None:
    assert chunked.count_chunks() > 4
    ctx = chunked.context("sourdough rye flour bread dough yeast", max_tokens=400, k=10)
    assert isinstance(ctx, RagContext) and not ctx.truncated and ctx.tokens <= 400
    doc = chunked.get("doc")[0].text
    for p in ctx.passages:
        rec = chunked.get(p.doc_id)[0].text
        assert rec[p.start : p.end] == p.text and p.header in ctx.text
    assert any(len(p.chunks) > 1 for p in ctx.passages)  # adjacent chunks merged
    assert ctx.stats["merged_chunks"] >= 1
    assert ctx.citations[0]["source"] in ("bake.txt", None) and doc
    d = json.loads(ctx.to_json())
    assert d["citations"] and d["passages"][0]["text"]


def test_context_dedups_near_duplicates(col: akindb.Collection) -> None:
    ctx = col.context("rye flour sourdough", max_tokens=500, k=3)
    ids = [p.doc_id for p in ctx.passages]
    assert not ({"a", "a-copy"} <= set(ids)) and ctx.stats["duplicates_removed"] == 1
    loose = col.context("rye flour sourdough", max_tokens=500, k=3, dedup_threshold=1.0)
    assert {"a", "a-copy"} <= {p.doc_id for p in loose.passages}


@pytest.mark.parametrize("budget", [1, 3, 12])
def test_context_budget_smaller_than_a_passage(chunked: akindb.Collection, budget: int) -> None:
    ctx = chunked.context("sourdough rye", max_tokens=budget, k=5)
    assert ctx.truncated and ctx.note and "smaller than the best passage" in ctx.note
    assert len(ctx.passages) == 1 and ctx.passages[0].cut and ctx.tokens <= budget
    p = ctx.passages[0]
    assert chunked.get(p.doc_id)[0].text[p.start : p.end] == p.text


def test_context_bad_input(chunked: akindb.Collection) -> None:
    with pytest.raises(errors.InvalidArgumentError):
        chunked.context("rye", max_tokens=0)
    with pytest.raises(errors.EmptyTextError):
        chunked.context("  ")
    ctx = chunked.context("rye", max_tokens=50, count_tokens=lambda s: len(s.split()))
    assert ctx.tokens <= 50 and ctx.passages


def test_more_like(col: akindb.Collection, emb: CountingEmbedder) -> None:
    emb.calls = 0
    hits = col.more_like("a", k=2)
    assert emb.calls == 0  # stored vectors, no re-embedding
    assert hits[0].id == "a-copy" and all(h.id != "a" for h in hits)
    assert col.more_like(text="wool needles", k=1)[0].id == "knit"
    with pytest.raises(errors.DocumentNotFoundError, match="no document 'nope'"):
        col.more_like("nope")
    with pytest.raises(errors.InvalidArgumentError):
        col.more_like()
    with pytest.raises(errors.InvalidArgumentError):
        col.more_like("a", text="x")
    with pytest.raises(errors.EmptyTextError):
        col.more_like(text=" ")


def test_mmr_pushes_duplicates_down(col: akindb.Collection) -> None:
    assert isinstance(MMR(), Reranker)
    plain = col.search("rye flour sourdough water", k=3, mode="vector")
    assert {plain[0].id, plain[1].id} == {"a", "a-copy"}
    div = col.search("rye flour sourdough water", k=3, mode="vector", rerank=MMR(0.3))
    assert div[1].id == "knit" and div[0].explain().reranker is not None
    same = col.search("rye flour sourdough water", k=3, mode="vector", rerank=MMR(1.0))
    assert [h.id for h in same] == [h.id for h in plain]
    with pytest.raises(errors.InvalidArgumentError):
        MMR(1.5)


def test_mmr_math() -> None:
    v = np.array([[1, 0], [1, 0.01], [0.6, 0.8]], np.float32)
    order = MMR(0.3).rerank("q", np.array([1, 0], np.float32), [], v, 3)
    assert [i for i, _ in order] == [0, 2, 1]


def test_cross_encoder_missing_folder() -> None:
    with pytest.raises(errors.ModelNotFoundError, match="no cross-encoder folder"):
        CrossEncoderReranker("/nonexistent/cross-encoder")


def test_cross_encoder_missing_extra_names_it(
    col: akindb.Collection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)  # import fails
    ce = CrossEncoderReranker(tmp_path)
    with pytest.raises(errors.MissingExtraError, match=r"pip install 'akindb\[rerank\]'"):
        col.search("rye flour", k=1, rerank=ce)


def test_parse_reranker() -> None:
    r = parse_reranker(" MMR ", mmr_lambda=0.4, pool=7)
    assert isinstance(r, MMR) and r.lambda_ == 0.4 and r.pool == 7
    with pytest.raises(errors.ModelNotFoundError):
        parse_reranker("cross-encoder:/nonexistent/ce")
    for bad in ("bm25", "cross-encoder:", "mmr:x", ""):
        with pytest.raises(errors.InvalidArgumentError, match="unknown reranker"):
            parse_reranker(bad)
    with pytest.raises(errors.InvalidArgumentError, match="pool"):
        MMR(pool=0)


@pytest.mark.parametrize("budget", [40, 60, 80])
def test_context_small_budget_keeps_the_top_hit_first(
    chunked: akindb.Collection, budget: int
) -> None:
    """Issue 12.10: the top hit's merged neighbours exceed the budget; before the fix the top
    hit was skipped and only a lower-ranked short document was given."""
    q = "sourdough rye flour bread dough yeast"
    top = chunked.search(q, k=5)[0]
    whole = chunked.context(q, max_tokens=1000, k=5)
    assert len(whole.passages[0].chunks) > 1 and whole.tokens > budget  # merged run too long
    ctx = chunked.context(q, max_tokens=budget, k=5)
    first = ctx.passages[0]
    assert (first.doc_id, ctx.tokens <= budget) == (top.id, True)
    assert top.chunk in first.chunks and first.start <= top.start and top.end <= first.end
    assert not first.cut and ctx.note and "adjacent chunks" in ctx.note
    assert chunked.get(first.doc_id)[0].text[first.start : first.end] == first.text
