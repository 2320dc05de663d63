"""What the approximate indexes (hnsw, lsh, quantized) share: the tunable search knob, tombstone
bookkeeping, and the exact fallback used when a filter is selective.

Filtered search policy (both kinds): the caller passes ``allowed`` labels that SQLite already
selected, so the selectivity is ``len(allowed) / len(index)``. When few labels are allowed
(``len(allowed) <= EXACT_MAX_ROWS`` or selectivity ``< EXACT_BELOW``) the answer is exact over
exactly those vectors — cheaper than walking a graph whose neighbours are mostly filtered out,
and recall 1.0 by construction. Otherwise the index searches with the filter applied inside the
library (or on the candidate list) and a widened search width.
"""

from __future__ import annotations

import abc
import dataclasses
from typing import Any, ClassVar, Protocol, Self

import numpy as np
import numpy.typing as npt

from akindb.core.topk import scores, top_k
from akindb.errors import InvalidArgumentError
from akindb.index.base import F32, I64, VectorIndex
from akindb.types import Metric

EXACT_MAX_ROWS = 2048
"""A filter allowing at most this many vectors is always answered exactly."""

EXACT_BELOW = 0.05
"""A filter allowing less than this fraction of the index is answered exactly."""


class IndexParams(Protocol):
    """What every parameter dataclass offers: JSON in, JSON out."""

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> IndexParams: ...

    def to_dict(self) -> dict[str, Any]: ...


class DictParams:
    """``from_dict``/``to_dict`` for an index kind's frozen parameter dataclass: unknown names
    are an error that lists the valid ones (one wording for every kind)."""

    __slots__ = ()
    kind_name: ClassVar[str]

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Self:
        valid = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
        unknown = sorted(set(raw) - set(valid))
        if unknown:
            raise InvalidArgumentError(
                f"unknown {cls.kind_name} parameter(s) {unknown}; valid ones: {', '.join(valid)}"
            )
        return cls(**raw)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload, no-any-return]


def exact_search(matrix: F32, labels: I64, queries: F32, k: int, metric: Metric) -> tuple[I64, F32]:
    """Exact top-``k`` of ``queries`` over ``matrix`` rows labelled ``labels``, padded with -1.

    >>> m = np.array([[1, 0], [0, 1]], dtype=np.float32)
    >>> exact_search(m, np.array([7, 9]), np.array([[0, 1]], dtype=np.float32), 3, Metric.DOT)[0]
    array([[ 9,  7, -1]])
    """
    nq = len(queries)
    out_l = np.full((nq, k), -1, dtype=np.int64)
    out_s = np.full((nq, k), -np.inf, dtype=np.float32)
    if len(labels) == 0 or k == 0 or nq == 0:
        return out_l, out_s
    idx, best = top_k(scores(matrix, queries, metric), k)
    kk = idx.shape[1]
    out_l[:, :kk] = labels[idx]
    out_s[:, :kk] = best
    return out_l, out_s


def check_range(name: str, value: Any, lo: int, hi: int) -> int:
    """An integer parameter within ``[lo, hi]``, or ``InvalidArgumentError`` saying so.

    >>> check_range("M", 16, 2, 100)
    16
    """
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise InvalidArgumentError(f"{name} must be an integer in [{lo}, {hi}], got {value!r}")
    return value


class ApproxIndex(VectorIndex):
    """An approximate index with one search-time knob that ``Collection.tune`` sweeps."""

    knob: ClassVar[str]
    """Name of the search-time parameter (``ef_search``, ``probes``): changeable any time."""

    build_params: ClassVar[tuple[str, ...]]
    """Parameters fixed by the build; changing them means a rebuild."""

    params_cls: ClassVar[type[IndexParams]]
    """The frozen dataclass of this kind's parameters."""

    @classmethod
    def require(cls) -> None:
        """Raise ``MissingExtraError`` if the engine behind this kind is not installed."""

    @abc.abstractmethod
    def vectors_of(self, labels: I64) -> F32:
        """Stored (for cosine: normalised) vectors of live ``labels``, in that order."""

    @abc.abstractmethod
    def compact(self) -> None:
        """Drop tombstones so their memory returns (a rebuild where the engine needs one)."""

    @abc.abstractmethod
    def knob_value(self) -> int: ...

    def search_stats(self) -> dict[str, Any]:
        """How this index answers queries (shape in use, fallbacks taken), for
        ``index_stats()``; empty when a kind has nothing to report."""
        return {}

    @abc.abstractmethod
    def set_knob(self, value: int) -> None:
        """Change the search-time knob (validated)."""

    @abc.abstractmethod
    def knob_sweep(self, k: int) -> list[int]:
        """Increasing knob values ``tune`` tries, cheapest first."""

    # Tombstone bookkeeping shared by the kinds: slot i holds label ``_labels[i]`` and is live
    # while ``_alive[i]``; ``_n`` slots are used and ``_live`` of them are alive.
    _labels: I64
    _alive: npt.NDArray[np.bool_]
    _n: int
    _live: int

    def __len__(self) -> int:
        return self._live

    def labels(self) -> I64:
        return self._labels[: self._n][self._alive[: self._n]].copy()

    def live_slots(self, labels: I64) -> I64:
        """Slots holding the live ``labels``, in that order; ``KeyError`` if any is missing."""
        rows = np.flatnonzero(self._alive[: self._n])
        order = np.argsort(self._labels[rows], kind="stable")
        sorted_labels = self._labels[rows][order]
        pos = np.searchsorted(sorted_labels, labels)
        pos = np.minimum(pos, max(len(sorted_labels) - 1, 0))
        if len(labels) and (len(sorted_labels) == 0 or (sorted_labels[pos] != labels).any()):
            raise KeyError("some labels are not in the index")
        return rows[order[pos]].astype(np.int64)

    def _grow_slots(self, need: int) -> int:
        """Room for ``need`` slots in the label and alive arrays (1.5x growth); the new
        capacity when they grew (the kind then grows its own per-slot arrays to it), else 0."""
        if need <= len(self._labels):
            return 0
        cap = max(need, int(len(self._labels) * 1.5) + 1024)
        labs, alive = np.empty(cap, dtype=np.int64), np.zeros(cap, dtype=bool)
        labs[: self._n], alive[: self._n] = self._labels[: self._n], self._alive[: self._n]
        self._labels, self._alive = labs, alive
        return cap

    def deleted_count(self) -> int:
        """Tombstones still taking space (removed labels not yet compacted away)."""
        return self._n - self._live

    def deleted_fraction(self) -> float:
        total = len(self) + self.deleted_count()
        return self.deleted_count() / total if total else 0.0

    exact_factor: ClassVar[float] = 1.0
    """Kinds whose filtered search loses more recall answer exactly up to a bigger share."""

    @classmethod
    def use_exact(cls, n_allowed: int, n_total: int) -> bool:
        return n_allowed <= EXACT_MAX_ROWS or n_allowed < EXACT_BELOW * cls.exact_factor * n_total
