"""Errors of the distributed layer, all ``AkinError`` (so ``cli/`` and ``server/`` map them).

::

    AkinError
    ├── ClusterError               cannot reach / start a Ray cluster, or a node never came up
    ├── ShardUnavailableError      every replica of a shard is down (names the shard)
    └── NotPrimaryError            internal: a write reached a replica that is not the primary
                                   of the current epoch (the router fails over and retries)
"""

from __future__ import annotations

from akindb.errors import AkinError


class ClusterError(AkinError):
    """The Ray cluster cannot be reached, started or used as asked."""


class ShardUnavailableError(AkinError):
    """No replica of a shard answered in time."""

    def __init__(self, message: str, shards: list[int]) -> None:
        super().__init__(message)
        self.shards = shards


class NotPrimaryError(AkinError):
    """A write reached a replica that is not (or no longer) the shard's primary."""


class NotReadyError(AkinError):
    """A replica is catching up and must not serve reads yet."""
