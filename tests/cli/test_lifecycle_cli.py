"""The lifecycle commands as a user types them, with the real model on small real files:
export, import, backup, restore, doctor, dupes, monitor; exit codes for mistakes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from akindb.cli.main import app
from tests.realdata import extract_pydocs

runner = CliRunner()


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("life")
    folder = extract_pydocs(root / "docs", ["library/atexit.rst.txt", "library/getpass.rst.txt"])
    page = (folder / "library" / "atexit.rst.txt").read_text(encoding="utf-8")
    (folder / "copy.md").write_text(page, encoding="utf-8")
    db = root / "db"
    res = runner.invoke(app, ["index", str(folder), "--db", str(db), "-c", "docs", "--json"])
    assert res.exit_code == 0, res.output
    return db


def _said(res: object, text: str) -> bool:
    """``text`` in the output, whatever the terminal width wrapped."""
    return " ".join(text.split()) in " ".join(str(res.output).split())  # type: ignore[attr-defined]


def _json(args: list[str]) -> dict:  # type: ignore[type-arg]
    res = runner.invoke(app, [*args, "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_export_import_roundtrip(indexed: Path, tmp_path: Path) -> None:
    out = tmp_path / "docs.parquet"
    exp = _json(["export", "--db", str(indexed), "-c", "docs", "--out", str(out)])
    assert exp["documents"] == 3 and out.exists()
    imp = _json(["import", str(out), "--db", str(tmp_path / "db2"), "-c", "docs"])
    assert imp["added"] == 3 and imp["vectors_reused"]
    again = _json(["import", str(out), "--db", str(tmp_path / "db2"), "-c", "docs"])
    assert again["unchanged"] == 3 and again["added"] == 0
    q = ["search", "run a function when the program exits", "-k", "3"]
    a = runner.invoke(app, [*q, "--db", str(indexed), "-c", "docs", "--json"])
    b = runner.invoke(app, [*q, "--db", str(tmp_path / "db2"), "-c", "docs", "--json"])
    assert a.exit_code == b.exit_code == 0 and a.stdout.count("\n") == 3
    assert a.stdout == b.stdout  # the same hits, scores and ids
    res = runner.invoke(app, ["export", "--db", str(indexed), "-c", "nope", "--out",
                              str(tmp_path / "x.jsonl")])
    assert res.exit_code == 3 and _said(res, "no collection 'nope'")
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n", encoding="utf-8")
    res = runner.invoke(app, ["import", str(bad), "--db", str(tmp_path / "db3")])
    assert res.exit_code == 2 and _said(res, "akindb export")


def test_backup_restore_doctor(indexed: Path, tmp_path: Path) -> None:
    bk = tmp_path / "bk"
    rep = _json(["backup", str(bk), "--db", str(indexed)])
    assert rep["collections"]["docs"]["documents"] == 3
    res = runner.invoke(app, ["backup", str(indexed / "bk"), "--db", str(indexed)])
    assert res.exit_code == 2 and _said(res, "inside the database directory")
    res = runner.invoke(app, ["restore", str(bk), "--db", str(indexed)])
    assert res.exit_code == 2 and _said(res, "--force")
    restored = tmp_path / "restored"
    _json(["restore", str(bk), "--db", str(restored)])
    doc = _json(["doctor", "--db", str(restored)])
    assert doc["healthy"], doc
    assert {f["check"] for f in doc["findings"]} >= {"integrity", "orphans", "index", "model"}


def test_dupes_and_monitor(indexed: Path) -> None:
    rep = _json(["dupes", "--db", str(indexed), "-c", "docs"])
    assert rep["duplicate_documents"] >= 1  # copy.md repeats atexit.rst.txt
    g = rep["groups"][0]
    assert {g["keep"].rsplit("/", 1)[-1], *(d.rsplit("/", 1)[-1] for d in g["duplicates"])} == {
        "atexit.rst.txt", "copy.md"}
    flat = _json(["monitor", "--db", str(indexed), "-c", "docs"])
    assert flat is None  # a flat index is exact


def test_migrate_same_model_is_a_noop(indexed: Path) -> None:
    res = runner.invoke(app, ["migrate", "--db", str(indexed), "-c", "docs", "--model",
                              "minilm"])
    assert res.exit_code == 0 and _said(res, "nothing to migrate")
    res = runner.invoke(app, ["migrate", "--db", str(indexed), "-c", "docs", "--model",
                              "no-such-model"])
    assert res.exit_code == 4


def test_migrate_qrels_folder_is_checked_first(indexed: Path, tmp_path: Path) -> None:
    res = runner.invoke(app, ["migrate", "--db", str(indexed), "-c", "docs", "--model",
                              "minilm", "--qrels", str(tmp_path / "none")])
    assert res.exit_code == 3 and _said(res, "needs queries.jsonl")
