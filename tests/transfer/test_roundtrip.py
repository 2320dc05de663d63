"""Export -> import gives the same collection and the same search results (JSONL and Parquet);
import is idempotent; a different model pin re-embeds; the Parquet file opens in pandas."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import akindb
from akindb.text.chunking import ChunkingParams
from akindb.transfer import export_collection, import_file
from tests.conftest import HashEmbedder

pa = pytest.importorskip("pyarrow", reason="pip install 'akindb[transfer]'")

EMB = HashEmbedder()
FORMATS = ["jsonl", "parquet"]
TEXTS = [
    f"Paragraph {i} about {topic}. " + " ".join(f"word{(i * 7 + j) % 53}" for j in range(60))
    for i, topic in enumerate(["cats", "dogs", "bread", "stocks", "rivers", "music"] * 5)
]
QUERIES = ["cats word3", "bread word11 word12", "rivers and music", "stocks word40"]


def _filled(db: akindb.Database, name: str = "docs") -> akindb.Collection:
    chunking = ChunkingParams(max_tokens=24, overlap_tokens=4)
    col = db.create_collection(name, model=EMB, chunking=chunking)
    col.add(TEXTS, ids=[f"d{i}" for i in range(len(TEXTS))],
            metadatas=[{"n": i, "tag": ["a", "b"][i % 2]} for i in range(len(TEXTS))],
            sources=[f"s{i}.txt" if i % 3 else None for i in range(len(TEXTS))])
    col.add(vectors=np.eye(EMB.dim, dtype=np.float32)[:2], ids=["v0", "v1"])
    return col


def _answers(col: akindb.Collection) -> list[list[tuple[str, float]]]:
    return [[(h.id, round(h.score, 5)) for h in col.search(q, k=5, mode="vector")]
            for q in QUERIES] + [[(h.id, round(h.score, 5)) for h in col.search(q, k=5)]
                                 for q in QUERIES]


@pytest.mark.parametrize("fmt", FORMATS)
def test_roundtrip_same_records_and_answers(tmp_path: Path, fmt: str) -> None:
    db = akindb.open(tmp_path / "db")
    col = _filled(db)
    assert col.count_chunks() > col.count()  # long texts really were chunked
    out = tmp_path / f"docs.{fmt}"
    seen: list[tuple[int, int]] = []
    rep = export_collection(col, out, batch_size=7, progress=lambda d, t: seen.append((d, t)))
    assert rep.documents == col.count() and rep.chunks == col.count_chunks()
    assert seen[-1] == (col.count(), col.count()) and len(seen) > 2  # really batched
    imp = import_file(db, out, "docs2", model=EMB, batch_size=5)
    assert imp.added == col.count() and imp.vectors_reused and imp.reembedded == 0
    col2 = db.get_collection("docs2")
    assert col2.get() == col.get()
    for r in col.get():
        assert np.array_equal(col.vectors_of(r.id), col2.vectors_of(r.id))  # bit for bit
    assert _answers(col2) == _answers(col)
    db.close()


@pytest.mark.parametrize("fmt", FORMATS)
def test_import_is_idempotent(tmp_path: Path, fmt: str) -> None:
    db = akindb.open(tmp_path / "db")
    col = _filled(db)
    out = tmp_path / f"docs.{fmt}"
    export_collection(col, out)
    first = import_file(db, out, "docs2", model=EMB)
    col2 = db.get_collection("docs2")
    head = col2.parts.store.head_seq()
    again = import_file(db, out, "docs2", model=EMB)
    assert (again.added, again.updated, again.unchanged) == (0, 0, first.added)
    assert col2.parts.store.head_seq() == head  # nothing written the second time
    # importing into the source collection itself changes nothing either
    assert import_file(db, out, "docs").unchanged == col.count()
    # a changed document is replaced, the rest left alone
    col2.upsert(["changed text"], ids=["d3"])
    third = import_file(db, out, "docs2", model=EMB)
    assert (third.updated, third.added) == (1, 0)
    assert col2.get("d3")[0].text == TEXTS[3]
    db.close()


@pytest.mark.parametrize("fmt", FORMATS)
def test_other_model_pin_reembeds(tmp_path: Path, fmt: str) -> None:
    db = akindb.open(tmp_path / "db")
    col = db.create_collection("docs", model=EMB)
    col.add(TEXTS[:12], ids=[f"d{i}" for i in range(12)])
    out = tmp_path / f"docs.{fmt}"
    export_collection(col, out)
    other = HashEmbedder(dim=64, name="other-hash")
    phases: list[str] = []
    rep = import_file(db, out, "docs64", model=other, progress=lambda p, d, t: phases.append(p))
    assert not rep.vectors_reused and rep.reembedded == 12 and "embed" in phases
    col64 = db.get_collection("docs64")
    assert col64.dim == 64
    # the same as adding the file's chunks with that model directly
    for r in col.get():
        np.testing.assert_allclose(col64.vectors_of(r.id), other.embed([c.text for c in
                                   r.chunks]), rtol=1e-6)
    db.close()


def test_parquet_opens_in_pandas_with_documented_columns(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    import pyarrow.parquet as pq

    db = akindb.open(tmp_path / "db")
    col = _filled(db)
    out = tmp_path / "docs.parquet"
    export_collection(col, out)
    df = pd.read_parquet(out)
    assert list(df.columns) == ["id", "text", "source", "metadata", "content_hash", "chunks",
                                "vectors"]
    assert len(df) == col.count()
    row = df[df["id"] == "d4"].iloc[0]
    assert json.loads(row["metadata"]) == {"n": 4, "tag": "a"}
    first = row["chunks"][0]
    assert row["text"][first["start"]:first["end"]] == first["text"]
    assert len(row["vectors"]) == len(row["chunks"]) and len(row["vectors"][0]) == EMB.dim
    meta = json.loads(pq.read_schema(out).metadata[b"akindb"])
    assert meta["format"] == "akindb-export" and meta["model"]["name"] == "test-hash"
    assert meta["rows"] == col.count() and meta["dim"] == EMB.dim
    db.close()


def test_jsonl_is_readable_json_lines(tmp_path: Path) -> None:
    db = akindb.open(tmp_path / "db")
    col = _filled(db)
    out = tmp_path / "docs.jsonl"
    export_collection(col, out)
    lines = out.read_text(encoding="utf-8").splitlines()
    head, rows, end = json.loads(lines[0]), [json.loads(x) for x in lines[1:-1]], lines[-1]
    assert head["model"]["weights_sha256"] == EMB.spec.weights_sha256
    assert len(rows) == col.count() and json.loads(end) == {"end": col.count()}
    assert {r["id"] for r in rows} == {r.id for r in col.get()}
    db.close()


def test_real_model_roundtrip_same_answers(tmp_path: Path) -> None:
    """The default MiniLM: export, import into a fresh database, the same hits."""
    db = akindb.open(tmp_path / "db")
    col = db.create_collection("docs")
    col.add(TEXTS[:10], ids=[f"d{i}" for i in range(10)])
    out = tmp_path / "docs.parquet"
    export_collection(col, out)
    db2 = akindb.open(tmp_path / "db2")
    rep = import_file(db2, out, "docs")  # created pinned to the file's model
    assert rep.vectors_reused and rep.added == 10
    col2 = db2.get_collection("docs")
    assert col2.config.model == col.config.model
    assert _answers(col2) == _answers(col)
    db.close()
    db2.close()
