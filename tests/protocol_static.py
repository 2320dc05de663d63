"""Checked by mypy in tests/test_protocol.py (not collected by pytest): each collection
implementation must be assignable to ``CollectionAPI``."""

from akindb.client import RemoteCollection
from akindb.collection import Collection
from akindb.distributed.collection import DistributedCollection
from akindb.protocol import CollectionAPI


def embedded(c: Collection) -> CollectionAPI:
    return c


def remote(c: RemoteCollection) -> CollectionAPI:
    return c


def distributed(c: DistributedCollection) -> CollectionAPI:
    return c
