"""The router: sends reads to one healthy replica per shard and writes to each shard's primary.

Reads are scattered to every shard at once. A replica that fails (actor death, catching up)
is replaced by the shard's next replica at once; one that is silent for ``hedge_after`` is
hedged (the next replica is asked too, the first answer wins), so losing a node costs a query
about ``hedge_after``, never an error. When every replica of a shard fails, the shard is
*missing*: the caller gets ``ShardUnavailableError`` naming it, or (``allow_partial``) the
others' results, flagged.

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

READ_TIMEOUT_S = 10.0
"""A shard with no answer from any replica in this long is missing (an error, or partial)."""
HEDGE_AFTER_S = 0.5
"""A replica silent this long is hedged: the shard's next replica is asked too."""
WRITE_TIMEOUT_S = 120.0
PROBE_S = 0.4
"""The primary is pinged when a write is sent and every ``PROBE_S`` while it runs; a ping
unanswered this long means the primary is dead (fail over), without waiting for Ray to
notice (about 2 s on a local cluster). A live primary answers pings while it writes (the
actor runs calls concurrently), so a long write is never taken for a dead primary."""


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
        self.hedge_after = HEDGE_AFTER_S
        self.hedges = 0
        self.view: list[tuple[int, int]] = ray.get(controller.view.remote(), timeout=30)
        self._rr = itertools.count()
        self.failovers = 0

    # ---- reads ---------------------------------------------------------------------------------
    def scatter(self, method: str, args: Sequence[Any], kwargs: dict[str, Any],
                shards: Sequence[int] | None = None,
                args_of: dict[int, tuple[Any, ...]] | None = None,
                ) -> tuple[dict[int, Any], list[int]]:
        """Run a read on one replica of each shard: ``({shard: result}, [missing shards])``.

        A shard whose replica has not answered after ``hedge_after`` seconds is also asked of
        its next replica (the first answer wins); a replica that fails (dead, catching up) is
        replaced at once. A shard is missing when every replica failed, or none answered
        within ``read_timeout``. ``args_of`` gives per-shard positional arguments (e.g. the
        ids that live there). User errors (bad filter, unknown id...) are raised as they are.
        """
        import ray

        todo = list(range(self.shards)) if shards is None else list(shards)
        start = next(self._rr)
        order = {s: [(start + j) % len(self.replicas[s]) for j in range(len(self.replicas[s]))]
                 for s in todo}
        tried = dict.fromkeys(todo, 0)
        live = dict.fromkeys(todo, 0)  # attempts in flight per shard
        now = time.monotonic()
        give_up = {s: now + self.read_timeout for s in todo}
        hedge_at: dict[int, float] = {}
        out: dict[int, Any] = {}
        pending: dict[Any, int] = {}

        def submit(s: int) -> None:
            if tried[s] >= len(order[s]):
                return
            r = order[s][tried[s]]
            tried[s] += 1
            live[s] += 1
            a = args_of[s] if args_of is not None else tuple(args)
            pending[self.replicas[s][r].read.remote(method, a, kwargs)] = s
            hedge_at[s] = time.monotonic() + self.hedge_after

        for s in todo:
            submit(s)
        while pending:
            now = time.monotonic()
            nxt = min([give_up[s] for s in set(pending.values())]
                      + [hedge_at[s] for s in set(pending.values()) if tried[s] < len(order[s])])
            done, _ = ray.wait(list(pending), num_returns=1, timeout=max(0.0, nxt - now))
            for ref in done:
                s = pending.pop(ref)
                live[s] -= 1
                if s in out:
                    continue
                try:
                    out[s] = ray.get(ref, timeout=0)
                except Exception as exc:
                    if not _is_failure(exc):
                        raise unwrap(exc) from None
                    submit(s)
                if s in out:  # drop the hedged twin, if any
                    for other, t in list(pending.items()):
                        if t == s:
                            pending.pop(other)
            now = time.monotonic()
            for s in {t for t in pending.values()}:
                if now >= give_up[s]:
                    for ref, t in list(pending.items()):
                        if t == s:
                            pending.pop(ref)
                elif now >= hedge_at[s] and tried[s] < len(order[s]):
                    self.hedges += 1
                    submit(s)  # hedge: ask the next replica too
        missing = sorted(s for s in todo if s not in out)
        return out, missing

    def read_all(self, method: str, args: Sequence[Any] = (), kwargs: dict[str, Any] | None = None,
                 *, allow_partial: bool = False) -> tuple[list[Any], list[int]]:
        """Results in shard order (missing shards left out) and the missing shards."""
        res, missing = self.scatter(method, args, kwargs or {})
        self.check_missing(missing, allow_partial)
        return [res[s] for s in sorted(res)], missing

    def check_missing(self, missing: list[int], allow_partial: bool) -> None:
        if missing and not allow_partial:
            raise ShardUnavailableError(
                f"collection {self.name!r}: no replica of shard(s) {missing} answered (all "
                f"failed, or none within {self.read_timeout:g} s); retry when Ray has "
                "restarted them, or pass allow_partial=True to get the other shards' results "
                "flagged partial",
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
            primary = self.replicas[shard][idx]
            ref = primary.write.remote(epoch, kind, dict(payload))
            try:
                return self._await_write(ref, primary, deadline)["result"]
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
                    if not _is_failure(fexc):
                        raise err from None
                    time.sleep(0.2)  # the chosen replica died or restarts meanwhile: retry
                    continue
                view = list(self.view)
                view[shard] = (int(new[0]), int(new[1]))
                self.view = view
                self.failovers += 1
                if (int(new[0]), int(new[1])) == (idx, epoch):
                    time.sleep(0.2)  # the primary answers the controller: a transient error

    @staticmethod
    def _await_write(ref: Any, primary: Any, deadline: float) -> Any:
        """The write's answer; the primary is pinged at once and every ``PROBE_S`` without an
        answer, and a primary that does not answer a ping counts as dead
        (``GetTimeoutError``)."""
        import ray
        import ray.exceptions as rex

        ping = primary.ping.remote()
        while True:
            done, _ = ray.wait([ref], timeout=PROBE_S)
            if done:
                return ray.get(ref, timeout=0)
            if time.monotonic() > deadline:
                raise rex.GetTimeoutError("write deadline passed")
            alive, _ = ray.wait([ping], timeout=0)
            if not alive:
                done, _ = ray.wait([ref], timeout=0)
                if done:
                    return ray.get(ref, timeout=0)
                raise rex.GetTimeoutError("the primary does not answer")
            ping = primary.ping.remote()

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
