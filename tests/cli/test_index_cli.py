"""The index commands a user types: ``index --index hnsw --index-params``, ``search --exact``,
``tune``, ``compact``, and the errors for unknown kinds and bad parameters. Real pages of the
Python docs (../shared/data/pydocs) and the real model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from akindb.cli.main import app
from tests.realdata import extract_pydocs

runner = CliRunner()

PAGES = [f"library/{n}.rst.txt" for n in ("atexit", "getpass", "colorsys", "fnmatch", "grp")]


@pytest.fixture(scope="module")
def hnsw_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("idxcli")
    folder = extract_pydocs(root / "docs", PAGES)
    db = root / "db"
    res = runner.invoke(app, [
        "index", str(folder), "--db", str(db), "--index", "hnsw",
        "--index-params", '{"M": 8, "ef_search": 12}', "--json",
    ])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["added"] == len(PAGES)
    return db, folder


def test_hnsw_search_exact_tune_compact(hnsw_db: tuple[Path, Path]) -> None:
    db, folder = hnsw_db
    q = ["search", "convert a colour from RGB to HSV", "--db", str(db), "--mode", "vector",
         "-k", "3", "--json"]
    approx = [json.loads(x) for x in runner.invoke(app, q).stdout.splitlines()]
    res = runner.invoke(app, [*q, "--exact"])
    assert res.exit_code == 0, res.output
    exact = [json.loads(x) for x in res.stdout.splitlines()]
    assert exact[0]["source"].endswith("colorsys.rst.txt")
    assert [h["id"] for h in approx] == [h["id"] for h in exact]  # tiny index: HNSW is exact

    res = runner.invoke(app, ["tune", "--db", str(db), "--target-recall", "0.9", "-k", "5",
                              "--n-queries", "20", "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["knob"] == "ef_search" and report["met"]
    assert report["after"]["recall"] >= 0.9

    doc = str((folder / "library" / "grp.rst.txt").resolve())
    assert runner.invoke(app, ["delete", doc, "--db", str(db)]).exit_code == 0
    res = runner.invoke(app, ["compact", "--db", str(db), "--json"])
    assert res.exit_code == 0, res.output
    compacted = json.loads(res.stdout)
    assert compacted["kind"] == "hnsw" and compacted["tombstones_dropped"] >= 1
    assert compacted["log_entries_trimmed"] >= 1
    res = runner.invoke(app, [*q, "--exact"])
    assert not any(h["source"].endswith("grp.rst.txt") for h in map(json.loads,
                                                                    res.stdout.splitlines()))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--index", "bogus"], "flat, hnsw, lsh, quantized"),
        (["--index", "hnsw", "--index-params", "{M: 8}"], "not valid JSON"),
        (["--index", "hnsw", "--index-params", "[8]"], "must be a JSON object"),
        (["--index", "hnsw", "--index-params", '{"ef_search": 0}'], "ef_search must be"),
        (["--index", "lsh", "--index-params", '{"bits": 4}'], "valid ones"),
        (["--index", "flat", "--index-params", '{"M": 8}'], "takes no parameters"),
    ],
)
def test_bad_index_options_are_clear(args: list[str], message: str, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    res = runner.invoke(app, ["index", str(empty), "--db", str(tmp_path / "db"), *args])
    assert res.exit_code == 2, res.output
    assert message in res.stderr


def test_tune_rejects_bad_target(hnsw_db: tuple[Path, Path]) -> None:
    db, _ = hnsw_db
    res = runner.invoke(app, ["tune", "--db", str(db), "--target-recall", "1.5"])
    assert res.exit_code == 2 and "target_recall" in res.stderr


def test_tune_takes_a_queries_file(hnsw_db: tuple[Path, Path], tmp_path: Path) -> None:
    """Issue 12.8: ``--queries FILE`` (text lines embedded with the collection's model, or a
    .npy matrix); a bare number is refused with a hint at --n-queries."""
    db, _ = hnsw_db
    qfile = tmp_path / "queries.txt"
    qfile.write_text("convert RGB to HSV\n\nread a password without echo\nmatch a filename "
                     "pattern\n")
    res = runner.invoke(app, ["tune", "--db", str(db), "--target-recall", "0.9", "-k", "3",
                              "--queries", str(qfile), "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["n_queries"] == 3 and report["queries"] == "real"
    import numpy as np

    vecs = tmp_path / "q.npy"
    np.save(vecs, np.random.default_rng(0).normal(size=(5, 384)).astype(np.float32))
    res = runner.invoke(app, ["tune", "--db", str(db), "--target-recall", "0.9", "-k", "3",
                              "--queries", str(vecs), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["n_queries"] == 5
    res = runner.invoke(app, ["tune", "--db", str(db), "--queries", "200"])
    assert res.exit_code != 0 and "--n-queries" in res.output
