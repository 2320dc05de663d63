"""The ``akindb`` command line on real files with the real model: what a user types, what they
see, and the exit codes for mistakes."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from akindb.cli.main import app
from tests.conftest import REPO, shared_data
from tests.realdata import extract_pydocs

runner = CliRunner()


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("cli")
    folder = extract_pydocs(root / "docs", ["library/atexit.rst.txt", "library/getpass.rst.txt"])
    (folder / "notes.md").write_text(
        "# Notes\n\nThe *walrus* operator assigns inside expressions.\n"
    )
    (folder / "blob.bin").write_bytes(bytes(range(256)) * 4)
    db = root / "db"
    res = runner.invoke(app, ["index", str(folder), "--db", str(db), "--json"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["added"] == 3 and summary["skipped"] == {"binary": 1}
    return db, folder


def test_index_again_does_no_work(indexed: tuple[Path, Path]) -> None:
    db, folder = indexed
    res = runner.invoke(app, ["index", str(folder), "--db", str(db)])
    assert res.exit_code == 0
    assert "3 unchanged" in res.stdout and "0 added" in res.stdout


def test_search_json_lines(indexed: tuple[Path, Path]) -> None:
    db, _ = indexed
    res = runner.invoke(
        app,
        [
            "search",
            "register a cleanup function for interpreter exit",
            "--db",
            str(db),
            "-k",
            "3",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    lines = [json.loads(x) for x in res.stdout.splitlines()]
    assert len(lines) == 3
    assert {"id", "score", "text", "source", "metadata"} <= set(lines[0])
    assert lines[0]["source"].endswith("atexit.rst.txt")
    assert lines[0]["score"] >= lines[1]["score"] >= lines[2]["score"]


def test_search_where_min_score_and_human_output(indexed: tuple[Path, Path]) -> None:
    db, _ = indexed
    res = runner.invoke(app, ["search", "walrus", "--db", str(db), "--where", '{"ext": ".md"}'])
    assert res.exit_code == 0 and "notes.md" in res.stdout and "atexit" not in res.stdout
    res = runner.invoke(app, ["search", "walrus", "--db", str(db), "--min-score", "0.999"])
    assert res.exit_code == 0 and "no results" in res.stdout


def test_reranked_output_prints_the_scores_it_ranked_by(indexed: tuple[Path, Path]) -> None:
    # Issue 12, item 5: after re-ranking the CLI printed the fused scores out of order.
    db, _ = indexed
    q = ["search", "register a cleanup function for interpreter exit", "--db", str(db), "-k", "3",
         "--rerank", "mmr", "--mmr-lambda", "0.9"]
    res = runner.invoke(app, [*q, "--json", "--explain"])
    assert res.exit_code == 0, res.output
    want = [json.loads(x)["explain"]["reranker"]["score"] for x in res.stdout.splitlines()]
    res = runner.invoke(app, q)
    assert res.exit_code == 0, res.output
    printed = [float(line.split()[1]) for line in res.stdout.splitlines()
               if line[:1].isdigit() and "(mmr)" in line]
    assert printed == pytest.approx(want, abs=1e-4) and len(printed) == 3


def test_search_fusion_and_rerank_flags(indexed: tuple[Path, Path]) -> None:
    db, _ = indexed
    q = ["search", "register a cleanup function for interpreter exit", "--db", str(db), "--json"]
    for extra in (["--fusion", "weighted", "--keyword-weight", "0.5"],
                  ["--rrf-k", "10", "--no-keyword-gate"]):
        res = runner.invoke(app, [*q, "-k", "2", "--explain", *extra])
        assert res.exit_code == 0, res.output
        fused = json.loads(res.stdout.splitlines()[0])["explain"]["fusion"]
        assert fused["method"] == ("weighted" if "weighted" in extra else "rrf")
        assert fused["keyword_strength"] is None or "--no-keyword-gate" not in extra
    res = runner.invoke(app, [*q, "-k", "2", "--rerank", "mmr", "--mmr-lambda", "0.3",
                              "--rerank-pool", "5", "--explain"])
    assert res.exit_code == 0, res.output
    reranked = [json.loads(x)["explain"]["reranker"] for x in res.stdout.splitlines()]
    assert [r["name"] for r in reranked] == ["mmr", "mmr"]
    assert all(r["rank_before"] <= 5 for r in reranked)
    # Under --json the errors are JSON lines on stdout too.
    res = runner.invoke(app, [*q, "--rerank", "bm25"])
    assert res.exit_code == 2 and "cross-encoder:PATH" in _json_error(res)["message"]
    res = runner.invoke(app, [*q, "--rerank", "cross-encoder:/nonexistent/ce"])
    err = _json_error(res)
    assert res.exit_code == 4 and "no cross-encoder folder" in err["message"]  # a model problem
    res = runner.invoke(app, [*q, "--fusion", "sum"])
    assert res.exit_code == 2 and "rrf, weighted" in _json_error(res)["message"]


def _json_error(res: Any) -> dict[str, Any]:
    err: dict[str, Any] = json.loads(res.stdout.splitlines()[-1])["error"]
    assert err["exit"] == res.exit_code and not res.stderr
    return err


def test_tokens_collections_get_delete(indexed: tuple[Path, Path]) -> None:
    db, folder = indexed
    res = runner.invoke(
        app, ["tokens", "The dog's owner walked quickly", "--db", str(db), "--json"]
    )
    assert json.loads(res.stdout)["tokens"][1:4] == ["the", "dog", "'"]
    res = runner.invoke(app, ["collections", "--db", str(db), "--json"])
    info = json.loads(res.stdout.splitlines()[0])
    assert info["name"] == "default" and info["documents"] == 3 and info["dim"] == 384
    assert info["model"] == "sentence-transformers/all-MiniLM-L6-v2"
    res = runner.invoke(app, ["collections", "info", "default", "--db", str(db), "--json"])
    assert json.loads(res.stdout)["database_bytes"] > 0
    notes = str((folder / "notes.md").resolve())
    res = runner.invoke(app, ["get", notes, "--db", str(db), "--json"])
    rec = json.loads(res.stdout)
    assert rec["text"].startswith("# Notes") and rec["source"] == notes
    res = runner.invoke(app, ["delete", "--where", '{"ext": ".md"}', "--db", str(db), "--json"])
    assert json.loads(res.stdout) == {"deleted": 1}
    res = runner.invoke(app, ["get", notes, "--db", str(db)])
    assert res.exit_code == 3 and "not found" in res.stderr


def test_mistakes_get_clear_errors_and_exit_codes(
    indexed: tuple[Path, Path], tmp_path: Path
) -> None:
    db, _ = indexed
    res = runner.invoke(app, ["search", "x", "--db", str(tmp_path / "none")])
    assert res.exit_code == 3 and "no akindb database" in res.stderr
    res = runner.invoke(app, ["search", "x", "--db", str(db), "-c", "nope"])
    assert res.exit_code == 3 and "no collection 'nope'" in res.stderr
    res = runner.invoke(app, ["search", "x", "--db", str(db), "--where", "{bad json"])
    assert res.exit_code == 2 and "not valid JSON" in res.stderr
    res = runner.invoke(app, ["search", "x", "--db", str(db), "--where", '{"a": {"$like": 1}}'])
    assert res.exit_code == 2 and "unknown operator" in res.stderr
    res = runner.invoke(app, ["search", "   ", "--db", str(db)])
    assert res.exit_code == 2 and "empty" in res.stderr
    res = runner.invoke(app, ["index", str(tmp_path / "missing"), "--db", str(db)])
    assert res.exit_code == 2 and "missing" in res.stderr
    res = runner.invoke(app, ["search", "exit handlers " * 300, "--db", str(db), "-k", "1"])
    assert res.exit_code == 0 and "limit" in res.stderr


def test_eval_beir_on_a_small_real_cut(tmp_path: Path) -> None:
    """A small cut of NFCorpus (12 test queries, their judged docs and 80 others)."""
    src = shared_data() / "ir" / "nfcorpus"
    qrels_lines = (src / "qrels" / "test.tsv").read_text().splitlines()
    header, rows = qrels_lines[0], [r.split("\t") for r in qrels_lines[1:]]
    keep_q = sorted({r[0] for r in rows})[:12]
    rows = [r for r in rows if r[0] in keep_q]
    judged = {r[1] for r in rows}
    with gzip.open(src / "corpus.jsonl.gz", "rt", encoding="utf-8") as fh:
        docs = [json.loads(x) for x in fh]
    others = [d for d in docs if d["_id"] not in judged][:80]
    keep_docs = [d for d in docs if d["_id"] in judged] + others
    out = tmp_path / "nf-cut"
    (out / "qrels").mkdir(parents=True)
    (out / "corpus.jsonl").write_text("\n".join(json.dumps(d) for d in keep_docs))
    queries = [json.loads(x) for x in (src / "queries.jsonl").read_text().splitlines()]
    (out / "queries.jsonl").write_text(
        "\n".join(json.dumps(q) for q in queries if q["_id"] in set(keep_q))
    )
    (out / "qrels" / "test.tsv").write_text(header + "\n" + "\n".join("\t".join(r) for r in rows))
    res = runner.invoke(app, ["eval", "beir", str(out), "--json"])
    assert res.exit_code == 0, res.output
    m = json.loads(res.stdout)
    for key in (
        "ndcg@10",
        "recall@100",
        "mrr@10",
        "queries",
        "docs",
        "index_seconds",
        "query_seconds",
    ):
        assert key in m
    assert m["queries"] == 12 and m["docs"] == len(keep_docs)
    assert 0.2 < m["ndcg@10"] <= 1.0 and m["recall@100"] > m["ndcg@10"] * 0.5
    res = runner.invoke(app, ["eval", "beir", str(out), "--split", "dev"])
    assert res.exit_code == 3 and "available splits" in res.stderr


def test_console_script_runs(tmp_path: Path) -> None:
    """The installed ``akindb`` entry point, as a real subprocess."""
    exe = Path(sys.executable).with_name("akindb")
    res = subprocess.run(
        [str(exe), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "100"},
        cwd=REPO,
    )
    assert res.returncode == 0 and "index" in res.stdout and "search" in res.stdout


def test_cli_docs_are_current() -> None:
    from akindb.cli.docs import render

    doc = (REPO / "docs" / "cli.md").read_text()
    assert doc == render(), "docs/cli.md is stale: run python -m akindb.cli.docs > docs/cli.md"
