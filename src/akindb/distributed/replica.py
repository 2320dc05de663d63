"""One replica of one shard: an embedded akindb database on its node, run as a Ray actor.

Roles and ordering. Each shard has one primary per *epoch* (set by the collection's
controller). A write reaches the primary, which applies it through the embedded
``Collection`` (its validation, chunking, pinned model and one SQLite transaction), reads the
stored rows back, gives the operation the shard's next sequence number and sends the rows to
every other replica; it answers only when every live replica has committed. A replica applies
operation ``seq`` only after ``seq - 1`` (a gap makes the primary resend from its log) and
refuses any operation of an older epoch, so a primary that was failed over cannot write again:
its first replication is refused and it steps down.

Catch-up. A replica that Ray restarted (``max_restarts``), possibly on another node with an
empty directory, starts *not ready* and serves no reads. The controller has it ``sync_from``
the primary: it compares ``doc id -> content hash`` with the primary's snapshot, copies what
differs (rows with their vectors, nothing re-embedded), deletes what the primary lacks, then
replays the primary's in-memory log past the snapshot until nothing is missing. Every apply is
idempotent (same id and content hash: skipped; delete of an absent id: nothing), so replaying
after a crash between commit and bookkeeping is harmless.

The operation log is kept in memory (``LOG_KEEP`` entries); a replica further behind than that
takes the snapshot path. The applied sequence number and epoch are saved beside the database.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

from akindb.distributed.errors import NotPrimaryError, NotReadyError
from akindb.distributed.rows import DocRow, delete_rows, fingerprints, put_rows, read_rows
from akindb.errors import ModelMismatchError
from akindb.models.base import ModelSpec
from akindb.storage.atomic import atomic_write_bytes

log = logging.getLogger(__name__)

LOG_KEEP = 4096
"""Operations kept in memory for catch-up; further behind, a replica copies a snapshot."""
REPLICATE_TIMEOUT_S = 10.0
"""How long a primary waits for one replica's commit before treating it as not live."""
SYNC_BATCH = 128
READS = frozenset({
    "search", "search_vectors", "get", "count", "count_chunks", "tokenize", "vectors_of",
    "index_stats", "info", "more_like",
})
OWN_READS = frozenset({"rows", "hashes", "export_rows", "chunking"})
MAINTENANCE = frozenset({"tune", "compact", "flush"})

Op = tuple[str, Any]  # ("put", list[DocRow]) | ("del", list[str])


def _unwrap(exc: BaseException) -> BaseException:
    cause = getattr(exc, "cause", None)
    return cause if isinstance(cause, BaseException) else exc


PROBE_S = 0.4
"""How often a primary waiting on a peer pings it; a ping unanswered this long means the
peer is not live for this write (its node died, or it restarts)."""


def _await_peer(ref: Any, peer: Any, deadline: float) -> Any:
    """A peer's answer to ``ref``. The peer is pinged at once and every ``PROBE_S`` while no
    answer comes; a peer that does not answer a ping within ``PROBE_S`` (its node died) is
    not live for this write: ``TimeoutError``, instead of waiting for Ray to notice the
    death (about 2 s on a local cluster, longer on a real one)."""
    import ray

    ping = peer.ping.remote()
    while True:
        done, _ = ray.wait([ref], timeout=PROBE_S)
        if done:
            return ray.get(ref, timeout=0)
        if time.monotonic() > deadline:
            raise TimeoutError("replication deadline passed")
        alive, _ = ray.wait([ping], timeout=0)
        if not alive:
            done, _ = ray.wait([ref], timeout=0)
            if done:
                return ray.get(ref, timeout=0)
            raise TimeoutError("the replica does not answer")
        ping = peer.ping.remote()


class ShardReplica:
    """The actor body (wrapped by ``ray.remote`` in ``akindb.distributed.cluster``)."""

    def __init__(self, root: str, name: str, shard: int, index: int, spec: dict[str, Any]) -> None:
        import ray

        from akindb.db import Database

        ctx = ray.get_runtime_context()
        self.node_id = ctx.get_node_id()
        self.shard, self.index = shard, index
        # One directory per (node, replica): a replica restarted on another node starts empty
        # there and copies a snapshot, as it would on a real cluster with local disks.
        self.dir = Path(root) / "nodes" / self.node_id[:16] / name / f"s{shard}r{index}"
        self.db = Database(self.dir)
        create = {k: spec[k] for k in ("model", "metric", "dim", "index", "index_params")}
        self.col = self.db.get_or_create_collection(name, **create)
        pinned = spec.get("pinned")
        if pinned and self.col.config.model is not None:
            want = ModelSpec.from_json(pinned)
            if not want.same_model(self.col.config.model):
                raise ModelMismatchError(
                    f"collection {name!r} is pinned cluster-wide to {want.describe()} but node "
                    f"{self.node_id[:12]} has {self.col.config.model.describe()}; install the "
                    "same model on every node"
                )
        if self.col.config.model is not None:
            _ = self.col.embedder  # load once now, not inside the first query's deadline
        self._state_file = self.dir / "replica.json"
        saved = self._load_state()
        self.applied: int = int(saved.get("applied", 0))
        self.epoch: int = int(saved.get("epoch", 0))
        self.role = "secondary"  # only the controller makes a primary (never a restart)
        fresh = not ctx.was_current_actor_reconstructed and self.applied == 0
        self.ready = fresh
        self.syncing = False
        self._missed = 0
        self.peers: list[Any] = []
        self.not_live = 0
        """Writes that found a peer not live (each such write waited for its probe)."""
        self._down: set[int] = set()
        """Peers (replica indexes) this primary no longer waits for: found not live during a
        write, or down at promotion. They are sent nothing until they catch up
        (``sync_from``) and ``rejoin``."""
        self._log: deque[tuple[int, Op]] = deque(maxlen=LOG_KEEP)
        self._state_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._log_lock = threading.Lock()

    # ---- bookkeeping ---------------------------------------------------------------------------
    def _load_state(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(self._state_file.read_text(encoding="utf-8"))
            return data
        except (OSError, ValueError):
            return {}

    def _save_state(self) -> None:
        body = json.dumps({"applied": self.applied, "epoch": self.epoch}).encode()
        atomic_write_bytes(self._state_file, body)

    def _apply(self, op: Op) -> int:
        kind, payload = op
        if kind == "put":
            return put_rows(self.col, payload)
        return delete_rows(self.col, payload)

    def _record(self, seq: int, op: Op) -> None:
        with self._log_lock:
            self._log.append((seq, op))
        self.applied = seq
        self._save_state()

    def state(self) -> dict[str, Any]:
        """Role, epoch, applied sequence number, readiness and size (``cluster.status``)."""
        return {
            "shard": self.shard, "replica": self.index, "node": self.node_id,
            "role": self.role, "epoch": self.epoch, "applied": self.applied,
            "ready": self.ready, "syncing": self.syncing, "documents": self.col.count(),
            "down": sorted(self._down), "not_live": self.not_live,
        }

    # ---- reads and maintenance -------------------------------------------------------------
    def read(self, method: str, args: Sequence[Any], kwargs: dict[str, Any]) -> Any:
        """Run a read method of the embedded collection; refused while catching up."""
        if method not in READS and method not in OWN_READS:
            raise ValueError(f"not a read: {method}")
        if not self.ready:
            raise NotReadyError(f"shard {self.shard} replica {self.index} is catching up")
        target = self if method in OWN_READS else self.col
        return getattr(target, method)(*args, **kwargs)

    def maintain(self, method: str, args: Sequence[Any], kwargs: dict[str, Any]) -> Any:
        """Index maintenance is per replica (derived data, not logged)."""
        if method not in MAINTENANCE:
            raise ValueError(f"not a maintenance call: {method}")
        return getattr(self.col, method)(*args, **kwargs)

    def rows(self, ids: Sequence[str]) -> list[DocRow]:
        return read_rows(self.col, ids)

    def hashes(self, ids: Sequence[str]) -> dict[str, str]:
        with self.db.lock:
            return self.col.parts.store.hashes(list(ids))

    def chunking(self) -> dict[str, Any]:
        return self.col.config.chunking.to_dict()

    def export_rows(self, offset: int, limit: int) -> list[DocRow]:
        recs = self.col.get(limit=limit, offset=offset)
        return read_rows(self.col, [r.id for r in recs])

    def snapshot(self) -> tuple[int, int, dict[str, str]]:
        """``(applied, epoch, id -> fingerprint)`` (content hash and metadata digest), taken
        between writes."""
        with self._write_lock:
            return self.applied, self.epoch, fingerprints(self.col)

    def log_since(self, seq: int) -> list[tuple[int, Op]] | None:
        """Operations after ``seq``, or None when the in-memory log no longer reaches back."""
        with self._log_lock:
            if seq >= self.applied:
                return []
            if not self._log or self._log[0][0] > seq + 1:
                return None
            return [(s, op) for s, op in self._log if s > seq]

    # ---- roles -----------------------------------------------------------------------------
    def promote(self, epoch: int, peers: list[Any], down: Sequence[int] = ()) -> dict[str, Any]:
        """Become the primary of ``epoch`` (called by the controller only). ``peers`` are the
        shard's other replicas in index order; ``down`` the indexes of those that did not
        answer the controller (a write does not wait for them: they catch up and rejoin)."""
        with self._state_lock, self._write_lock:
            if epoch < self.epoch:
                raise NotPrimaryError(f"epoch {epoch} is older than this replica's {self.epoch}")
            self.epoch, self.role, self.peers = epoch, "primary", list(peers)
            self._down = set(down)
            self.ready, self.syncing = True, False
            self._save_state()
        return self.state()

    def _peer_index(self, j: int) -> int:  # peers are the other replicas, in index order
        return j if j < self.index else j + 1

    def rejoin(self, index: int, epoch: int, applied: int) -> bool:
        """A peer caught up from this primary to ``applied``: under the write lock, send it
        what was written since, then writes wait for it again. False: it must catch up again
        (not the primary any more, the log no longer reaches back, the peer refused)."""
        import ray

        with self._write_lock:
            if self.role != "primary" or epoch > self.epoch:
                return False
            entries = self.log_since(applied)
            if entries is None:
                return False
            if entries:
                j = index if index < self.index else index - 1
                status, _, _ = ray.get(self.peers[j].replicate_many.remote(self.epoch, entries),
                                       timeout=REPLICATE_TIMEOUT_S)
                if status != "ok":
                    return False
            self._down.discard(index)
            return True

    def behind(self, seq: int) -> None:
        """The primary acknowledged ``seq`` without this replica (not live, or too slow) and
        sends it nothing more: serve no reads until the controller has it catch up, after
        which it rejoins (even if it got ``seq`` after all: it must rejoin to get more)."""
        with self._state_lock:
            if self.role != "primary" and not self.syncing:
                self.ready = False

    def fence(self, epoch: int) -> None:
        """Learn of a newer epoch: a primary of an older one steps down."""
        with self._state_lock:
            if epoch > self.epoch:
                self.epoch, self.role = epoch, "secondary"
                self._save_state()

    # ---- the write path (primary) ------------------------------------------------------------
    def write(self, epoch: int, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Apply one write as the primary of ``epoch``; returns once every live replica has it."""
        with self._write_lock:
            if self.role != "primary" or epoch != self.epoch:
                raise NotPrimaryError(
                    f"shard {self.shard} replica {self.index} is {self.role} of epoch "
                    f"{self.epoch}, not the primary of epoch {epoch}"
                )
            before = fingerprints(self.col, self._ids_of(kind, payload))
            result, touched = self._local_write(kind, payload)
            after = fingerprints(self.col, touched)
            changed = [d for d in touched if before.get(d) != after.get(d)]
            op: Op = (("del", touched) if kind in ("delete", "prune")
                      else ("put", read_rows(self.col, changed)))
            seq = self.applied + 1
            self._record(seq, op)
            acked = self._replicate(seq, op)
        return {"result": result, "seq": seq, "replicas": acked}

    @staticmethod
    def _ids_of(kind: str, p: dict[str, Any]) -> list[str]:
        """The documents a write may change (their fingerprints are taken before it)."""
        if kind in ("add", "upsert", "update"):
            return [str(i) for i in p["ids"]]
        if kind == "put":
            return [r.id for r in p["rows"]]
        if kind == "files":
            return [d for d, _, _ in p["files"]]
        return []

    def _local_write(self, kind: str, p: dict[str, Any]) -> tuple[Any, list[str]]:
        """Apply one write to this primary's collection: ``(result, ids it may change)``."""
        col = self.col
        if kind in ("add", "upsert"):
            fn = col.add if kind == "add" else col.upsert
            ids = fn(p["texts"], ids=p["ids"], metadatas=p["metadatas"], vectors=p["vectors"],
                     sources=p["sources"], chunk=p["chunk"])
            return ids, list(ids)
        if kind == "update":  # read, merge and write under this shard's one writer: atomic
            ids = col.update(p["ids"], texts=p["texts"], metadatas=p["metadatas"],
                             chunk=p["chunk"])
            return ids, list(ids)
        if kind == "put":
            rows: list[DocRow] = p["rows"]
            return put_rows(col, rows), [r.id for r in rows]
        if kind == "files":
            from akindb.collection.ingest import ingest_named
            from akindb.text.loaders import load_bytes

            items = [(doc_id, partial(load_bytes, name, raw)) for doc_id, name, raw in p["files"]]
            report = ingest_named(col.parts, items, metadata=p["metadata"])
            return report, [d for d, _ in items]
        if kind == "prune":  # documents under the folders whose file was not walked
            from akindb.collection.prune import prune_missing

            gone = prune_missing(col.parts, p["folders"], set(p["present"]))
            return gone, gone
        if kind == "delete":
            ids, where = p["ids"], p["where"]
            targets = (list(ids) if where is None
                       else [r.id for r in col.get(ids, where=where)])
            return delete_rows(col, targets), targets
        raise ValueError(f"unknown write kind {kind!r}")

    def _replicate(self, seq: int, op: Op) -> list[int]:
        """Send ``op`` to every other replica; the indexes of those that committed it."""

        acked = [self.index]
        refs = {p.replicate.remote(self.epoch, seq, op): (self._peer_index(j), p)
                for j, p in enumerate(self.peers) if self._peer_index(j) not in self._down}
        deadline = time.monotonic() + REPLICATE_TIMEOUT_S
        for ref, (idx, peer) in refs.items():
            status = "down"
            try:
                status, at, who = _await_peer(ref, peer, deadline)
                if status == "gap":
                    entries = self.log_since(at)
                    status = "behind"  # too far back for the log: it must copy a snapshot
                    if entries is not None:
                        status, at, who = _await_peer(
                            peer.replicate_many.remote(self.epoch, entries), peer, deadline)
                if status == "stale":
                    self.role = "secondary"
                    self.ready = False  # this write may exist only here: resync before reads
                    raise NotPrimaryError(
                        f"shard {self.shard}: replica {who} knows a newer epoch {at}; this "
                        "primary stepped down"
                    )
                if status == "ok":
                    acked.append(who)
                    continue
            except NotPrimaryError:
                raise
            except Exception as exc:  # dead or too slow: not live for this write
                log.info("shard %s: replica %s not live for seq %s: %s", self.shard, idx, seq,
                         type(_unwrap(exc)).__name__)
            # Not live, behind or syncing: later writes do not wait for it (no stall per
            # write while Ray restarts it); it stops serving reads, catches up and rejoins.
            self.not_live += status == "down"
            self._down.add(idx)
            if status != "syncing":
                peer.behind.remote(seq)
        return acked

    # ---- the write path (secondaries) --------------------------------------------------------
    def replicate(self, epoch: int, seq: int, op: Op) -> tuple[str, int, int]:
        """Commit operation ``seq`` of ``epoch``: ``ok`` | ``gap`` (resend after ``applied``) |
        ``stale`` (the sender's epoch is old) | ``syncing`` (a snapshot copy is under way)."""
        return self.replicate_many(epoch, [(seq, op)])

    def replicate_many(self, epoch: int, entries: list[tuple[int, Op]]) -> tuple[str, int, int]:
        with self._state_lock:
            if epoch < self.epoch:
                return "stale", self.epoch, self.index
            if epoch > self.epoch:
                self.epoch, self.role = epoch, "secondary"
            if self.syncing:
                self._missed = max(self._missed, entries[-1][0])
                return "syncing", self.applied, self.index
        with self._write_lock:
            for seq, op in entries:
                if seq <= self.applied:
                    continue
                if seq != self.applied + 1:
                    return "gap", self.applied, self.index
                self._apply(op)
                self._record(seq, op)
        return "ok", self.applied, self.index

    def sync_from(self, primary: Any) -> dict[str, Any]:
        """Catch up with ``primary`` (snapshot diff, then its log) and become ready."""
        import ray

        with self._state_lock:
            if self.role == "primary":
                return self.state()
            self.syncing, self.ready, self._missed = True, False, 0
        caught_up = False
        try:
            with self._write_lock:
                head, epoch, theirs = ray.get(primary.snapshot.remote(), timeout=60)
                mine = fingerprints(self.col)
                delete_rows(self.col, [d for d in mine if d not in theirs])
                want = [d for d, h in theirs.items() if mine.get(d) != h]
                for lo in range(0, len(want), SYNC_BATCH):
                    put_rows(self.col, ray.get(primary.rows.remote(want[lo : lo + SYNC_BATCH]),
                                               timeout=60))
                self.applied, self.epoch = head, max(self.epoch, epoch)
                self._save_state()
                with self._log_lock:
                    self._log.clear()
                for _ in range(100):
                    entries = ray.get(primary.log_since.remote(self.applied), timeout=30)
                    if entries is None:
                        raise NotReadyError("the primary's log moved on during the copy; retry")
                    for seq, op in entries:
                        if seq == self.applied + 1:
                            self._apply(op)
                            self._record(seq, op)
                    with self._state_lock:
                        if not entries and self._missed <= self.applied:
                            self.syncing, caught_up = False, True
                            break
        finally:
            with self._state_lock:
                self.syncing = False
        if caught_up:  # outside the write lock: the primary pushes what it wrote meanwhile
            try:
                joined = bool(ray.get(primary.rejoin.remote(self.index, self.epoch, self.applied),
                                      timeout=30))
            except Exception:
                joined = False
            with self._state_lock:  # not rejoined (no longer the primary...): catch up again
                self.ready = joined
        return self.state()

    def ping(self) -> str:
        return str(self.node_id)
