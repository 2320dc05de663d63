"""A BEIR folder as the top-layer fine-tune's inputs (``akindb train sentence --train-layers``).

``models.finetune_top`` works on indexes (it never imports ``eval/``): the corpus as a list of
``title + text``, each split's queries with their judgements as corpus indexes, and a dev
scorer that ranks the whole corpus by the given vectors and returns the same nDCG@10 that
``akindb eval beir`` reports (top 100 per query, exact search, ``evaluate_run``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from akindb.eval.beir import load_beir
from akindb.eval.metrics import evaluate_run
from akindb.models.finetune_top import Evaluate, Judged


@dataclass(frozen=True, slots=True)
class TuneData:
    corpus: list[str]
    doc_ids: list[str]
    train: Judged
    dev: Judged | None
    evaluate: Evaluate | None


def _judged(qrels: dict[str, dict[str, int]], queries: dict[str, str],
            row: dict[str, int]) -> tuple[Judged, list[str]]:
    qids = [q for q in sorted(qrels) if q in queries]
    rel = [{row[d]: g for d, g in qrels[q].items() if d in row} for q in qids]
    return Judged([queries[q] for q in qids], rel), qids


def dev_scorer(qrels: dict[str, dict[str, int]], qids: list[str], doc_ids: list[str],
               k: int = 100) -> Evaluate:
    """``evaluate(query vectors, corpus vectors) -> nDCG@10`` over the whole corpus."""

    def evaluate(qv: np.ndarray[Any, Any], dv: np.ndarray[Any, Any]) -> float:
        scores = qv @ dv.T
        top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        run = {q: {doc_ids[int(j)]: float(scores[i, j]) for j in top[i]}
               for i, q in enumerate(qids)}
        return evaluate_run(run, {q: qrels[q] for q in qids})["ndcg@10"]

    return evaluate


def load_tune_data(folder: str | Path, split: str = "train",
                   dev_split: str | None = "dev") -> TuneData:
    """The corpus, ``split``'s judged queries and (when the folder has it) ``dev_split``'s."""
    data = load_beir(folder, split)
    doc_ids = [d for d in sorted(data.corpus) if data.corpus[d].full_text]
    row = {d: i for i, d in enumerate(doc_ids)}
    corpus = [data.corpus[d].full_text for d in doc_ids]
    train, _ = _judged(data.qrels, data.queries, row)
    dev = evaluate = None
    if dev_split and (Path(folder) / "qrels" / f"{dev_split}.tsv").is_file():
        d = load_beir(folder, dev_split)
        dev, qids = _judged(d.qrels, d.queries, row)
        evaluate = dev_scorer(d.qrels, qids, doc_ids)
    return TuneData(corpus, doc_ids, train, dev, evaluate)
