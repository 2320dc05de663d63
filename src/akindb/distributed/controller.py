"""The controller of one distributed collection: who is primary of each shard, in which epoch.

One named Ray actor per collection. It is the only place that promotes a primary, so two
routers that both see a primary die cannot promote two different replicas: ``failover`` is
serialised here and a caller that saw an older epoch simply gets the current view. A
background loop (``RECONCILE_S``) pings every replica, fails over a primary that stopped
answering, and has replicas that are not ready (restarted by Ray, maybe on another node) or
on the primary's down list catch up from the primary (and rejoin it). The layout and epochs
are saved to ``root/controller-NAME.json`` so a restarted controller continues with the same
primaries and never reuses an epoch.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any

from akindb.distributed.errors import ShardUnavailableError
from akindb.storage.atomic import atomic_write_bytes

log = logging.getLogger(__name__)

RECONCILE_S = 0.5
PING_TIMEOUT_S = 1.5
FAST_PING_S = 0.25
"""In a fail-over, how long to wait for every replica's state before going on with those in
(a dead node's replica never answers); the router waits out this grace on every fail-over."""


class CollectionController:
    """The actor body (wrapped by ``ray.remote`` in ``akindb.distributed.cluster``)."""

    def __init__(self, root: str, name: str, spec: dict[str, Any],
                 replicas: list[list[Any]]) -> None:
        self.name, self.spec = name, spec
        self.replicas = replicas  # [shard][replica] -> actor handle
        self._file = Path(root) / f"controller-{name}.json"
        self._lock = threading.RLock()
        saved = self._load()
        n = len(replicas)
        self.primary: list[int] = saved.get("primary", [0] * n)
        self.epoch: list[int] = saved.get("epoch", [0] * n)
        self._syncs: dict[tuple[int, int], Any] = {}
        self._last: dict[str, Any] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if any(self.epoch):  # restarted by Ray: carry on reconciling without being asked
            self._ensure_loop()

    def _ensure_loop(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, daemon=True, name="reconcile")
            self._thread.start()

    def _load(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(self._file.read_text(encoding="utf-8"))
            return data
        except (OSError, ValueError):
            return {}

    def _save(self) -> None:
        body = {"name": self.name, "primary": self.primary, "epoch": self.epoch}
        atomic_write_bytes(self._file, json.dumps(body).encode())

    # ---- the view routers use --------------------------------------------------------------
    def start(self) -> list[tuple[int, int]]:
        """Promote the first primaries (epoch 1) if none yet, and start the reconcile loop."""
        with self._lock:
            for s in range(len(self.replicas)):
                if self.epoch[s] == 0:
                    self._promote(s, self.primary[s], 1)
            self._save()
        self._ensure_loop()
        return self.view()

    def view(self) -> list[tuple[int, int]]:
        """``(primary replica index, epoch)`` per shard."""
        with self._lock:
            return list(zip(self.primary, self.epoch, strict=True))

    def spec_of(self) -> dict[str, Any]:
        return dict(self.spec)

    def handles(self) -> list[list[Any]]:
        return self.replicas

    def status(self) -> dict[str, Any]:
        """The last reconcile pass: every replica's state (or the error reaching it)."""
        with self._lock:
            return {"view": self.view(), "replicas": dict(self._last)}

    def _promote(self, shard: int, idx: int, epoch: int, down: list[int] | None = None) -> None:
        import ray

        group = self.replicas[shard]
        peers = [h for i, h in enumerate(group) if i != idx]
        ray.get(group[idx].promote.remote(epoch, peers, down or []), timeout=30)
        for p in peers:
            p.fence.remote(epoch)
        self.primary[shard], self.epoch[shard] = idx, epoch

    def failover(self, shard: int, seen_epoch: int) -> tuple[int, int]:
        """Make another replica primary unless someone already did (epoch > ``seen_epoch``)
        or the primary answers after all. Raises ``ShardUnavailableError`` when no replica
        of the shard answers."""
        import ray

        with self._lock:
            if self.epoch[shard] > seen_epoch:
                return self.primary[shard], self.epoch[shard]
            group = self.replicas[shard]
            refs = [h.state.remote() for h in group]
            # A dead node's replica never answers: go on once a first answer is in and a short
            # grace has passed, instead of waiting the whole ping timeout for it.
            ready, _ = ray.wait(refs, num_returns=len(refs), timeout=FAST_PING_S)
            if not ready:
                ready, _ = ray.wait(refs, num_returns=1, timeout=PING_TIMEOUT_S)
            states: dict[int, dict[str, Any]] = {}
            for i, ref in enumerate(refs):
                if ref in ready:
                    try:
                        states[i] = ray.get(ref, timeout=0)
                    except Exception:  # died
                        continue
            cur = states.get(self.primary[shard])
            if cur is not None and cur["role"] == "primary" and cur["epoch"] == self.epoch[shard]:
                return self.primary[shard], self.epoch[shard]
            if not states:
                raise ShardUnavailableError(
                    f"collection {self.name!r}: no replica of shard {shard} answers "
                    f"({len(group)} replicas); wait for Ray to restart them or add nodes",
                    [shard],
                )
            best = max(states, key=lambda i: (states[i]["ready"], states[i]["applied"], -i))
            down = [i for i in range(len(group)) if i not in states]
            self._promote(shard, best, self.epoch[shard] + 1, down)
            self._save()
            log.info("collection %s shard %s: replica %s is primary of epoch %s", self.name,
                     shard, best, self.epoch[shard])
            return self.primary[shard], self.epoch[shard]

    # ---- the reconcile loop ----------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stop.wait(RECONCILE_S):
            try:
                self.reconcile()
            except Exception as exc:  # keep the loop alive; the next pass retries
                log.warning("reconcile of %s failed: %s", self.name, exc)

    def reconcile(self) -> dict[str, Any]:
        """One pass: ping all replicas, fail over dead primaries, start catch-ups."""
        import ray

        refs = {(s, i): h.state.remote() for s, g in enumerate(self.replicas)
                for i, h in enumerate(g)}
        done, _ = ray.wait(list(refs.values()), num_returns=len(refs), timeout=PING_TIMEOUT_S)
        states: dict[tuple[int, int], dict[str, Any] | None] = {}
        for key, ref in refs.items():
            try:
                states[key] = ray.get(ref, timeout=0) if ref in done else None
            except Exception:
                states[key] = None
        with self._lock:
            self._last = {f"{s}/{i}": st for (s, i), st in states.items()}
        for s, group in enumerate(self.replicas):
            p, e = self.primary[s], self.epoch[s]
            pst = states[(s, p)]
            if pst is None or pst["role"] != "primary" or pst["epoch"] != e:
                try:
                    self.failover(s, e)
                except ShardUnavailableError:
                    continue
                continue
            down = set(pst.get("down", ()))  # the primary sends these nothing: catch up
            for i in range(len(group)):
                st = states[(s, i)]
                if i == p or st is None or st["syncing"] or (st["ready"] and i not in down):
                    continue
                pending = self._syncs.get((s, i))
                if pending is not None:
                    ready, _ = ray.wait([pending], timeout=0)
                    if not ready:
                        continue
                self._syncs[(s, i)] = group[i].sync_from.remote(group[p])
        return self.status()

    def stop(self) -> None:
        self._stop.set()
