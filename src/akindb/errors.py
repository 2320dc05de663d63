"""One error tree for akindb. Every message says what happened and what to do.

::

    AkinError
    ├── InvalidArgumentError        a bad parameter (unknown metric, k < 1, ...)
    │   ├── InvalidVectorError      wrong dimension, NaN/inf, zero vector under cosine
    │   ├── InvalidFilterError      a malformed ``where`` filter
    │   └── EmptyTextError          empty or whitespace-only text
    ├── NotFoundError
    │   ├── DatabaseNotFoundError   no database directory at a path (and create=False)
    │   ├── CollectionNotFoundError
    │   └── DocumentNotFoundError
    ├── CollectionExistsError
    ├── ModelError
    │   ├── ModelNotFoundError      weights not installed / folder missing
    │   ├── ModelIntegrityError     weights hash differs from the pinned one
    │   └── ModelMismatchError      a collection pinned to one model used with another
    ├── StorageError
    │   ├── DatabaseLockedError     another process holds the write lock for too long
    │   ├── ReadOnlyError           the database directory or file cannot be written
    │   ├── DiskFullError           the disk is full; the last write was rolled back
    │   └── CorruptDatabaseError    the SQLite file is not a database / fails its check
    └── MissingExtraError           an optional dependency is not installed

Only ``cli/`` and ``server/`` translate these into exit codes and HTTP statuses.
"""

from __future__ import annotations

from collections.abc import Iterable


class AkinError(Exception):
    """Base of every error akindb raises on purpose."""


class InvalidArgumentError(AkinError, ValueError):
    pass


class InvalidVectorError(InvalidArgumentError):
    pass


def refuse_unknown(given: Iterable[str], known: Iterable[str], what: str) -> None:
    """``InvalidArgumentError`` naming the keys of ``given`` that are not in ``known`` (stored
    or user-given settings read back into a dataclass: a typo must not pass silently).

    >>> refuse_unknown({"beta": 1, "bta": 2}, ["beta"], "Rocchio settings")
    Traceback (most recent call last):
    ...
    akindb.errors.InvalidArgumentError: unknown Rocchio settings ['bta']; known: ['beta']
    """
    names = set(known)
    unknown = sorted(set(given) - names)
    if unknown:
        raise InvalidArgumentError(f"unknown {what} {unknown}; known: {sorted(names)}")


class InvalidFilterError(InvalidArgumentError):
    pass


class EmptyTextError(InvalidArgumentError):
    pass


class NotFoundError(AkinError, LookupError):
    pass


class DatabaseNotFoundError(NotFoundError):
    pass


class CollectionNotFoundError(NotFoundError):
    pass


class DocumentNotFoundError(NotFoundError):
    pass


class CollectionExistsError(AkinError):
    pass


class ModelError(AkinError):
    pass


class ModelNotFoundError(ModelError):
    pass


class ModelIntegrityError(ModelError):
    pass


class ModelMismatchError(ModelError):
    pass


class StorageError(AkinError):
    pass


class DatabaseLockedError(StorageError):
    pass


class ReadOnlyError(StorageError):
    pass


class DiskFullError(StorageError):
    pass


class CorruptDatabaseError(StorageError):
    pass


class MissingExtraError(AkinError, ImportError):
    def __init__(self, extra: str, what: str) -> None:
        super().__init__(f"{what} needs an optional dependency: pip install 'akindb[{extra}]'")
        self.extra = extra
