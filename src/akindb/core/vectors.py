"""Vector validation and normalisation: pure numpy, no IO."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from akindb.errors import InvalidVectorError
from akindb.types import F32, Metric


def as_matrix(vectors: Any, dim: int, metric: Metric, *, what: str = "vectors") -> F32:
    """Validate and convert to a C-contiguous float32 matrix of shape (n, dim).

    A single vector is accepted as shape (dim,). NaN/inf and, under cosine, all-zero rows are
    refused because they have no direction to compare.

    >>> as_matrix([[1, 0], [0, 2]], 2, Metric.L2).dtype
    dtype('float32')
    """
    if isinstance(vectors, np.ndarray) and vectors.dtype == np.float32:
        arr = vectors  # the common case on the query path: nothing to convert
    else:
        try:
            # Values beyond float32's range become inf (refused below), not a RuntimeWarning.
            with np.errstate(over="ignore", invalid="ignore"):
                raw = np.asarray(vectors)
                if raw.dtype.kind == "c":  # casting would drop the imaginary part silently
                    raise InvalidVectorError(
                        f"{what} are complex numbers; give real numbers (e.g. vectors.real)"
                    )
                arr = raw.astype(np.float32)
        except InvalidVectorError:
            raise
        except (TypeError, ValueError, OverflowError) as exc:
            raise InvalidVectorError(
                f"{what} must be numbers convertible to float32: {exc}"
            ) from None
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    if arr.shape == (1, dim) and arr.dtype == np.float32:
        # One query (the hot path): a finite, positive sum of squares proves every value
        # finite and the row non-zero in one pass; anything else takes the full checks below.
        # In float64: squares of float32 values cannot overflow there (no RuntimeWarning).
        row = arr[0].astype(np.float64)
        if math.isfinite(ss := float(row @ row)) and ss > 0.0:
            return arr if arr.flags.c_contiguous else np.ascontiguousarray(arr)
    if arr.ndim != 2:
        raise InvalidVectorError(
            f"{what} must be a 2-D array of shape (n, {dim}); got shape {arr.shape}"
        )
    if arr.shape[1] != dim:
        raise InvalidVectorError(
            f"{what} have dimension {arr.shape[1]} but this collection stores dimension {dim}; "
            "embed with the collection's model or create a collection with the right dim"
        )
    finite = np.isfinite(arr).all(axis=1)
    if not finite.all():
        bad = np.flatnonzero(~finite)[:5].tolist()
        raise InvalidVectorError(
            f"{what} contain NaN, infinity or values beyond float32's range at rows {bad}; "
            "fix them first"
        )
    if metric is Metric.COSINE:
        norms = np.linalg.norm(arr, axis=1)
        zero = norms == 0
        if zero.any():
            bad = np.flatnonzero(zero)[:5].tolist()
            raise InvalidVectorError(
                f"{what} at rows {bad} are all zeros, which have no direction under cosine; "
                "drop them or use metric 'l2' or 'dot'"
            )
    return np.ascontiguousarray(arr)


def _one_row(vector: Any, dim: int) -> F32 | None:
    """The query's ``(dim,)`` row when it is a float32 ndarray of shape ``(dim,)`` or
    ``(1, dim)`` whose row is contiguous (a view, no copy), else None: the shape test
    ``one_query`` and ``unit_query`` share. Attribute reads and tuple compares only (no
    ``flags`` object, no dtype comparison in the common case): it runs on every query, right
    after a graph walk has pushed the interpreter's working set out of the CPU caches."""
    if type(vector) is not np.ndarray:
        return None
    dt = vector.dtype
    if dt is not _F32 and dt != _F32:  # numpy's float32 descriptor is a shared singleton
        return None
    shape = vector.shape
    if shape == (dim,):
        row: F32 = vector
    elif shape == (1, dim):
        row = vector[0]
    else:
        return None
    return row if row.strides == _ROW_STRIDES else None


def one_query(vector: Any, dim: int) -> F32 | None:
    """The common single query, checked in one pass: a float32 ndarray of shape ``(dim,)`` or
    ``(1, dim)``, every value finite and not all zero, as a C-contiguous ``(1, dim)`` view (no
    copy). None for anything else: the caller then runs ``as_matrix``, which converts or
    raises the precise error.

    >>> one_query(np.ones(3, np.float32), 3).shape, one_query(np.zeros(3, np.float32), 3)
    ((1, 3), None)
    """
    row = _one_row(vector, dim)
    if row is None:
        return None
    # A finite, positive float64 sum of squares proves every value finite and the row non-zero
    # (float64: squares of float32 values cannot overflow there, no RuntimeWarning).
    wide = row.astype(np.float64)
    if math.isfinite(ss := float(wide @ wide)) and ss > 0.0:
        out: F32 = row.reshape(1, dim)
        return out
    return None


def unit_query(vector: Any, dim: int) -> F32 | None:
    """``one_query`` and ``normalize_rows`` in one pass, for cosine: the query scaled to unit
    length as a new ``(1, dim)`` array, bit for bit what ``normalize_rows`` gives (the same
    float32 sums), or None where ``one_query`` would give None (not a float32 ``(dim,)`` or
    ``(1, dim)`` ndarray; a NaN or infinity; all zeros), and where float32 squares overflow or
    underflow to zero (values beyond ~1e19 or below ~1e-19): the caller's ordinary path
    decides those.

    >>> unit_query(np.array([3, 4], np.float32), 2).tolist()
    [[0.6000000238418579, 0.800000011920929]]
    """
    both = unit_and_raw(vector, dim)
    return None if both is None else both[0]


def unit_and_raw(vector: Any, dim: int) -> tuple[F32, F32] | None:
    """``unit_query``'s answer and the query as given, as a ``(1, dim)`` view (what the recall
    monitor records): the lean single query's whole check in one frame. The unit row is
    divided out of that view (no reshape after), and every name is a module constant bound
    once: after a graph walk each further numpy call or lookup costs here (8 -> 5 µs on the
    bench machine against ``unit_query`` plus a reshape; docs/benchmarks.md, "Session 7").

    >>> [a.shape for a in unit_and_raw(np.array([[3, 4]], np.float32), 2)]
    [(1, 2), (1, 2)]
    """
    # _one_row, inline (one frame fewer on every cosine query)
    if type(vector) is not _NDARRAY:
        return None
    dt = vector.dtype
    if dt is not _F32 and dt != _F32:
        return None
    shape = vector.shape
    if shape == (dim,):
        row: F32 = vector
        raw: F32 = vector.reshape(1, dim)
    elif shape == (1, dim):
        row = vector[0]
        raw = vector
    else:
        return None
    if row.strides != _ROW_STRIDES:
        return None
    ss = float(_dot(row, row))  # float32 BLAS dot, as normalize_rows: NaN/inf/0 show here
    if not 0.0 < ss < _INF:  # NaN fails both comparisons
        return None
    # Same bits as normalize_rows' ``x / np.sqrt(ss32)``: a double sqrt of a float32 value
    # rounded to float32 is the correctly rounded float32 sqrt (53 >= 2 * 24 + 2 bits), and a
    # Python float divides a float32 array in float32 (NEP 50).
    return _divide(raw, _sqrt(ss)), raw


_F32 = np.dtype(np.float32)
_ROW_STRIDES = (4,)
_dot = np.dot
_divide = np.divide
_NDARRAY = np.ndarray
_sqrt = math.sqrt
_INF = math.inf


def normalize_rows(x: F32) -> F32:
    """Scale each row to unit L2 norm (zero rows stay zero).

    >>> normalize_rows(np.array([[3.0, 4.0]], dtype=np.float32)).tolist()
    [[0.6000000238418579, 0.800000011920929]]
    """
    # Each row's sum of squares is one float32 BLAS dot (``np.dot(row, row)``; a batch's rows
    # through ``matmul`` of (n, 1, d) by (n, d, 1), which calls the same dot per row: the same
    # bits, tests/core/test_vectors.py), so a query is normalised alike alone or in a batch,
    # and ``unit_and_raw`` on the lean single query does it with one numpy call where the
    # elementwise square and a pairwise sum took two (~3 µs after a graph walk at 100k
    # vectors; docs/benchmarks.md "Session 8: the single query (s8-single)").
    if len(x) == 1:
        row = x[0]
        norm = np.sqrt(np.dot(row, row))
        one: F32 = x / norm if norm != 0 else x.copy()
        return one
    if not x.flags.c_contiguous:  # a strided row may take another dot routine
        x = np.ascontiguousarray(x)
    norms = np.sqrt(np.matmul(x[:, None, :], x[:, :, None])[:, 0])
    if not norms.all():
        norms[norms == 0] = 1.0
    out: F32 = (x / norms).astype(np.float32, copy=False)
    return out
