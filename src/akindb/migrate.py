"""Move a collection to another embedding model without a window of mixed or missing vectors.

1. **Shadow**: every document is re-chunked and re-embedded by the new model into a shadow
   collection (``NAME.migrate-<model hash>``), in batches, each one committed: an interrupted
   migration resumes where it stopped (documents already there with the same content hash are
   skipped), and documents changed or deleted in the source meanwhile are caught up at the end.
2. **Evaluate** old against new: with an ``evaluate`` function returning metrics with
   ``ndcg@10`` (``akindb.eval.qrels_gate.qrels_evaluator(DIR)`` scores the user's qrels with the
   eval code; the CLI's ``--qrels`` wires it in, keeping ``eval`` out of the library's imports);
   without, by neighbour agreement (each sampled document's text as a query: how many of the
   top-k documents the two models share), which says how much answers change, not which is
   better.
3. **Switch** only when the gate passes (new nDCG@10 - old >= ``gate``); without qrels only
   when asked (``accept=True``). The switch is one SQLite transaction renaming the old
   collection to ``NAME.pre-migrate-<time>`` (kept until the user drops it) and the shadow to
   ``NAME``. A collection never holds vectors of two models; the same model is a no-op.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from akindb.errors import CollectionNotFoundError, InvalidArgumentError
from akindb.storage import scans
from akindb.storage import sqlite as sq

if TYPE_CHECKING:
    from akindb.collection import Collection
    from akindb.db import Database
    from akindb.models.base import Embedder

MigrateProgress = Callable[[str, int, int], None]
BATCH = 256
AGREEMENT_SAMPLE = 200


@dataclass
class MigrationReport:
    collection: str
    old_model: str | None
    new_model: str
    shadow: str
    noop: bool = False
    note: str = ""
    embedded: int = 0
    skipped: int = 0
    removed: int = 0
    old_metrics: dict[str, float] = field(default_factory=dict)
    new_metrics: dict[str, float] = field(default_factory=dict)
    agreement: float | None = None
    gate: float = 0.0
    passed: bool = False
    switched: bool = False
    kept_as: str | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def shadow_name(name: str, emb: Embedder) -> str:
    return f"{name}.migrate-{hashlib.sha256(emb.spec.to_json().encode()).hexdigest()[:8]}"


def migrate(
    db: Database,
    name: str,
    model: str | Embedder,
    *,
    evaluate: Callable[[Collection], dict[str, float]] | None = None,
    gate: float = 0.0,
    accept: bool = False,
    switch: bool = True,
    progress: MigrateProgress | None = None,
) -> MigrationReport:
    """Re-embed collection ``name`` with ``model`` beside it, compare, switch if not worse."""
    t0 = time.perf_counter()
    from akindb.collection.database import _resolve_model

    col = db.get_collection(name)
    emb = _resolve_model(model)
    assert emb is not None
    old = col.config.model
    rep = MigrationReport(name, old.describe() if old else None, emb.spec.describe(),
                          shadow_name(name, emb), gate=gate)
    if old is not None and old.same_model(emb.spec):
        rep.noop = True
        rep.note = (f"collection {name!r} already uses {emb.spec.describe()}: nothing to "
                    "migrate")
        return rep
    shadow = _shadow(db, col, emb, rep.shadow)
    _fill(col, shadow, rep, progress)
    if evaluate is not None:
        if progress is not None:
            progress("evaluate", 0, 2)
        rep.old_metrics = evaluate(col)
        if progress is not None:
            progress("evaluate", 1, 2)
        rep.new_metrics = evaluate(shadow)
        if progress is not None:
            progress("evaluate", 2, 2)
        delta = rep.new_metrics["ndcg@10"] - rep.old_metrics["ndcg@10"]
        rep.passed = delta >= gate
        rep.note = (f"nDCG@10 {rep.old_metrics['ndcg@10']:.4f} -> "
                    f"{rep.new_metrics['ndcg@10']:.4f} ({delta:+.4f}; gate {gate:+.4f}: "
                    + ("passed" if rep.passed else "NOT passed, the old collection stays") + ")")
    else:
        rep.agreement = _agreement(col, shadow, progress)
        rep.passed = accept
        rep.note = (f"no qrels: the models agree on {rep.agreement:.1%} of top-10 neighbours; "
                    + ("switching as asked (accept)" if accept else
                       "give --qrels to compare quality, or --accept to switch anyway"))
    if rep.passed and switch:
        rep.kept_as = _switch(db, name, rep.shadow)
        rep.switched = True
    rep.seconds = time.perf_counter() - t0
    return rep


def _shadow(db: Database, col: Collection, emb: Embedder, shadow: str) -> Collection:
    try:
        existing = db.get_collection(shadow)
    except CollectionNotFoundError:
        from akindb.text.chunking import ChunkingParams

        chunking = ChunkingParams(**{**col.config.chunking.to_dict(),
                                     "max_tokens": emb.spec.max_tokens})
        if chunking.overlap_tokens > chunking.budget // 2:
            chunking = ChunkingParams(**{**chunking.to_dict(),
                                         "overlap_tokens": chunking.budget // 4})
        return db.create_collection(shadow, model=emb, metric=col.metric,
                                    index=col.config.index_kind,
                                    index_params=col.config.index_params or None,
                                    chunking=chunking)
    existing.check_model(emb)  # a shadow of another model under this name: refuse
    existing.use_model(emb)
    return existing


def _fill(col: Collection, shadow: Collection, rep: MigrationReport,
          progress: MigrateProgress | None) -> None:
    """Copy every document into the shadow, re-embedded; resumable (skips same hashes)."""
    db = col.parts
    total = col.count()
    last, done = -1, 0
    seen: set[str] = set()
    while True:
        with db.lock, sq.translated(db.db_file):
            rows = scans.documents_after(db.store.conn, col.config.id, last, BATCH)
            have = shadow.parts.store.hashes([r[1] for r in rows]) if rows else {}
        if not rows:
            break
        last = rows[-1][0]
        todo = [r for r in rows if have.get(r[1]) != r[5]]
        seen.update(r[1] for r in rows)
        empty = [r[1] for r in todo if not r[2].strip()]
        if empty:
            raise InvalidArgumentError(
                f"documents {empty[:5]} have no text (vectors added directly): they cannot be "
                "re-embedded by another model; delete them or re-add them with text first"
            )
        if todo:
            _copy(shadow, todo)
        rep.embedded += len(todo)
        rep.skipped += len(rows) - len(todo)
        done += len(rows)
        if progress is not None:
            progress("embed", done, total)
    with db.lock, sq.translated(db.db_file):
        stale = [d for d in scans.doc_ids(db.store.conn, shadow.config.id) if d not in seen]
    if stale:
        rep.removed = shadow.delete(stale)


def _copy(shadow: Collection, rows: list[Any]) -> None:
    """Re-chunk and embed ``rows`` with the shadow's model; keep id, text, source, metadata
    and the content hash (so a re-run recognises them)."""
    import json

    from akindb.text.chunking import chunk_text

    texts = [r[2] for r in rows]
    chunks = [chunk_text(t, kind="text", count_tokens=shadow.embedder.count_tokens,
                         params=shadow.config.chunking) for t in texts]
    flat = [c.text for cs in chunks for c in cs]
    vecs = shadow.embedder.embed(flat)
    db = shadow.parts
    with db.lock, sq.write_txn(db.store.conn, db.db_file):
        shadow.parts.store.delete_documents([r[1] for r in rows])
        lo = 0
        for r, cs in zip(rows, chunks, strict=True):
            shadow.parts.store.insert_document(
                r[1], source=r[3], text=r[2], content_hash=r[5], metadata=json.loads(r[4]),
                chunks=cs, vectors=vecs[lo : lo + len(cs)],
            )
            lo += len(cs)


def _agreement(old: Collection, new: Collection, progress: MigrateProgress | None,
               k: int = 10) -> float:
    """Mean share of top-``k`` documents the two collections agree on, over up to
    ``AGREEMENT_SAMPLE`` stored documents' first chunks used as queries."""
    with old.parts.lock:
        texts = scans.first_chunk_texts(old.parts.store.conn, old.config.id, AGREEMENT_SAMPLE)
    if not texts:
        return 1.0
    total = 0.0
    for i, t in enumerate(texts, 1):
        a = _top_docs(old, t, k)
        b = _top_docs(new, t, k)
        total += len(a & b) / max(len(a), len(b), 1)
        if progress is not None:
            progress("agreement", i, len(texts))
    return total / len(texts)


def _top_docs(col: Collection, text: str, k: int) -> set[str]:
    out: list[str] = []
    for h in col.search(text, k=3 * k, mode="vector"):
        if h.id not in out:
            out.append(h.id)
    return set(out[:k])


def _switch(db: Database, name: str, shadow: str) -> str:
    """One transaction: ``name`` -> ``name.pre-migrate-<time>``, ``shadow`` -> ``name``."""
    kept = f"{name}.pre-migrate-{time.strftime('%Y%m%d%H%M%S')}"
    db.rename_collections([(name, kept), (shadow, name)])
    return kept
