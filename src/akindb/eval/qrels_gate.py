"""Quality of one collection on the user's own judgements, for ``akindb migrate``'s gate.

A qrels folder in the BEIR layout without a corpus (the documents are the collection's own):
``queries.jsonl`` and ``qrels/<split>.tsv`` with document ids as stored. Each query is searched
by meaning (``mode="vector"``: the model is what a migration changes), a document scores as its
best chunk, and nDCG/recall@10 and @100 come from ``akindb.eval.metrics``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from akindb.errors import InvalidArgumentError, NotFoundError
from akindb.eval.beir import _read_qrels, _read_queries
from akindb.eval.metrics import evaluate_run

if TYPE_CHECKING:
    from akindb.collection import Collection

Evaluate = Callable[["Collection"], dict[str, float]]


def load_qrels(root: str | Path, split: str = "test") -> tuple[dict[str, str],
                                                               dict[str, dict[str, int]]]:
    """(queries judged in ``split``, qrels) from ``root``; errors say which file is missing."""
    root = Path(root)
    qfile, rfile = root / "queries.jsonl", root / "qrels" / f"{split}.tsv"
    if not qfile.is_file() or not rfile.is_file():
        raise NotFoundError(
            f"--qrels {root} needs queries.jsonl and qrels/{split}.tsv (the BEIR layout; "
            "document ids as stored in the collection)"
        )
    qrels = _read_qrels(rfile)
    queries = _read_queries(qfile)
    missing = [q for q in qrels if q not in queries]
    if missing:
        raise InvalidArgumentError(
            f"{rfile} judges queries missing from {qfile}: {missing[:5]}; use matching files"
        )
    return {q: queries[q] for q in qrels}, qrels


def qrels_evaluator(root: str | Path, split: str = "test") -> Evaluate:
    """A function scoring a collection on the judgements in ``root`` (read once, now)."""
    queries, qrels = load_qrels(root, split)

    def evaluate(col: Collection) -> dict[str, float]:
        run: dict[str, dict[str, float]] = {}
        for qid, text in queries.items():
            scores: dict[str, float] = {}
            for h in col.search(text, k=100, mode="vector"):
                scores[h.id] = max(scores.get(h.id, -1e9), h.score)
            run[qid] = scores
        return evaluate_run(run, qrels, ks=(10, 100))

    return evaluate
