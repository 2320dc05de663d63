"""Where a document lives (shard by a stable hash of its id) and the checks on a layout.

The hash is SHA-1 of the id's UTF-8 bytes, not Python's ``hash`` (salted per process): every
driver, worker and later run must agree on the shard of an id, forever, for a fixed shard count.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from akindb.errors import InvalidArgumentError


def shard_of(doc_id: str, shards: int) -> int:
    """The shard that holds ``doc_id`` among ``shards``.

    >>> shard_of("doc-1", 4), shard_of("doc-1", 4) == shard_of("doc-1", 4)
    (0, True)
    """
    digest = hashlib.sha1(doc_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % shards


def group_by_shard(ids: Sequence[str], shards: int) -> dict[int, list[int]]:
    """Positions of ``ids`` per shard, in input order.

    >>> group_by_shard(["a", "b", "c"], 1)
    {0: [0, 1, 2]}
    """
    out: dict[int, list[int]] = {}
    for i, d in enumerate(ids):
        out.setdefault(shard_of(d, shards), []).append(i)
    return out


def check_layout(shards: int, replicas: int, nodes: int | None) -> None:
    """Refuse a layout that cannot be placed, naming the numbers.

    >>> try:
    ...     check_layout(2, 3, 2)
    ... except ValueError as e:
    ...     print(str(e)[:21])
    replicas=3 > nodes=2:
    """
    for name, v in (("shards", shards), ("replicas", replicas)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise InvalidArgumentError(f"{name} must be an integer >= 1, got {name}={v!r}")
    if nodes is not None and replicas > nodes:
        raise InvalidArgumentError(
            f"replicas={replicas} > nodes={nodes}: each replica of a shard needs its own node; "
            f"use replicas <= {nodes} or add nodes"
        )
