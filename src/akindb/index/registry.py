"""Index kinds by name: enum in, class out, heavy imports late (DESIGN rule 2).

``hnsw`` needs faiss (``pip install 'akindb[ann]'``), imported only when such an index is
made; ``lsh``, ``quantized`` (int8/binary codes in RAM, floats memory-mapped) and ``flat`` are
numpy only.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from akindb.errors import InvalidArgumentError
from akindb.index.base import VectorIndex
from akindb.index.flat import FlatIndex
from akindb.types import Metric

if TYPE_CHECKING:
    from akindb.index.approx import IndexParams

_KINDS: dict[str, tuple[str, str]] = {
    "flat": ("akindb.index.flat", "FlatIndex"),
    "hnsw": ("akindb.index.hnsw", "HnswIndex"),
    "lsh": ("akindb.index.lsh", "LshIndex"),
    "quantized": ("akindb.index.quantized", "QuantizedIndex"),
}


def index_class(kind: str) -> type[VectorIndex]:
    """The class for an index kind name; unknown names list the valid ones."""
    try:
        module, name = _KINDS[kind]
    except (KeyError, TypeError):
        valid = ", ".join(sorted(_KINDS))
        raise InvalidArgumentError(f"unknown index kind {kind!r}; use one of: {valid}") from None
    if kind == "flat":
        return FlatIndex
    cls: type[VectorIndex] = getattr(importlib.import_module(module), name)
    return cls


def index_kinds() -> list[str]:
    return sorted(_KINDS)


def validate_params(kind: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Check ``params`` for ``kind`` and fill in defaults; unknown or out-of-range values raise
    ``InvalidArgumentError`` naming the valid ones. ``hnsw`` also checks that faiss is
    installed (``MissingExtraError`` otherwise).

    >>> validate_params("lsh", {"probes": 4})
    {'n_tables': None, 'n_bits': None, 'probes': 4, 'seed': 0}
    """
    cls = index_class(kind)
    raw = dict(params or {})
    if cls is FlatIndex:
        if raw:
            raise InvalidArgumentError(
                f"the flat index takes no parameters, got {sorted(raw)}; use index='hnsw' or "
                "'lsh' or 'quantized' for a tunable index"
            )
        return {}
    from akindb.index.approx import ApproxIndex

    assert issubclass(cls, ApproxIndex)
    cls.require()
    return cls.params_cls.from_dict(raw).to_dict()


def make_index(kind: str, dim: int, metric: Metric, params: Mapping[str, Any]) -> VectorIndex:
    """A new empty index of ``kind`` with validated ``params``."""
    cls = index_class(kind)
    full = validate_params(kind, params)
    return cls(dim, metric, **full)


class IndexKind(StrEnum):
    """The index kinds a collection can use (a ``str``: ``IndexKind.HNSW == "hnsw"``)."""

    FLAT = "flat"
    HNSW = "hnsw"
    LSH = "lsh"
    QUANTIZED = "quantized"

    @classmethod
    def parse(cls, value: str | IndexKind) -> IndexKind:
        """``"hnsw"`` or ``IndexKind.HNSW`` in, the member out; unknown names list the valid.

        >>> IndexKind.parse("lsh")
        <IndexKind.LSH: 'lsh'>
        """
        try:
            return cls(value)
        except ValueError:
            valid = ", ".join(k.value for k in cls)
            raise InvalidArgumentError(
                f"unknown index kind {value!r}; use one of: {valid}"
            ) from None


def typed_params(kind: str, params: Mapping[str, Any]) -> IndexParams | None:
    """The frozen parameter dataclass of ``kind`` (``None`` for flat), without checking that
    the kind's extra is installed (reading a config must work where searching may not).

    >>> typed_params("lsh", {"probes": 4}).probes
    4
    """
    cls = index_class(kind) if kind != "flat" else FlatIndex
    if cls is FlatIndex:
        return None
    from akindb.index.approx import ApproxIndex

    assert issubclass(cls, ApproxIndex)
    return cls.params_cls.from_dict(dict(params))
