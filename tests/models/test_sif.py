"""SIF sentence vectors over a trained word model, as an Embedder that backs a collection."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import akindb
from akindb.models import registry
from akindb.models.word2vec.sif import SIFEmbedder, sif_weights
from akindb.models.word2vec.vectors import WordVectors

from .conftest import lee_corpus_path


def _docs(n: int) -> list[str]:
    with open(lee_corpus_path(), encoding="utf-8") as fh:
        return [next(fh).strip() for _ in range(n)]


def test_weights_favour_rare_words(lee_wv: WordVectors) -> None:
    w = sif_weights(lee_wv.counts)
    assert w[lee_wv.index["the"]] < 0.05 < 0.5 < w[-1]


def test_vectors_are_unit_and_do_not_depend_on_the_batch(lee_model: Path) -> None:
    emb = SIFEmbedder.from_folder(lee_model)
    texts = ["The government announced new security measures.", "Fire crews fought the blaze."]
    both = emb.embed(texts)
    alone = emb.embed(texts[:1])
    assert both.shape == (2, emb.dim) and np.allclose(np.linalg.norm(both, axis=1), 1, atol=1e-5)
    assert np.allclose(both[0], alone[0], atol=1e-6)
    # the common component was removed: every vector is orthogonal to it
    assert abs(float(both[0] @ emb.component)) < 1e-5
    # a text with no known word gets the component itself: cosine 0 with known texts
    unknown = emb.embed(["zzqxv qqzzy"])[0]
    assert abs(float(unknown @ both[0])) < 1e-5
    view = emb.tokenize("Government zzqxv")
    assert view.tokens == ["government", "zzqxv"] and view.ids[1] == -1


def test_registry_loads_a_word_model_folder_pinned_by_hash(lee_model: Path, tmp_path: Path) -> None:
    emb = registry.load_embedder(lee_model)
    assert isinstance(emb, SIFEmbedder)
    assert emb.spec.pooling == "sif" and len(emb.spec.weights_sha256) == 64
    assert emb.spec.name == str(lee_model.resolve())


def test_a_word_model_backs_a_collection(lee_model: Path, tmp_path: Path) -> None:
    docs = _docs(40)
    with akindb.open(tmp_path / "db") as db:
        col = db.create_collection("lee", model=str(lee_model))
        col.add(docs, ids=[f"d{i}" for i in range(len(docs))], chunk=False)
        hits = col.search(docs[7], k=3, mode="vector")
        assert hits[0].id == "d7"
        pinned = col.info()
    assert pinned["model_weights_sha256"] == SIFEmbedder.from_folder(lee_model).spec.weights_sha256
    registry.clear_loaded()
    with akindb.open(tmp_path / "db") as db:  # reopened: the model is found by its pinned name
        assert db.get_collection("lee").search(docs[3], k=1, mode="vector")[0].id == "d3"
