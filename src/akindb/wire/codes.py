"""Stable error codes of the HTTP API, shared by the server (error → status + code) and the
client (code → the same ``akindb.errors`` class). Pure data: no web framework imported here.

Every error response body is ``{"error": {"code": str, "message": str, "status": int}}``; the
message says what to do. Codes are part of the API: add new ones, never rename.
"""

from __future__ import annotations

from akindb import errors

# Most specific first: the first ``isinstance`` match wins.
ERROR_CODES: list[tuple[type[errors.AkinError], str, int]] = [
    (errors.InvalidVectorError, "invalid_vector", 400),
    (errors.InvalidFilterError, "invalid_filter", 400),
    (errors.EmptyTextError, "empty_text", 400),
    (errors.InvalidArgumentError, "invalid_argument", 400),
    (errors.CollectionNotFoundError, "collection_not_found", 404),
    (errors.DocumentNotFoundError, "document_not_found", 404),
    (errors.DatabaseNotFoundError, "database_not_found", 404),
    (errors.NotFoundError, "not_found", 404),
    (errors.CollectionExistsError, "collection_exists", 409),
    (errors.ModelMismatchError, "model_mismatch", 409),
    (errors.ModelNotFoundError, "model_not_found", 400),
    (errors.ModelIntegrityError, "model_integrity", 503),
    (errors.ModelError, "model_error", 400),
    (errors.DatabaseLockedError, "database_locked", 503),
    (errors.ReadOnlyError, "read_only", 503),
    (errors.DiskFullError, "disk_full", 507),
    (errors.CorruptDatabaseError, "corrupt_database", 500),
    (errors.StorageError, "storage_error", 500),
    (errors.MissingExtraError, "missing_extra", 501),
]

# Codes the server produces itself (not from the akindb error tree).
MISSING_API_KEY = "missing_api_key"  # 401
INVALID_API_KEY = "invalid_api_key"  # 401: unknown, revoked or expired
FORBIDDEN = "forbidden"  # 403: the key's role or collections do not cover this request
MALFORMED_JSON = "malformed_json"  # 400
INVALID_REQUEST = "invalid_request"  # 422: the body does not match the schema
REQUEST_TOO_LARGE = "request_too_large"  # 413
REQUEST_TIMEOUT = "request_timeout"  # 408: the body arrived too slowly
ROUTE_NOT_FOUND = "route_not_found"  # 404
METHOD_NOT_ALLOWED = "method_not_allowed"  # 405
INTERNAL_ERROR = "internal_error"  # 500: a bug; the message says to report it


def code_for(exc: errors.AkinError) -> tuple[str, int]:
    """The (code, HTTP status) for an akindb error.

    >>> code_for(errors.CollectionNotFoundError("x"))
    ('collection_not_found', 404)
    """
    for cls, code, status in ERROR_CODES:
        if isinstance(exc, cls):
            return code, status
    return "akindb_error", 400


def error_class(code: str) -> type[errors.AkinError] | None:
    """The ``akindb.errors`` class a code came from (``None`` for the server's own codes).

    >>> error_class("invalid_vector").__name__
    'InvalidVectorError'
    """
    for cls, c, _ in ERROR_CODES:
        if c == code:
            return cls
    return None
