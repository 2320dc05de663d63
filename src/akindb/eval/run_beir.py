"""Run a BEIR evaluation through a real collection: index the corpus, search every query.

By default each document (``title + " " + text``) is one unit truncated at the model's limit, as
MTEB does, so the number is comparable with published ones. ``chunked=True`` uses the
collection's own chunking instead, and a document scores as its best chunk.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import akindb
from akindb.collection import Collection
from akindb.eval.beir import BeirDataset
from akindb.eval.metrics import evaluate_run, score_distribution

Progress = Callable[[str, int, int], None]
"""Called as ``(phase, done, total)`` with phase "index" or "search"."""


@dataclass(frozen=True)
class BeirResult:
    metrics: dict[str, float]
    queries: int
    docs: int
    index_seconds: float
    query_seconds: float
    chunked: bool
    extra: dict[str, Any]
    mode: str = "vector"

    def to_dict(self) -> dict[str, Any]:
        return {
            **{k: round(v, 5) for k, v in self.metrics.items()},
            "queries": self.queries,
            "docs": self.docs,
            "index_seconds": round(self.index_seconds, 2),
            "query_seconds": round(self.query_seconds, 3),
            "chunked": self.chunked,
            "mode": self.mode,
            **self.extra,
        }


def run_beir(
    data: BeirDataset,
    *,
    db_path: str | Path | None = None,
    collection: str | None = None,
    model: str = "default",
    chunked: bool = False,
    k: int = 100,
    progress: Progress | None = None,
    mode: str = "vector",
    index: str = "flat",
    index_params: dict[str, Any] | None = None,
) -> BeirResult:
    """Index ``data.corpus`` (reusing an existing collection in ``db_path``) and evaluate.

    ``mode`` is ``Collection.search``'s: ``vector`` (queries embedded in batches), ``keyword``
    (BM25) or ``hybrid`` (one ``search`` call per query). The score distribution of relevant vs
    non-relevant top-10 hits is reported for the vector mode (its scores are the metric's).
    ``index``/``index_params`` choose the collection's index (a new collection per kind, so the
    quality cost of an approximate index shows next to ``flat``'s exact answers).
    """
    from akindb.retrieval.request import check_mode

    check_mode(mode)
    suffix = ("-chunked" if chunked else "") + ("" if index == "flat" else f"-{index}")
    name = collection or f"beir-{data.name}{suffix}"
    with tempfile.TemporaryDirectory(prefix="akindb-beir-") as tmp:
        db = akindb.open(db_path or tmp)
        try:
            col = db.get_or_create_collection(
                name, model=model, index=index, index_params=index_params
            )
            t0 = time.perf_counter()
            _index(col, data, chunked, progress)
            index_s = time.perf_counter() - t0
            t1 = time.perf_counter()
            if mode == "vector":
                run = _search(col, data, k, chunked, progress)
            else:
                run = _search_text(col, data, k, chunked, mode, progress)
            query_s = time.perf_counter() - t1
        finally:
            db.close()
    metrics = evaluate_run(run, data.qrels)
    extra: dict[str, Any] = {"index": index}
    if mode == "vector":
        dist = score_distribution(run, data.qrels, k=10)
        extra["score_distribution@10"] = {
            "relevant": asdict(dist.relevant),
            "non_relevant": asdict(dist.non_relevant),
        }
    return BeirResult(
        metrics, len(data.queries), len(data.corpus), index_s, query_s, chunked, extra, mode
    )


def _index(col: Collection, data: BeirDataset, chunked: bool, progress: Progress | None) -> None:
    ids = list(data.corpus)
    step = 512
    for lo in range(0, len(ids), step):
        part = ids[lo : lo + step]
        texts = [data.corpus[i].full_text or data.corpus[i].id for i in part]
        col.add(texts, ids=part, chunk=chunked)
        if progress is not None:
            progress("index", min(lo + step, len(ids)), len(ids))
    col.flush()


def _search(
    col: Collection, data: BeirDataset, k: int, chunked: bool, progress: Progress | None
) -> dict[str, dict[str, float]]:
    qids = list(data.queries)
    vecs = col.embedder.embed([data.queries[q] for q in qids], role="query")
    run: dict[str, dict[str, float]] = {}
    step = 64
    # A document scores as its best chunk; ask for more chunks so k documents remain.
    kk = k * 4 if chunked else k
    for lo in range(0, len(qids), step):
        hits = col.search_vectors(vecs[lo : lo + step], kk)
        for qid, row in zip(qids[lo : lo + step], hits, strict=True):
            best: dict[str, float] = {}
            for h in row:
                if h.score > best.get(h.id, float("-inf")):
                    best[h.id] = h.score
            top = sorted(best.items(), key=lambda x: -x[1])[:k]
            run[qid] = dict(top)
        if progress is not None:
            progress("search", min(lo + step, len(qids)), len(qids))
    return run


def _search_text(
    col: Collection,
    data: BeirDataset,
    k: int,
    chunked: bool,
    mode: str,
    progress: Progress | None,
) -> dict[str, dict[str, float]]:
    """One ``Collection.search(text, mode=...)`` per query (keyword and hybrid modes)."""
    qids = list(data.queries)
    run: dict[str, dict[str, float]] = {}
    kk = k * 4 if chunked else k
    for n, qid in enumerate(qids, 1):
        best: dict[str, float] = {}
        text = data.queries[qid]
        hits = col.search(text, kk, mode=mode) if text.strip() else []  # type: ignore[arg-type]
        for h in hits:
            if h.score > best.get(h.id, float("-inf")):
                best[h.id] = h.score
        run[qid] = dict(sorted(best.items(), key=lambda x: -x[1])[:k])
        if progress is not None and (n % 64 == 0 or n == len(qids)):
            progress("search", n, len(qids))
    return run
