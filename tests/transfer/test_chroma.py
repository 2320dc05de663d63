"""Move in from Chroma: a real persist directory written by chromadb, read through chromadb."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import akindb
from akindb.transfer import TransferFormatError, import_file
from tests.conftest import HashEmbedder

chromadb = pytest.importorskip("chromadb", reason="pip install 'akindb[chroma]'")

EMB = HashEmbedder(dim=64)
TEXTS = [f"note {i}: the {w} sat near the {v}" for i, (w, v) in enumerate(
    [("cat", "mat"), ("dog", "door"), ("bird", "tree"), ("fish", "bowl")] * 6)]


def _chroma_dir(path: Path, name: str = "notes") -> Path:
    from chromadb.config import Settings

    client = chromadb.PersistentClient(
        path=str(path), settings=Settings(anonymized_telemetry=False)
    )
    col = client.get_or_create_collection(name, embedding_function=None,
                                          metadata={"hnsw:space": "cosine"})
    col.add(ids=[f"n{i}" for i in range(len(TEXTS))], documents=TEXTS,
            embeddings=EMB.embed(TEXTS).tolist(),
            metadatas=[{"i": i, "kind": "note"} for i in range(len(TEXTS))])
    return path


def test_import_chroma_into_a_vectors_only_collection(tmp_path: Path) -> None:
    from akindb.transfer.chroma import ChromaReader

    src = _chroma_dir(tmp_path / "chroma")
    db = akindb.open(tmp_path / "db")
    reader = ChromaReader(src)
    assert reader.header.rows == len(TEXTS) and reader.header.dim == 64
    rep = import_file(db, reader, "notes", batch_size=5)
    assert rep.added == len(TEXTS) and rep.vectors_reused
    col = db.get_collection("notes")
    assert col.dim == 64 and col.metric.value == "cosine" and col.config.model is None
    rec = col.get("n5")[0]
    assert rec.text == TEXTS[5] and rec.metadata == {"i": 5, "kind": "note"}
    np.testing.assert_array_equal(col.vectors_of("n5")[0], EMB.embed([TEXTS[5]])[0])
    hits = col.search_vector(EMB.embed(["the cat sat near the mat"])[0], k=3)
    assert {h.id for h in hits} <= {f"n{i}" for i in range(0, len(TEXTS), 4)}
    # idempotent
    assert import_file(db, ChromaReader(src), "notes").unchanged == len(TEXTS)
    db.close()


def test_import_chroma_into_a_model_collection_reembeds(tmp_path: Path) -> None:
    from akindb.transfer.chroma import ChromaReader

    src = _chroma_dir(tmp_path / "chroma")
    db = akindb.open(tmp_path / "db")
    other = HashEmbedder(dim=32, name="other")
    rep = import_file(db, ChromaReader(src, "notes"), "notes", model=other)
    assert not rep.vectors_reused and rep.reembedded == len(TEXTS)
    col = db.get_collection("notes")
    dogs = {f"n{i}" for i in range(1, len(TEXTS), 4)}
    assert col.search("dog door", k=1, mode="vector")[0].id in dogs
    db.close()


def test_unsupported_or_foreign_chroma_directories(tmp_path: Path) -> None:
    from akindb.transfer.chroma import ChromaReader

    old = tmp_path / "old"
    old.mkdir()
    (old / "chroma-collections.parquet").write_bytes(b"PAR1")  # Chroma < 0.4 layout
    with pytest.raises(TransferFormatError, match=r"Chroma before 0\.4"):
        ChromaReader(old)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "chroma.sqlite3").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(TransferFormatError, match="cannot open"):
        ChromaReader(broken)
    with pytest.raises(TransferFormatError, match="no Chroma directory"):
        ChromaReader(tmp_path / "missing")
    src = _chroma_dir(tmp_path / "two")
    _chroma_dir(src, "other")
    with pytest.raises(TransferFormatError, match="--chroma-collection"):
        ChromaReader(src)
    with pytest.raises(TransferFormatError, match="no Chroma collection 'x'"):
        ChromaReader(src, "x")
