"""End to end with the real default model on real text (pages of the Python docs sources):
the right page ranks first, re-indexing is idempotent, changed files replace their chunks,
binary and vanished files are counted, not fatal."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

import akindb
from akindb import errors
from tests.conftest import HashEmbedder
from tests.realdata import PYDOCS_QUESTIONS, extract_pydocs


@pytest.fixture(scope="module")
def docs_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[akindb.Database, Path]]:
    root = tmp_path_factory.mktemp("real")
    folder = extract_pydocs(root / "docs")
    (folder / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200))
    (folder / "notes.md").write_text(
        "# Notes\n\nThe *walrus* operator assigns inside expressions.\n"
    )
    db = akindb.open(root / "db")
    col = db.create_collection("docs")
    report = col.add_files([folder])
    assert report.skipped["binary"] == 1 and report.added == 7 and report.unchanged == 0
    yield db, folder
    db.close()


@pytest.mark.parametrize("question,page", PYDOCS_QUESTIONS, ids=[p for _, p in PYDOCS_QUESTIONS])
def test_right_page_ranks_first(
    docs_db: tuple[akindb.Database, Path], question: str, page: str
) -> None:
    db, _ = docs_db
    # mode="vector": this test checks cosine scores (the default hybrid mode fuses ranks).
    hits = db.get_collection("docs").search(question, k=3, mode="vector")
    assert hits[0].source is not None and hits[0].source.endswith(page), [h.source for h in hits]
    top = hits[0]
    # The hit cites its passage: offsets point at the same text in the stored document.
    rec = db.get_collection("docs").get(top.id)[0]
    assert rec.text[top.start : top.end] == top.text
    assert 0.3 < top.score <= 1.0 and top.distance == pytest.approx(1 - top.score, abs=1e-6)


def test_filter_by_extension_and_threshold(docs_db: tuple[akindb.Database, Path]) -> None:
    col = docs_db[0].get_collection("docs")
    hits = col.search("assignment expression operator", k=5, where={"ext": ".md"})
    assert [h.metadata["filename"] for h in hits] == ["notes.md"]
    assert col.search("assignment expression operator", k=5, min_score=0.99) == []
    rst = col.search("assignment expression operator", k=5, where={"ext": {"$ne": ".md"}})
    assert hits and all(h.metadata["ext"] == ".rst" for h in rst)


def test_reindex_is_idempotent_and_changes_replace(
    docs_db: tuple[akindb.Database, Path], tmp_path: Path
) -> None:
    db, folder = docs_db
    col = db.get_collection("docs")
    seq = col.parts.store.head_seq()
    again = col.add_files([folder])
    assert again.unchanged == 7 and again.added == 0 and again.chunks == 0
    assert col.parts.store.head_seq() == seq  # nothing re-embedded, nothing written
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(folder / "library" / "atexit.rst.txt", work)
    (work / "notes.md").write_text("# Notes\n\nThe *walrus* operator assigns inside expressions.\n")
    col2 = db.create_collection("changes")
    col2.add_files([work])
    before = col2.count_chunks()
    (work / "notes.md").write_text("# Notes\n\nTea should steep for three minutes.\n")
    rep = col2.add_files([work])
    assert rep.updated == 1 and rep.unchanged == 1
    assert col2.count_chunks() == before  # one chunk out, one chunk in
    hit = col2.search("how long to brew tea", k=1)[0]
    assert hit.metadata["filename"] == "notes.md" and "Tea" in hit.text
    assert all("walrus" not in h.text for h in col2.search("walrus operator", k=10))
    db.drop_collection("changes")


def test_vanished_and_undecodable_files_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("A short note about sourdough starters and rye flour.")
    (tmp_path / "latin.txt").write_bytes("Caf\xe9 cr\xe8me \xa3 prices".encode("cp1252"))
    with akindb.open(tmp_path / "db") as db:
        col = db.create_collection("x")
        rep = col.add_files([tmp_path / "a.txt", tmp_path / "latin.txt"])
        assert rep.added == 2
        assert "Café" in col.get(str((tmp_path / "latin.txt").resolve()))[0].text
        with pytest.raises(errors.InvalidArgumentError, match="missing"):
            col.add_files([tmp_path / "missing"])


def test_tokenize_and_truncated_query(
    docs_db: tuple[akindb.Database, Path], caplog: pytest.LogCaptureFixture
) -> None:
    col = docs_db[0].get_collection("docs")
    tv = col.tokenize("The dog's owner walked quickly")
    assert tv.tokens == ["[CLS]", "the", "dog", "'", "s", "owner", "walked", "quickly", "[SEP]"]
    long_query = "random numbers " * 300
    with caplog.at_level("WARNING"):
        hits = col.search(long_query, k=1)
    assert hits and "truncated" in caplog.text


def test_real_model_mismatch_error_names_both(docs_db: tuple[akindb.Database, Path]) -> None:
    db = docs_db[0]
    with pytest.raises(errors.ModelMismatchError) as exc:
        db.get_collection("docs", model=HashEmbedder(dim=384))
    assert "all-MiniLM-L6-v2" in str(exc.value) and "test-hash" in str(exc.value)
