"""Ray plumbing of ``akindb.distributed``: importing it, loopback-only local clusters, the
cluster-info actor, and turning a replica's start-up failure into the akindb error.

``LOCAL_SYSTEM_CONFIG`` makes a local cluster notice a killed node in about 2 s.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any

from akindb.distributed.errors import ClusterError
from akindb.errors import MissingExtraError

NAMESPACE = "akindb"
LOCAL_SYSTEM_CONFIG = {"health_check_period_ms": 500, "health_check_failure_threshold": 4}


def require_ray() -> Any:
    """Import ray, or explain how to install it."""
    try:
        import ray
    except ImportError:
        raise MissingExtraError("ray", "akindb.distributed (sharded collections on Ray)") from None
    return ray


def _loopback_only() -> None:
    """Make Ray resolve this machine's address as 127.0.0.1 for a local cluster.

    Ray reads ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER`` once, at import; when the variable is not
    ``0`` a local cluster binds to the external address (and a mis-addressed ``ray.init``
    retries forever). Library code does not edit ``os.environ``, so the constant Ray consults
    is set instead, in this process only.
    """
    if os.environ.get("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER") == "0":
        return
    import ray._private.ray_constants as rc

    rc.ENABLE_RAY_CLUSTER = False


INFO_ACTOR = "cluster-info"


class _ClusterInfo:
    """A detached actor holding the folder a local cluster keeps its replicas in, so a later
    ``Cluster.connect`` (the CLI, the server) creates collections in the same place."""

    def __init__(self, root: str) -> None:
        self._root = root

    def root(self) -> str:
        return self._root


def _start_error(exc: BaseException, name: str) -> BaseException:
    """The akindb error that stopped a replica from starting, when there is one (a model
    missing or different on a node), else a ``ClusterError`` carrying Ray's message."""
    from akindb import errors
    from akindb.distributed.router import unwrap

    err = unwrap(exc)
    if isinstance(err, errors.AkinError):
        return err
    text = str(exc)
    for cls in (errors.ModelMismatchError, errors.ModelNotFoundError, errors.ModelError):
        marker = f"{cls.__name__}: "
        if marker in text:
            msg = text.split(marker, 1)[1].strip().splitlines()[0]
            return cls(msg)
    return ClusterError(f"a replica of collection {name!r} could not start: {text[:500]}")


def wait_until(pred: Any, timeout: float, every: float = 0.2) -> bool:
    """Poll ``pred()`` until true or ``timeout`` seconds pass (used by tests and the CLI)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(every)
    return bool(pred())


def check_address(address: str, timeout: float = 5.0) -> str:
    """``host:port`` of ``address`` once something listens there; else a ``ClusterError``
    that says what to do (checked before Ray is asked, so a wrong address never hangs)."""
    if address in ("local", "auto"):
        raise ClusterError(f"give the head's host:port, not {address!r}")
    hostport = address.split("://", 1)[-1]
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise ClusterError(
            f"cluster address {address!r} is not host:port (e.g. 127.0.0.1:6379 or "
            "ray://head:10001); `akindb cluster up --local` prints one"
        )
    try:
        with socket.create_connection((host, int(port)), timeout=min(timeout, 5.0)):
            pass
    except OSError as exc:
        raise ClusterError(
            f"no Ray cluster answers at {address} ({exc}); start one with `akindb cluster "
            "up --local` or `ray start --head`, and check the address"
        ) from None
    return hostport
