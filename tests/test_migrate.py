"""migrate: shadow collection, resumable, evaluated on qrels (or neighbour agreement), an
atomic switch only when the gate passes, the old collection kept; the same model is a no-op."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import akindb
from akindb import migrate as mig
from akindb.eval.qrels_gate import qrels_evaluator
from tests.conftest import HashEmbedder

POOR = HashEmbedder(dim=4, name="poor-hash")  # 4 buckets: words collide, neighbours blur
GOOD = HashEmbedder(dim=256, name="good-hash")
WORDS = [f"w{i}" for i in range(60)]


def _texts(n: int = 60) -> list[str]:
    rng = np.random.default_rng(0)
    return [" ".join(rng.choice(WORDS, 5, replace=False)) for _ in range(n)]


def _db(tmp_path: Path, emb: HashEmbedder) -> akindb.Database:
    db = akindb.open(tmp_path / "db")
    db.create_collection("docs", model=emb).add(
        _texts(), ids=[f"d{i}" for i in range(60)],
        metadatas=[{"n": i} for i in range(60)], sources=[f"s{i}" for i in range(60)])
    return db


def _qrels(tmp_path: Path) -> Path:
    """Each query is a document's own words in another order: its document is the answer."""
    root = tmp_path / "qrels"
    (root / "qrels").mkdir(parents=True)
    texts = _texts()
    with (root / "queries.jsonl").open("w") as fh:
        for i in range(0, 60, 3):
            fh.write(json.dumps({"_id": f"q{i}", "text": " ".join(reversed(texts[i].split()))})
                     + "\n")
    (root / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"q{i}\td{i}\t1\n" for i in range(0, 60, 3)))
    return root


def test_same_model_is_a_noop(tmp_path: Path) -> None:
    db = _db(tmp_path, GOOD)
    rep = mig.migrate(db, "docs", GOOD)
    assert rep.noop and "nothing to migrate" in rep.note and not rep.switched
    assert db.list_collections() == ["docs"]
    db.close()


def test_better_model_passes_the_gate_and_switches(tmp_path: Path) -> None:
    db = _db(tmp_path, POOR)
    before = {r.id: r for r in db.get_collection("docs").get()}
    rep = mig.migrate(db, "docs", GOOD, evaluate=qrels_evaluator(_qrels(tmp_path)), gate=0.0)
    assert rep.new_metrics["ndcg@10"] > rep.old_metrics["ndcg@10"]
    assert rep.passed and rep.switched and rep.embedded == 60
    col = db.get_collection("docs")
    assert col.dim == 256 and col.config.model is not None
    assert col.config.model.name == "good-hash"
    after = {r.id: r for r in col.get()}
    assert {k: (r.text, r.source, r.metadata, r.content_hash) for k, r in after.items()} == {
        k: (r.text, r.source, r.metadata, r.content_hash) for k, r in before.items()}
    # the old collection is kept, pinned to its own model, until the user drops it
    kept = db.get_collection(rep.kept_as or "")
    assert kept.dim == 4 and kept.count() == 60
    assert sorted(db.list_collections()) == sorted(["docs", rep.kept_as])
    db.close()


def test_worse_model_fails_the_gate_and_nothing_switches(tmp_path: Path) -> None:
    db = _db(tmp_path, GOOD)
    rep = mig.migrate(db, "docs", POOR, evaluate=qrels_evaluator(_qrels(tmp_path)), gate=0.0)
    assert not rep.passed and not rep.switched and "NOT passed" in rep.note
    assert db.get_collection("docs").dim == 256
    assert rep.shadow in db.list_collections()  # kept for inspection; re-running resumes
    db.close()


def test_without_qrels_reports_agreement_and_switches_only_when_accepted(tmp_path: Path) -> None:
    db = _db(tmp_path, POOR)
    rep = mig.migrate(db, "docs", GOOD)
    assert rep.agreement is not None and 0.0 <= rep.agreement <= 1.0
    assert not rep.switched and "--accept" in rep.note
    again = mig.migrate(db, "docs", GOOD, accept=True)
    assert again.skipped == 60 and again.embedded == 0  # the shadow was already complete
    assert again.switched and db.get_collection("docs").dim == 256
    db.close()


def test_resumes_after_an_interruption(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = _db(tmp_path, POOR)
    monkeypatch.setattr(mig, "BATCH", 7)
    calls = []

    def stop_after_two(phase: str, done: int, total: int) -> None:
        calls.append(done)
        if len(calls) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        mig.migrate(db, "docs", GOOD, progress=stop_after_two)
    shadow = db.get_collection(mig.shadow_name("docs", GOOD))
    assert shadow.count() == 14
    # meanwhile the source changes: one edited, one deleted
    src = db.get_collection("docs")
    src.upsert(["w1 w2 w3 edited"], ids=["d0"])
    src.delete(["d5"])
    rep = mig.migrate(db, "docs", GOOD, accept=True)
    assert rep.skipped == 12 and rep.embedded == 59 - 12 and rep.removed == 1
    col = db.get_collection("docs")
    assert col.count() == 59 and col.get("d0")[0].text == "w1 w2 w3 edited"
    db.close()


def test_qrels_folder_errors(tmp_path: Path) -> None:
    from akindb.eval.qrels_gate import load_qrels

    with pytest.raises(akindb.errors.NotFoundError, match=r"queries\.jsonl and qrels/test\.tsv"):
        load_qrels(tmp_path)
    root = _qrels(tmp_path)
    (root / "queries.jsonl").write_text('{"_id": "other", "text": "x"}\n')
    with pytest.raises(akindb.InvalidArgumentError, match="judges queries missing"):
        load_qrels(root)
