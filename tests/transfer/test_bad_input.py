"""Bad import files: a clear error naming the row and nothing imported, unless partial=True."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import akindb
from akindb.transfer import TransferFormatError, export_collection, import_file
from tests.conftest import HashEmbedder

pytest.importorskip("pyarrow", reason="pip install 'akindb[transfer]'")

EMB = HashEmbedder()
TEXTS = [f"document {i} about topic {i % 5} with words w{i}" for i in range(30)]


@pytest.fixture
def exported(tmp_path: Path) -> tuple[akindb.Database, Path, Path]:
    db = akindb.open(tmp_path / "db")
    col = db.create_collection("docs", model=EMB)
    col.add(TEXTS, ids=[f"d{i}" for i in range(30)])
    jl, pq = tmp_path / "docs.jsonl", tmp_path / "docs.parquet"
    export_collection(col, jl)
    export_collection(col, pq, batch_size=10)  # three row groups
    yield db, jl, pq
    db.close()


def _empty(db: akindb.Database, name: str = "dst") -> akindb.Collection:
    return db.create_collection(name, model=EMB)


def test_jsonl_cut_mid_row_names_the_row_and_imports_nothing(exported, tmp_path) -> None:
    db, jl, _ = exported
    data = jl.read_bytes()
    cut = tmp_path / "cut.jsonl"
    lines = data.split(b"\n")
    cut.write_bytes(b"\n".join(lines[:18]) + b"\n" + lines[18][:40])  # row 18 cut short
    dst = _empty(db)
    with pytest.raises(TransferFormatError, match=r"row 18 .*cut short"):
        import_file(db, cut, "dst", batch_size=4)
    assert dst.count() == 0
    rep = import_file(db, cut, "dst", partial=True, batch_size=4)
    assert rep.added == 17 and rep.bad_rows and dst.count() == 17


def test_jsonl_cut_at_a_line_boundary_is_caught(exported, tmp_path) -> None:
    db, jl, _ = exported
    lines = jl.read_bytes().split(b"\n")
    cut = tmp_path / "cut.jsonl"
    cut.write_bytes(b"\n".join(lines[:11]) + b"\n")  # header + 10 rows, no end marker
    dst = _empty(db)
    with pytest.raises(TransferFormatError, match="without its end marker"):
        import_file(db, cut, "dst")
    assert dst.count() == 0


def test_bad_row_is_named(exported, tmp_path) -> None:
    db, jl, _ = exported
    lines = jl.read_text(encoding="utf-8").split("\n")
    row = json.loads(lines[7])
    row["vectors"] = [[0.5] * 3]
    lines[7] = json.dumps(row)
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines), encoding="utf-8")
    dst = _empty(db)
    with pytest.raises(TransferFormatError, match=r"row 7: document 'd6'.*shape"):
        import_file(db, bad, "dst")
    assert dst.count() == 0
    rep = import_file(db, bad, "dst", partial=True)
    assert rep.added == 29 and "row 7" in rep.bad_rows[0]


def test_parquet_truncated(exported, tmp_path) -> None:
    db, _, pq = exported
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(pq.read_bytes()[: len(pq.read_bytes()) // 2])
    dst = _empty(db)
    with pytest.raises(TransferFormatError, match="cut short or not Parquet"):
        import_file(db, cut, "dst")
    assert dst.count() == 0


def test_foreign_files(exported, tmp_path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    db, _, _ = exported
    _empty(db)
    foreign = tmp_path / "foreign.parquet"
    pq.write_table(pa.table({"a": [1, 2]}), foreign)
    with pytest.raises(TransferFormatError, match="not an akindb export"):
        import_file(db, foreign, "dst")
    other = tmp_path / "other.jsonl"
    other.write_text('{"hello": 1}\n{"x": 2}\n', encoding="utf-8")
    with pytest.raises(TransferFormatError, match="not an akindb export"):
        import_file(db, other, "dst")
    with pytest.raises(TransferFormatError, match="no file"):
        import_file(db, tmp_path / "missing.jsonl", "dst")
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    with pytest.raises(TransferFormatError, match="empty"):
        import_file(db, empty, "dst")


def test_export_unknown_collection_and_format(exported, tmp_path) -> None:
    db, _, _ = exported
    with pytest.raises(akindb.CollectionNotFoundError):
        db.get_collection("nope")
    with pytest.raises(akindb.InvalidArgumentError, match="--format"):
        export_collection(db.get_collection("docs"), tmp_path / "x.csv")
    assert not (tmp_path / "x.csv").exists()


def test_vectors_without_text_cannot_be_reembedded(tmp_path: Path) -> None:
    db = akindb.open(tmp_path / "db")
    vonly = db.create_collection("v", model=None, dim=EMB.dim)
    vonly.add(vectors=EMB.embed(["a b", "c d"]), ids=["a", "b"])
    out = tmp_path / "v.jsonl"
    export_collection(vonly, out)
    _empty(db, "withmodel")
    with pytest.raises(TransferFormatError, match="no text to re-embed"):
        import_file(db, out, "withmodel")
    assert db.get_collection("withmodel").count() == 0
    # a vectors-only target of the same dimension takes them as they are
    assert import_file(db, out, "v2").added == 2
    db.close()


def test_repeated_id_is_named(exported, tmp_path) -> None:
    db, jl, _ = exported
    lines = jl.read_text(encoding="utf-8").split("\n")
    lines[12] = lines[3]  # row 12 repeats row 3
    bad = tmp_path / "dup.jsonl"
    bad.write_text("\n".join(lines), encoding="utf-8")
    dst = _empty(db)
    with pytest.raises(TransferFormatError, match=r"row 12: document id 'd2' repeats row 3"):
        import_file(db, bad, "dst", batch_size=5)
    assert dst.count() == 0
    rep = import_file(db, bad, "dst", partial=True, batch_size=5)
    assert rep.added == 29 and any("repeats" in b for b in rep.bad_rows)


@pytest.mark.parametrize("phase", ["check", "write"])
def test_interrupted_import_leaves_nothing(exported, phase: str) -> None:
    """Ctrl-C in either pass: the write transaction never commits, so nothing is imported."""
    db, _, pq = exported
    dst = _empty(db)

    def stop(p: str, done: int, total: int) -> None:
        if p == phase and done >= 10:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        import_file(db, pq, "dst", batch_size=10, progress=stop)
    assert dst.count() == 0 and dst.count_chunks() == 0
    assert import_file(db, pq, "dst").added == 30  # and a re-run imports everything


def test_interrupted_export_leaves_no_file(exported, tmp_path) -> None:
    db, _, _ = exported
    out = tmp_path / "half.parquet"

    def stop(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        export_collection(db.get_collection("docs"), out, batch_size=10, progress=stop)
    assert not out.exists() and not list(tmp_path.glob(".half.parquet.*"))
