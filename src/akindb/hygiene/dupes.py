"""``akindb dupes``: exact duplicates (the same content hash) and near-duplicates (a kNN
self-join over the collection's own index), grouped, with an optional delete of all but one.

Near-duplicate documents: every chunk of each one has a chunk of the other at cosine
similarity >= ``threshold`` among its ``k`` nearest neighbours (so a shared boilerplate
paragraph does not make two long documents duplicates; single-chunk documents reduce to "the
two vectors are that close"). Pairs are joined transitively into groups (union-find). The
join reads vectors in batches of ``BATCH`` and asks the collection's index for neighbours, so
memory stays bounded and an HNSW collection does this in far less than n^2; with an
approximate index a pair the index misses is missed here too (recall is the index's).
Which one is kept: the oldest (first added) document of each group.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from akindb.errors import InvalidArgumentError
from akindb.storage import scans
from akindb.storage import sqlite as sq
from akindb.types import Metric

if TYPE_CHECKING:
    from akindb.collection import Collection

BATCH = 2048
DupesProgress = Callable[[str, int, int], None]


@dataclass
class DupeGroup:
    kind: str  # "exact" (all one content hash) or "near"
    keep: str
    duplicates: list[str]
    min_similarity: float


@dataclass
class DupesReport:
    collection: str
    threshold: float
    documents: int = 0
    chunks: int = 0
    groups: list[DupeGroup] = field(default_factory=list)
    deleted: int = 0
    seconds: float = 0.0

    @property
    def duplicate_documents(self) -> int:
        return sum(len(g.duplicates) for g in self.groups)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "duplicate_documents": self.duplicate_documents}


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, x: int) -> int:
        p = self.parent.setdefault(x, x)
        while p != x:
            self.parent[x] = self.parent.setdefault(p, p)
            x, p = p, self.parent[p]
        return p

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def find_dupes(
    col: Collection,
    threshold: float = 0.95,
    *,
    k: int = 10,
    delete: bool = False,
    progress: DupesProgress | None = None,
) -> DupesReport:
    """Group duplicate documents of ``col``; with ``delete=True`` keep one per group."""
    if not 0.0 < threshold <= 1.0:
        raise InvalidArgumentError(f"threshold must be in (0, 1] (cosine), got {threshold}")
    if col.metric is not Metric.COSINE:
        raise InvalidArgumentError(
            f"dupes compares cosine similarity; collection {col.name!r} uses "
            f"{col.metric.value}: export it and import into a cosine collection to check it"
        )
    t0 = time.perf_counter()
    rep = DupesReport(col.name, threshold)
    db, cid = col.parts, col.config.id
    with db.lock, sq.translated(db.db_file):
        docs = scans.document_hashes(db.store.conn, cid)
        n_chunks = scans.chunk_counts(db.store.conn, cid)
        rep.chunks = col.parts.store.count_chunks()
    rep.documents = len(docs)
    name = {rid: doc_id for rid, doc_id, _ in docs}
    uf = _UnionFind()
    sim: dict[tuple[int, int], float] = {}
    by_hash: dict[str, list[int]] = defaultdict(list)
    for rid, _, h in docs:
        by_hash[h].append(rid)
    exact_of: dict[int, str] = {}
    for h, rids in by_hash.items():
        for r in rids[1:]:
            uf.union(rids[0], r)
            sim[(rids[0], r)] = 1.0
        for r in rids:
            exact_of[r] = h
    _near(col, threshold, k, n_chunks, uf, sim, rep.chunks, progress)
    members: dict[int, list[int]] = defaultdict(list)
    for rid, _, _ in docs:
        if rid in uf.parent:
            members[uf.find(rid)].append(rid)
    for rids in members.values():
        if len(rids) < 2:
            continue
        rids.sort()
        kind = "exact" if len({exact_of[r] for r in rids}) == 1 else "near"
        sims = [s for (a, b), s in sim.items() if uf.find(a) == rids[0] and uf.find(b) == rids[0]]
        rep.groups.append(DupeGroup(kind, name[rids[0]], [name[r] for r in rids[1:]],
                                    round(min(sims) if sims else 1.0, 6)))
    rep.groups.sort(key=lambda g: (g.kind != "exact", -len(g.duplicates), g.keep))
    if delete and rep.groups:
        rep.deleted = col.delete([d for g in rep.groups for d in g.duplicates])
    rep.seconds = time.perf_counter() - t0
    return rep


def _near(col: Collection, threshold: float, k: int, n_chunks: dict[int, int],
          uf: _UnionFind, sim: dict[tuple[int, int], float], total: int,
          progress: DupesProgress | None) -> None:
    """The kNN self-join: for each chunk its ``k`` nearest (own document excluded)."""
    db, cid = col.parts, col.config.id
    # (doc a, doc b) -> chunks of a that found a match in b, and the smallest similarity
    covered: dict[tuple[int, int], set[int]] = defaultdict(set)
    low: dict[tuple[int, int], float] = {}
    doc_of: dict[int, int] = {}
    last, done = -1, 0
    kk = min(k + 1, max(total, 1))
    while True:
        with db.lock, sq.translated(db.db_file):
            rows = scans.chunks_after(db.store.conn, cid, last, BATCH)
        if not rows:
            break
        last = rows[-1][0]
        vecs = np.frombuffer(b"".join(r[2] for r in rows), dtype="<f4").reshape(
            len(rows), col.dim).astype(np.float32)
        with db.lock:  # as tune does: the index directly, so the recall monitor does not
            live = col.parts.live  # take these stored vectors for real queries
            labels, scores = live.get().search(live.prep(vecs), kk)
        need = np.unique(labels[labels >= 0])
        missing = [int(x) for x in need.tolist() if int(x) not in doc_of]
        with db.lock, sq.translated(db.db_file):
            doc_of.update(scans.documents_of_chunks(db.store.conn, missing))
        for (chunk_id, doc, _), lab, sc in zip(rows, labels, scores, strict=True):
            for other, s in zip(lab.tolist(), sc.tolist(), strict=True):
                if other < 0 or other == chunk_id or s < threshold:
                    continue
                odoc = doc_of.get(other)
                if odoc is None or odoc == doc:
                    continue
                covered[(doc, odoc)].add(chunk_id)
                low[(doc, odoc)] = min(low.get((doc, odoc), 1.0), float(s))
        done += len(rows)
        if progress is not None:
            progress("dupes", done, total)
    for (a, b), chunks in covered.items():
        if a < b and len(chunks) >= n_chunks.get(a, 0) and len(covered.get((b, a), ())) >= \
                n_chunks.get(b, 0):
            uf.union(a, b)
            sim[(a, b)] = min(low[(a, b)], low.get((b, a), 1.0))
