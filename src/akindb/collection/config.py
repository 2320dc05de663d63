"""What a collection fixes at creation (one row of ``collections``), and the content hash.

Kept apart from ``Collection`` so the parts (``akindb.collection.parts``), retrieval and the
storage catalog can name a collection's configuration without importing the facade.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from akindb.index.registry import IndexKind, typed_params
from akindb.models.base import ModelSpec
from akindb.text.chunking import ChunkingParams
from akindb.types import Metric

if TYPE_CHECKING:
    from akindb.index.approx import IndexParams

Where = Mapping[str, Any] | str | None
"""A metadata filter: a dict (``{"lang": {"$eq": "en"}}``), its JSON text, or ``None``."""


@dataclass(frozen=True)
class CollectionConfig:
    """What a collection fixes at creation (one row of ``collections``).

    ``index_params`` is the JSON form stored in SQLite; ``params`` the kind's typed dataclass.
    """

    id: int
    name: str
    uuid: str
    metric: Metric
    dim: int
    model: ModelSpec | None
    index_kind: IndexKind
    index_params: dict[str, Any] = field(default_factory=dict)
    chunking: ChunkingParams = field(default_factory=ChunkingParams)

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> CollectionConfig:
        cid, name, uid, metric, dim, model, kind, params, chunking = row
        return cls(
            id=int(cid), name=name, uuid=uid, metric=Metric(metric), dim=int(dim),
            model=ModelSpec.from_json(model) if model else None,
            index_kind=IndexKind.parse(kind), index_params=json.loads(params),
            chunking=ChunkingParams.from_dict(json.loads(chunking)),
        )

    @property
    def params(self) -> IndexParams | None:
        """The index parameters as the kind's frozen dataclass (``None`` for flat)."""
        return typed_params(self.index_kind, self.index_params)


def text_hash(text: str) -> str:
    """Content hash used for idempotent writes.

    >>> text_hash("a")[:12]
    'ca978112ca1b'
    """
    import hashlib  # here, not at the top: OpenSSL's binding costs every cold search ~2 ms

    return hashlib.sha256(text.encode("utf-8")).hexdigest()
