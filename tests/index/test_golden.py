"""Golden index files of every released format load forever and answer as when written
(DESIGN rule 7); damaged copies of them are refused, never half-loaded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from akindb.core.topk import scores, top_k
from akindb.index.base import IndexFileError, VectorIndex
from akindb.index.flat import FlatIndex
from akindb.index.registry import index_class
from akindb.types import Metric
from tests.index.golden.make_golden import GOLDEN_FILES, data

GOLDEN = Path(__file__).resolve().parent / "golden"
MIN_RECALL = {"flat": 1.0, "hnsw": 0.95, "lsh": 0.85, "quantized": 0.95}
"""recall@5 against exact search over the vectors the file holds (as in test_conformance)."""


def _stored(idx: VectorIndex) -> tuple[np.ndarray, np.ndarray]:
    """The live labels of ``idx`` and the vectors it holds for them (what exact search uses)."""
    labels = idx.labels()
    if isinstance(idx, FlatIndex):
        return labels, np.asarray(idx.vectors())
    return labels, idx.vectors_of(labels)  # type: ignore[attr-defined]


def _check_answers(idx: VectorIndex, metric: Metric, queries: np.ndarray, k: int) -> float:
    """Every answer is real: live labels, no repeats, ``min(k, len)`` of them, best first, each
    score the exact score of the query against that label's stored vector. Returns recall@k
    against exact search over the stored vectors."""
    labels, vecs = _stored(idx)
    exact = scores(vecs, queries, metric)
    truth, _ = top_k(exact, k)
    where = {int(lab): i for i, lab in enumerate(labels.tolist())}
    got_l, got_s = idx.search(queries, k)
    hits = 0
    for row, (ls, ss) in enumerate(zip(got_l.tolist(), got_s.tolist(), strict=True)):
        found = [lab for lab in ls if lab >= 0]
        assert len(found) == min(k, len(labels)) and len(set(found)) == len(found), ls
        assert ls[len(found) :] == [-1] * (k - len(found))
        cols = [where[lab] for lab in found]  # KeyError: a label the index does not hold
        want = exact[row, cols]
        assert np.allclose(ss[: len(found)], want, rtol=1e-4, atol=1e-4, equal_nan=True), (
            ss,
            want,
        )
        finite = [s for s in ss[: len(found)] if np.isfinite(s)]
        assert finite == sorted(finite, reverse=True)
        hits += len(set(cols) & set(truth[row].tolist()))
    return hits / truth.size


@pytest.mark.parametrize("name", sorted(GOLDEN_FILES))
def test_golden_v1_loads_and_answers(name: str) -> None:
    kind, params = GOLDEN_FILES[name]
    idx, header = index_class(kind).load(GOLDEN / name)
    assert {k: header.params[k] for k in params} == params
    labels, vecs = data()
    assert (header.collection_uuid, header.built_seq, header.count) == ("golden", 68, 60)
    assert sorted(idx.labels().tolist()) == labels[4:].tolist()
    got, _ = idx.search(vecs[10:20], 1)
    assert got[:, 0].tolist() == labels[10:20].tolist()
    assert not set(idx.search(vecs[:4], 5)[0].ravel().tolist()) & set(labels[:4].tolist())
    # the file holds the vectors it was written from, and answers from them exactly
    held, stored = _stored(idx)
    order = np.argsort(held)
    assert np.allclose(stored[order], vecs[4:], atol=1e-6)
    queries = np.vstack([vecs, np.random.default_rng(5).normal(size=(20, 8))]).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    assert _check_answers(idx, Metric.parse(header.metric), queries, 5) >= MIN_RECALL[kind]


def test_hnsw_format_1_is_converted_to_the_same_graph(tmp_path: Path) -> None:
    """hnswlib's format-1 file becomes a faiss graph with the same links: it answers exactly
    like the file written by the current engine, and saves as format 2."""
    old, h1 = index_class("hnsw").load(GOLDEN / "hnsw-v1.idx")
    new, h2 = index_class("hnsw").load(GOLDEN / "hnsw-v2.idx")
    assert (h1.format, h2.format) == (1, 2)
    _, vecs = data()
    assert old.search(vecs, 5)[0].tolist() == new.search(vecs, 5)[0].tolist()
    old.save(tmp_path / "up.idx", collection_uuid="golden", built_seq=68)
    again, h3 = index_class("hnsw").load(tmp_path / "up.idx")
    assert h3.format == 2
    assert again.search(vecs, 5)[0].tolist() == old.search(vecs, 5)[0].tolist()


@pytest.mark.parametrize(
    "name",
    ["hnsw-v1.idx", "hnsw-v2.idx", "lsh-v1.idx", "lsh-v2.idx", "quantized-int8-v1.idx",
     "quantized-binary-v1.idx"],
)
def test_golden_v1_bit_flips_are_refused_or_harmless(name: str, tmp_path: Path) -> None:
    """Flip bytes across the body: loading raises IndexFileError or gives an index whose answers
    are real (live labels, exact scores of the vectors it holds, best first)."""
    kind = GOLDEN_FILES[name][0]
    raw = (GOLDEN / name).read_bytes()
    rng = np.random.default_rng(0)
    path = tmp_path / "x.idx"
    _, vecs = data()
    outcomes = {"refused": 0, "loaded": 0}
    for pos in rng.integers(64, len(raw), size=60):
        bad = bytearray(raw)
        bad[int(pos)] ^= 0xFF
        path.write_bytes(bytes(bad))
        try:
            idx, header = index_class(kind).load(path)
        except IndexFileError:
            outcomes["refused"] += 1
            continue
        outcomes["loaded"] += 1
        _check_answers(idx, Metric.parse(header.metric), vecs[::4], 5)
    assert outcomes["loaded"] and outcomes["refused"], outcomes  # both paths were exercised


@pytest.mark.parametrize("kind", ["flat", "hnsw", "lsh", "quantized"])
@pytest.mark.parametrize("damage", ["repeated", "negative"])
def test_damaged_labels_are_refused(kind: str, damage: str, tmp_path: Path) -> None:
    """A label that repeats among live slots (two vectors for one chunk) or is negative (-1 is
    the empty-slot marker) was loaded and searched before; now the file is refused (rebuilt)."""
    from akindb.index.registry import make_index

    _, vecs = data()
    labels = np.arange(64, dtype=np.int64) * 7919 + 1_000_003  # byte patterns found once
    idx = make_index(kind, 8, Metric.COSINE, {})
    idx.add(labels, vecs)
    path = tmp_path / "x.idx"
    idx.save(path, collection_uuid="u", built_seq=1)
    raw = path.read_bytes()
    at = raw.find(labels[5].astype("<i8").tobytes())
    assert at > 0 and raw.count(labels[5].astype("<i8").tobytes()) == 1
    new = labels[6] if damage == "repeated" else np.int64(-7)
    path.write_bytes(raw[:at] + new.astype("<i8").tobytes() + raw[at + 8 :])
    with pytest.raises(IndexFileError, match="label"):
        index_class(kind).load(path)
