"""``akindb.db`` is ``akindb.collection.database`` (kept so existing imports work)."""

from akindb.collection.database import (
    DB_FILE,
    DEFAULT_COLLECTION,
    Database,
    open,
    validate_name,
)

__all__ = ["DB_FILE", "DEFAULT_COLLECTION", "Database", "open", "validate_name"]
