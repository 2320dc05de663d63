"""``akindb doctor``: check a database and, with ``fix=True``, repair what is derived.

Checks, each a ``Finding`` (ok / warn / error):

- ``integrity``: SQLite's ``PRAGMA integrity_check`` (the truth itself; not repairable here:
  restore a backup), and FTS5's own integrity check of the keyword index (derived: rebuilt).
- ``orphans``: chunks whose document is gone, chunks filed under another collection than their
  document, documents without chunks, vectors of the wrong byte length, log entries and index
  files of collections that no longer exist. Unreachable rows and stray files are removed by
  ``fix``; a document without chunks is only reported (re-add it: its vectors are lost).
- ``index``: the index file loads, is not ahead of the log, and holds exactly the live chunk
  ids (coverage vs the log); ``fix`` rebuilds it from SQLite.
- ``model``: the pinned model's weights on disk hash to the pin (a changed or missing model
  would silently embed queries differently).
- ``recall``: the recall monitor's live estimate against the collection's target, if sampled.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from akindb.errors import AkinError
from akindb.storage import health, scans
from akindb.storage import keyword_index as fts
from akindb.storage import sqlite as sq

if TYPE_CHECKING:
    from akindb.collection import Collection
    from akindb.db import Database

log = logging.getLogger(__name__)
Level = Literal["ok", "warn", "error"]


@dataclass
class Finding:
    check: str
    level: Level
    message: str
    collection: str | None = None
    fixed: bool = False


@dataclass
class DoctorReport:
    findings: list[Finding] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        """No error left unfixed."""
        return all(f.level != "error" or f.fixed for f in self.findings)

    def add(self, check: str, level: Level, message: str, collection: str | None = None,
            fixed: bool = False) -> None:
        self.findings.append(Finding(check, level, message, collection, fixed))

    def to_dict(self) -> dict[str, Any]:
        return {"healthy": self.healthy, "findings": [asdict(f) for f in self.findings]}


def doctor(db: Database, *, fix: bool = False, check_models: bool = True) -> DoctorReport:
    """Run every check on ``db`` (see the module docstring); ``fix`` repairs derived data."""
    rep = DoctorReport()
    with db.lock, sq.translated(db.file):
        _integrity(db, rep)
        _orphans(db, rep, fix)
        _fts(db, rep, fix)  # after the orphan fix: deleting orphan chunks touches FTS too
    for name in db.list_collections():
        try:
            col = db.get_collection(name)
        except AkinError as exc:
            rep.add("collection", "error", f"cannot open: {exc}", name)
            continue
        _index(col, rep, fix)
        if check_models:
            _model(col, rep)
        _recall(col, rep)
    return rep


def _integrity(db: Database, rep: DoctorReport) -> None:
    rows = health.integrity_problems(db.conn)
    if rows == ["ok"]:
        rep.add("integrity", "ok", "SQLite integrity_check: ok")
    else:
        rep.add("integrity", "error",
                f"SQLite integrity_check failed: {'; '.join(rows[:5])}; the truth is damaged: "
                "restore the latest backup (`akindb restore`)")


def _fts(db: Database, rep: DoctorReport, fix: bool) -> None:
    problem = fts.fts_problem(db.conn)
    if problem is None:
        rep.add("integrity", "ok", "keyword index (FTS5) matches the chunks")
        return
    fixed = False
    if fix:
        with sq.write_txn(db.conn, db.file):
            fts.rebuild_fts(db.conn)
        fixed = True
    rep.add("integrity", "error", f"keyword index (FTS5) disagrees with the chunks ({problem}); "
            + ("rebuilt" if fixed else "run `akindb doctor --fix` to rebuild it"),
            fixed=fixed)


def _orphans(db: Database, rep: DoctorReport, fix: bool) -> None:
    found = False
    for what in health.ORPHANS:
        n = health.count_orphans(db.conn, what)
        if not n:
            continue
        found = True
        if fix:
            with sq.write_txn(db.conn, db.file):
                health.remove_orphans(db.conn, what)
        rep.add("orphans", "error", f"{n} {what}: unreachable; "
                + ("removed" if fix else "`akindb doctor --fix` removes them"), fixed=fix)
    for name, n in health.documents_without_chunks(db.conn):
        found = True
        rep.add("orphans", "warn", f"{n} documents have no chunks (not searchable); re-add "
                "them (their vectors are lost)", name)
    for name, n in health.wrong_size_vectors(db.conn):
        found = True
        rep.add("orphans", "error", f"{n} chunks have vectors of the wrong size; delete and "
                "re-add their documents", name)
    uuids = health.collection_uuids(db.conn)
    if db.index_dir.is_dir():
        for p in sorted(db.index_dir.iterdir()):
            if p.name.split(".")[0] not in uuids and p.is_file():
                found = True
                if fix:
                    p.unlink(missing_ok=True)
                rep.add("orphans", "warn", f"index file {p.name} belongs to no collection; "
                        + ("removed" if fix else "`akindb doctor --fix` removes it"), fixed=fix)
    if not found:
        rep.add("orphans", "ok", "no orphan chunks, documents, vectors, log entries or files")


def _index(col: Collection, rep: DoctorReport, fix: bool) -> None:
    live, name = col.parts.live, col.name
    problem = ""
    if live.path.exists():
        from akindb.index.base import IndexFileError
        from akindb.index.registry import index_class

        try:
            _, header = index_class(live.kind).load(live.path)
            with col.parts.lock:
                head = col.parts.store.head_seq()
            if header.built_seq > head:
                problem = f"index file is ahead of the log (seq {header.built_seq} > {head})"
            elif header.collection_uuid != col.config.uuid:
                problem = "index file belongs to another collection"
        except (AkinError, IndexFileError, OSError, ValueError) as exc:
            problem = f"index file does not load ({exc})"
    if not problem:
        with col.parts.lock:
            index = live.get()
            labels = np.sort(index.labels())
            ids = scans.chunk_ids(col.parts.store.conn, col.config.id)
        if not np.array_equal(labels, ids):
            missing = len(np.setdiff1d(ids, labels))
            extra = len(np.setdiff1d(labels, ids))
            problem = (f"index covers {len(labels)} vectors, the log {len(ids)} chunks "
                       f"({missing} missing, {extra} deleted still present)")
    if not problem:
        st = live.stats()
        rep.add("index", "ok", f"{st['kind']} index covers all {st['size']} chunks at log seq "
                f"{st['built_seq']}", name)
        return
    fixed = False
    if fix:
        with col.parts.lock:
            live.drop()
            live.get()
            live.save()
        fixed = True
    rep.add("index", "error", problem + ("; rebuilt from SQLite" if fixed else
            "; `akindb doctor --fix` rebuilds it from SQLite"), name, fixed)


def _model(col: Collection, rep: DoctorReport) -> None:
    spec = col.config.model
    if spec is None:
        rep.add("model", "ok", f"vectors-only collection (dim {col.dim}): no model to check",
                col.name)
        return
    from akindb.models.registry import load_embedder

    try:
        emb = load_embedder(spec.name)
    except AkinError as exc:
        rep.add("model", "warn", f"pinned model {spec.describe()} cannot be loaded here "
                f"({exc}); text search will fail until it is installed", col.name)
        return
    if spec.same_model(emb.spec):
        rep.add("model", "ok", f"weights on disk match the pin {spec.describe()}", col.name)
    else:
        rep.add("model", "error", f"the weights on disk ({emb.spec.describe()}) differ from "
                f"the pin ({spec.describe()}): queries would not match the stored vectors; "
                "reinstall the pinned weights or migrate (`akindb migrate`)", col.name)


def _recall(col: Collection, rep: DoctorReport) -> None:
    try:
        from akindb.collection.monitor import recall_estimate
    except ImportError:  # pragma: no cover - the monitor ships with this module
        return
    est = recall_estimate(col)
    if est is None or not est.get("samples"):
        rep.add("recall", "ok", "no sampled queries yet (recall monitor)", col.name)
        return
    level: Level = "warn" if est["below_target"] else "ok"
    rep.add("recall", level, f"live recall@{est['k']} estimate {est['recall']:.3f} over "
            f"{est['samples']} sampled queries (target {est['target']})"
            + ("; below target: run `akindb tune`" if est["below_target"] else ""), col.name)
