"""Index kinds by name: enum in, class out, heavy imports late (DESIGN rule 2)."""

from __future__ import annotations

from akindb.errors import InvalidArgumentError
from akindb.index.base import VectorIndex
from akindb.index.flat import FlatIndex

_KINDS: dict[str, type[VectorIndex]] = {"flat": FlatIndex}


def index_class(kind: str) -> type[VectorIndex]:
    """The class for an index kind name; unknown names list the valid ones."""
    try:
        return _KINDS[kind]
    except KeyError:
        valid = ", ".join(sorted(_KINDS))
        raise InvalidArgumentError(f"unknown index kind {kind!r}; use one of: {valid}") from None


def index_kinds() -> list[str]:
    return sorted(_KINDS)
