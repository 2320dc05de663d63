"""The router: sends reads to one healthy replica per shard and writes to each shard's primary.

Reads are scattered to every shard at once. Each shard's call has a deadline
(``read_timeout``); on actor death, a replica that is catching up, or the deadline, the router
tries the shard's next replica, so losing a node costs a query one deadline at most, never an
error. When every replica of a shard fails, the shard is *missing*: the caller gets
``ShardUnavailableError`` naming it, or (``allow_partial``) the others' results, flagged.

Writes go to the primary of the epoch the router last saw. If that replica refuses (it is no
longer primary) or is dead, the router asks the controller to fail over (serialised there)
and retries on the new primary: every write is idempotent (same id and content: a no-op;
delete: nothing twice), so a retry of a batch that was in fact committed changes nothing.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from typing import Any

from akindb.distributed.errors import NotPrimaryError, NotReadyError, ShardUnavailableError

READ_TIMEOUT_S = 2.0
WRITE_TIMEOUT_S = 120.0


def unwrap(exc: BaseException) -> BaseException:
    """The user's error inside a Ray task error (``InvalidArgumentError``...), else ``exc``."""
    import ray.exceptions as rex

    if isinstance(exc, rex.RayTaskError):
        cause = exc.cause
        if isinstance(cause, BaseException):
            return cause
    return exc


def _is_failure(exc: BaseException) -> bool:
    """Errors that mean "try another replica", not "the request is wrong"."""
    import ray.exceptions as rex

    exc = unwrap(exc)
    return isinstance(exc, (rex.RayActorError, rex.GetTimeoutError, rex.ObjectLostError,
                            rex.RaySystemError, NotReadyError, NotPrimaryError))


class Router:
    """Reads and writes of one distributed collection. Thread-safe enough for a server: the
    view is replaced, never mutated in place."""

    def __init__(self, name: str, controller: Any, replicas: list[list[Any]],
                 read_timeout: float = READ_TIMEOUT_S) -> None:
        import ray

        self.name = name
        self.controller = controller
        self.replicas = replicas
        self.shards = len(replicas)
        self.read_timeout = read_timeout
        self.view: list[tuple[int, int]] = ray.get(controller.view.remote(), timeout=30)
        self._rr = itertools.count()
        self.failovers = 0

    # ---- reads ---------------------------------------------------------------------------------
    def scatter(self, method: str, args: Sequence[Any], kwargs: dict[str, Any],
                shards: Sequence[int] | None = None,
                args_of: dict[int, tuple[Any, ...]] | None = None,
                ) -> tuple[dict[int, Any], list[int]]:
        """Run a read on one replica of each shard: ``({shard: result}, [missing shards])``.

        ``args_of`` gives per-shard positional arguments (e.g. the ids that live there).
        User errors (bad filter, unknown id...) are raised as they are.
        """
        import ray

        todo = list(range(self.shards)) if shards is None else list(shards)
        start = next(self._rr)
        order = {s: [(start + j) % len(self.replicas[s]) for j in range(len(self.replicas[s]))]
                 for s in todo}
        tried = dict.fromkeys(todo, 0)
        out: dict[int, Any] = {}
        missing: list[int] = []
        pending: dict[Any, tuple[int, float]] = {}

        def submit(s: int) -> None:
            if tried[s] >= len(order[s]):
                missing.append(s)
                return
            r = order[s][tried[s]]
            tried[s] += 1
            a = args_of[s] if args_of is not None else tuple(args)
            ref = self.replicas[s][r].read.remote(method, a, kwargs)
            pending[ref] = (s, time.monotonic() + self.read_timeout)

        for s in todo:
            submit(s)
        while pending:
            now = time.monotonic()
            wait_for = max(0.0, min(d for _, d in pending.values()) - now)
            done, _ = ray.wait(list(pending), num_returns=1, timeout=wait_for)
            for ref in done:
                s, _ = pending.pop(ref)
                try:
                    out[s] = ray.get(ref, timeout=0)
                except Exception as exc:
                    if not _is_failure(exc):
                        raise unwrap(exc) from None
                    submit(s)
            now = time.monotonic()
            for ref, (s, deadline) in list(pending.items()):
                if deadline <= now:  # too slow: the next replica (the late answer is dropped)
                    pending.pop(ref)
                    submit(s)
        return out, sorted(missing)

    def read_all(self, method: str, args: Sequence[Any] = (), kwargs: dict[str, Any] | None = None,
                 *, allow_partial: bool = False) -> tuple[list[Any], list[int]]:
        """Results in shard order (missing shards left out) and the missing shards."""
        res, missing = self.scatter(method, args, kwargs or {})
        self.check_missing(missing, allow_partial)
        return [res[s] for s in sorted(res)], missing

    def check_missing(self, missing: list[int], allow_partial: bool) -> None:
        if missing and not allow_partial:
            raise ShardUnavailableError(
                f"collection {self.name!r}: no replica of shard(s) {missing} answered within "
                f"{self.read_timeout:g} s; retry when Ray has restarted them, or pass "
                "allow_partial=True to get the other shards' results flagged partial",
                missing,
            )

    # ---- writes ------------------------------------------------------------------------------
    def write(self, shard: int, kind: str, payload: dict[str, Any]) -> Any:
        """Apply a write on ``shard``'s primary; returns the primary's result once every live
        replica committed it. Fails over and retries on a dead or stale primary."""
        import ray

        deadline = time.monotonic() + WRITE_TIMEOUT_S
        while True:
            idx, epoch = self.view[shard]
            ref = self.replicas[shard][idx].write.remote(epoch, kind, dict(payload))
            try:
                return ray.get(ref, timeout=max(1.0, deadline - time.monotonic()))["result"]
            except Exception as exc:
                if not _is_failure(exc):
                    raise unwrap(exc) from None
                if time.monotonic() > deadline:
                    raise ShardUnavailableError(
                        f"collection {self.name!r}: shard {shard} took no write within "
                        f"{WRITE_TIMEOUT_S:g} s; the write may be retried (it is idempotent)",
                        [shard],
                    ) from None
                try:
                    new = ray.get(self.controller.failover.remote(shard, epoch), timeout=60)
                except Exception as fexc:
                    err = unwrap(fexc)
                    if isinstance(err, ShardUnavailableError):
                        raise err from None
                    raise
                view = list(self.view)
                view[shard] = (int(new[0]), int(new[1]))
                self.view = view
                self.failovers += 1
                if (int(new[0]), int(new[1])) == (idx, epoch):
                    time.sleep(0.2)  # the primary answers the controller: a transient error

    # ---- maintenance ---------------------------------------------------------------------
    def every_replica(self, method: str, args: Sequence[Any] = (),
                      kwargs: dict[str, Any] | None = None,
                      timeout: float = 600.0) -> list[list[Any]]:
        """Run a maintenance method on every replica; a replica that is down gets ``None``
        (Ray restarts it and it catches up from the log, which re-derives its index)."""
        import ray

        refs = [[h.maintain.remote(method, tuple(args), kwargs or {}) for h in g]
                for g in self.replicas]
        out: list[list[Any]] = []
        for group in refs:
            row: list[Any] = []
            for ref in group:
                try:
                    row.append(ray.get(ref, timeout=timeout))
                except Exception as exc:
                    if not _is_failure(exc):
                        raise unwrap(exc) from None
                    row.append(None)
            out.append(row)
        return out
