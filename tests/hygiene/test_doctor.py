"""doctor: a healthy database reports ok; each kind of damage is found, and --fix repairs what
is derived (index files, the keyword index, unreachable rows and files)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import akindb
from akindb.hygiene import doctor
from tests.conftest import HashEmbedder

EMB = HashEmbedder(dim=32)


def _db(tmp_path: Path) -> akindb.Database:
    db = akindb.open(tmp_path / "db")
    col = db.create_collection("docs", model=EMB, index="lsh")
    col.add([f"text number {i} about things" for i in range(50)])
    col.search("text", k=1)  # builds the index
    col.flush()
    assert col.parts.live.path.exists()
    return db


def _levels(rep, check: str) -> set[str]:  # type: ignore[no-untyped-def]
    return {f.level for f in rep.findings if f.check == check}


def test_healthy(tmp_path: Path) -> None:
    db = _db(tmp_path)
    rep = doctor(db)
    assert rep.healthy, rep.to_dict()
    assert _levels(rep, "integrity") == {"ok"} and _levels(rep, "index") == {"ok"}
    assert _levels(rep, "orphans") == {"ok"}
    # the test model is not installable: a warning, not an error
    assert _levels(rep, "model") == {"warn"}
    db.close()


def test_damage_found_and_fixed(tmp_path: Path) -> None:
    db = _db(tmp_path)
    col = db.get_collection("docs")
    path = col.parts.live.path
    db.close()
    # damage behind akindb's back, as a crash, a bad copy or a bug would
    conn = sqlite3.connect(tmp_path / "db" / "akindb.sqlite")
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute("DROP TRIGGER chunks_ad")  # a delete that bypasses the log and FTS
    conn.execute("DELETE FROM documents WHERE doc_id = (SELECT doc_id FROM documents LIMIT 1)")
    conn.execute("DELETE FROM chunks WHERE id = (SELECT max(id) FROM chunks)")
    conn.execute(  # the trigger back, as the schema has it
        "CREATE TRIGGER chunks_ad AFTER DELETE ON chunks BEGIN INSERT INTO chunks_fts(chunks_fts,"
        " rowid, text) VALUES ('delete', old.id, old.text); INSERT INTO oplog(collection_id, op,"
        " chunk_id) VALUES (old.collection_id, 'delete', old.id); END"
    )
    conn.commit()
    conn.close()
    (path.parent / "0123456789abcdef.hnsw").write_bytes(b"stray")
    db = akindb.open(tmp_path / "db")
    rep = doctor(db)
    assert not rep.healthy
    msgs = " | ".join(f.message for f in rep.findings if f.level != "ok")
    assert "chunks without a document" in msgs
    assert "belongs to no collection" in msgs
    assert "keyword index (FTS5) disagrees" in msgs
    assert "index covers" in msgs  # the deleted chunk is still in the index
    fixed = doctor(db, fix=True)
    assert fixed.healthy and any(f.fixed for f in fixed.findings)
    again = doctor(db)
    assert again.healthy and not [f for f in again.findings if f.level == "error"], \
        again.to_dict()
    col = db.get_collection("docs")
    assert col.index_stats()["size"] == col.count_chunks()
    db.close()


def test_unreadable_index_file_is_rebuilt(tmp_path: Path) -> None:
    db = _db(tmp_path)
    path = db.get_collection("docs").parts.live.path
    db.close()
    path.write_bytes(b"garbage" * 10)
    db = akindb.open(tmp_path / "db")
    rep = doctor(db)
    assert any("does not load" in f.message for f in rep.findings)
    doctor(db, fix=True)
    assert doctor(db).healthy
    db.close()


def test_model_pin_against_weights_on_disk(tmp_path: Path) -> None:
    """The real default model: its pin matches; a pin with other weights is an error."""
    db = akindb.open(tmp_path / "db")
    db.create_collection("real").add(["hello world"])
    rep = doctor(db)
    assert [f.level for f in rep.findings if f.check == "model"] == ["ok"]
    spec = json.loads(db.conn.execute("SELECT model FROM collections").fetchone()[0])
    spec["weights_sha256"] = "0" * 64
    with db.conn:
        db.conn.execute("UPDATE collections SET model = ?", (json.dumps(spec),))
    db.close()
    db = akindb.open(tmp_path / "db")
    rep = doctor(db)
    bad = [f for f in rep.findings if f.check == "model"]
    assert bad[0].level == "error" and "differ from the pin" in bad[0].message
    db.close()
