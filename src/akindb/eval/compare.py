"""Compare embedding models (and BM25) on one BEIR dataset: nDCG@10, recall@100, QPS per model.

Each model gets its own collection ``cmp-<model>`` in ``db_path``, built once and reused by later
runs (unchanged documents are not re-embedded); a collection pinned to an older version of a
retrained model folder is dropped and rebuilt. Documents are whole units (``title + " " + text``
truncated at the model's window, as MTEB does). ``bm25`` runs akindb's own keyword search
(SQLite FTS5, porter stemming; ``akindb.retrieval.keyword``) over the first model's collection.

QPS counts the whole query path in one process: embedding the query text and searching (exact
flat or the collection's index), one query after another, after the index is built.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import akindb
from akindb.errors import InvalidArgumentError, ModelMismatchError
from akindb.eval.beir import BeirDataset
from akindb.eval.metrics import evaluate_run
from akindb.eval.run_beir import run_beir

Progress = Callable[[str, int, int], None]
BM25 = "bm25"


@dataclass(frozen=True, slots=True)
class CompareRow:
    model: str
    metrics: dict[str, float]
    qps: float
    index_seconds: float
    queries: int
    docs: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "ndcg@10": round(self.metrics["ndcg@10"], 4),
            "recall@100": round(self.metrics["recall@100"], 4),
            "mrr@10": round(self.metrics.get("mrr@10", float("nan")), 4),
            "qps": round(self.qps, 1),
            "index_seconds": round(self.index_seconds, 1),
            "queries": self.queries,
            "docs": self.docs,
        }


def collection_name(model: str) -> str:
    """A stable collection name for a model name or folder.

    >>> collection_name("minilm")
    'cmp-minilm'
    >>> collection_name("/tmp/models/my model/").startswith("cmp-my-model-")
    True
    """
    if not any(sep in model for sep in ("/", "\\")):
        return "cmp-" + re.sub(r"[^A-Za-z0-9_-]+", "-", model).strip("-").lower()
    p = Path(model).expanduser().resolve()
    h = hashlib.sha256(str(p).encode()).hexdigest()[:8]
    return f"cmp-{re.sub(r'[^A-Za-z0-9_-]+', '-', p.name).strip('-').lower()}-{h}"


def _reset_if_stale(db_path: Path, name: str, model: str) -> None:
    db = akindb.open(db_path)
    try:
        if name in db.list_collections():
            try:
                db.get_collection(name, model=model)
            except ModelMismatchError:
                db.drop_collection(name)  # a retrained model folder: rebuild its collection
    finally:
        db.close()


def _bm25(
    data: BeirDataset, db_path: Path, collection: str, k: int, progress: Progress | None
) -> CompareRow:
    db = akindb.open(db_path, create=False)
    try:
        col = db.get_collection(collection)
        run: dict[str, dict[str, float]] = {}
        qids = list(data.queries)
        t0 = time.perf_counter()
        for n, qid in enumerate(qids, 1):
            hits = col.search(data.queries[qid], k, mode="keyword")
            best: dict[str, float] = {}
            for h in hits:
                best[h.id] = max(h.score, best.get(h.id, float("-inf")))
            run[qid] = best
            if progress is not None and (n % 64 == 0 or n == len(qids)):
                progress("bm25", n, len(qids))
        secs = time.perf_counter() - t0
    finally:
        db.close()
    metrics = evaluate_run(run, data.qrels)
    return CompareRow(
        BM25, metrics, len(qids) / secs if secs else 0.0, 0.0, len(qids), len(data.corpus)
    )


def _prefixed(progress: Progress | None, prefix: str) -> Progress | None:
    if progress is None:
        return None
    inner = progress

    def tick(phase: str, done: int, total: int) -> None:
        inner(f"{prefix}: {phase}", done, total)

    return tick


def compare_beir(
    data: BeirDataset,
    models: Sequence[str],
    *,
    db_path: str | Path,
    k: int = 100,
    progress: Progress | None = None,
    on_row: Callable[[CompareRow], None] | None = None,
) -> list[CompareRow]:
    """One row per model, in the order given (``"bm25"`` for the keyword baseline)."""
    if not models:
        raise InvalidArgumentError("give at least one model to compare")
    db = Path(db_path).expanduser()
    dense = [m for m in models if m.lower() != BM25]
    host = collection_name(dense[0] if dense else "minilm")
    rows: dict[str, CompareRow] = {}
    for m in dense or ["minilm"]:
        name = collection_name(m)
        _reset_if_stale(db, name, m)
        res = run_beir(
            data,
            db_path=db,
            collection=name,
            model="default" if m in ("default", "minilm") else m,
            k=k,
            progress=_prefixed(progress, m),
        )
        row = CompareRow(
            m, res.metrics, res.queries / res.query_seconds if res.query_seconds else 0.0,
            res.index_seconds, res.queries, res.docs,
        )  # fmt: skip
        if m in models:
            rows[m] = row
            if on_row is not None:
                on_row(row)
    for m in models:
        if m.lower() == BM25:
            rows[m] = _bm25(data, db, host, k, progress)
            if on_row is not None:
                on_row(rows[m])
    return [rows[m] for m in models]
