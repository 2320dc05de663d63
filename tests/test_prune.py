"""Issue 12.3: re-indexing a folder makes the collection match it: documents of deleted files
are removed and reported (``--no-prune``/``prune=False`` keeps them); exact duplicate files are
reported, and skipped on request."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import akindb
from tests.conftest import HashEmbedder


def _folder(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "cats.txt").write_text("The cat sat on the mat.")
    (docs / "sub" / "dogs.txt").write_text("Dogs bark at the postman.")
    (docs / "bread.txt").write_text("Bread needs flour, water and salt.")
    return docs


@pytest.fixture
def col(tmp_db: akindb.Database) -> akindb.Collection:
    return tmp_db.create_collection("files", model=HashEmbedder())


def test_deleted_file_is_removed_and_reported(col: akindb.Collection, tmp_path: Path) -> None:
    docs = _folder(tmp_path)
    other = tmp_path / "other.txt"
    other.write_text("A file given by name, outside the folder.")
    col.add_files([docs, other])
    col.add(["added by hand, not a file"], ids=["manual"])
    (docs / "sub" / "dogs.txt").unlink()
    rep = col.add_files([docs])
    gone = str((docs / "sub" / "dogs.txt").resolve())
    assert rep.removed == [gone] and rep.unchanged == 2
    assert rep.to_dict()["removed"] == [gone]
    assert col.get(gone) == []
    assert col.search("postman", k=3, mode="keyword") == []  # no longer answers
    # outside the folder (a file given by name, a hand-added document) nothing is touched
    assert {r.id for r in col.get()} == {
        str((docs / "cats.txt").resolve()), str((docs / "bread.txt").resolve()),
        str(other.resolve()), "manual",
    }


def test_no_prune_keeps_them(col: akindb.Collection, tmp_path: Path) -> None:
    docs = _folder(tmp_path)
    col.add_files([docs])
    (docs / "cats.txt").unlink()
    rep = col.add_files([docs], prune=False)
    assert rep.removed == [] and col.count() == 3


def test_a_sibling_folder_with_a_common_prefix_is_not_pruned(col: akindb.Collection,
                                                             tmp_path: Path) -> None:
    docs = _folder(tmp_path)
    twin = tmp_path / "docs2"
    twin.mkdir()
    (twin / "x.txt").write_text("Prefix twin folder.")
    col.add_files([docs, twin])
    assert col.add_files([docs]).removed == []
    assert col.count() == 4


def test_duplicates_reported_and_optionally_skipped(col: akindb.Collection,
                                                    tmp_path: Path) -> None:
    docs = _folder(tmp_path)
    (docs / "sub" / "cats-copy.txt").write_text("The cat sat on the mat.")
    first, copy = str((docs / "cats.txt").resolve()), str((docs / "sub" / "cats-copy.txt")
                                                             .resolve())
    rep = col.add_files([docs])
    assert rep.duplicates == [(copy, first)] and col.count() == 4
    skipped = col.add_files([docs], skip_duplicates=True)
    assert skipped.skipped["duplicate"] == 1
    assert skipped.removed == [copy]  # stored before; now the folder holds it once
    assert col.count() == 3


def test_cli_index_prunes_and_no_prune(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from akindb.cli.main import app

    docs = _folder(tmp_path)
    db = tmp_path / "db"  # the real default model: three tiny files
    runner = CliRunner()
    assert runner.invoke(app, ["index", str(docs), "--db", str(db)]).exit_code == 0
    (docs / "bread.txt").unlink()
    kept = runner.invoke(app, ["index", str(docs), "--db", str(db), "--no-prune", "--json"])
    assert kept.exit_code == 0, kept.output
    assert '"removed": []' in kept.output
    res = runner.invoke(app, ["index", str(docs), "--db", str(db)])
    assert res.exit_code == 0, res.output
    assert "1 removed" in res.output and "bread.txt" in res.output
    per_doc = runner.invoke(app, ["search", "a cat, a dog, bread", "--db", str(db), "-k", "5",
                                  "--per-doc", "--json"])
    assert per_doc.exit_code == 0, per_doc.output
    ids = [json.loads(line)["id"] for line in per_doc.stdout.splitlines()]
    assert ids and len(ids) == len(set(ids))  # one line per document


def test_new_metadata_on_unchanged_files_is_stored(col: akindb.Collection,
                                                   tmp_path: Path) -> None:
    """Issue 12.1 for files: add_files(metadata=...) over unchanged files used to keep the old
    metadata (the hash covers the bytes only)."""
    docs = _folder(tmp_path)
    col.add_files([docs], metadata={"team": "a"})
    head = col.parts.store.head_seq()
    rep = col.add_files([docs], metadata={"team": "b"})
    assert (rep.unchanged, rep.added, rep.updated, rep.chunks) == (3, 0, 0, 0)
    assert {r.metadata["team"] for r in col.get()} == {"b"}
    assert col.parts.store.head_seq() > head  # rows rewritten through the log, not re-embedded
    col.add_files([docs])  # no metadata given: the stored one is kept (as add() does)
    assert {r.metadata["team"] for r in col.get()} == {"b"}
