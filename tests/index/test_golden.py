"""Golden index files of every released format load forever and answer as when written
(DESIGN rule 7); damaged copies of them are refused, never half-loaded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from akindb.index.base import IndexFileError
from akindb.index.registry import index_class
from tests.index.golden.make_golden import GOLDEN_FILES, data

GOLDEN = Path(__file__).resolve().parent / "golden"


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
    """Flip bytes across the body: loading raises IndexFileError or gives a usable index."""
    kind = GOLDEN_FILES[name][0]
    raw = (GOLDEN / name).read_bytes()
    rng = np.random.default_rng(0)
    path = tmp_path / "x.idx"
    for pos in rng.integers(64, len(raw), size=60):
        bad = bytearray(raw)
        bad[int(pos)] ^= 0xFF
        path.write_bytes(bytes(bad))
        try:
            idx, _ = index_class(kind).load(path)
        except IndexFileError:
            continue
        idx.search(np.ones((1, 8), dtype=np.float32) / np.sqrt(8), 5)
