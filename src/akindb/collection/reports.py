"""Typed results of ``tune``, ``index_stats``, ``compact`` and ``info``.

Frozen dataclasses with ``to_dict()`` (the JSON the CLI and the HTTP API print) and
``from_dict()`` (what the HTTP client rebuilds). They also read like the dicts these methods
returned before (``report["met"]``, ``stats.get("tuned")``), so code written against the dict
form keeps working; new code uses the attributes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Self


class _Report:
    """``to_dict``/``from_dict`` and read-only mapping access for a report dataclass.

    ``extra`` (when the report has it) holds sections other features add (e.g. a recall
    monitor); they are merged into ``to_dict()`` at the top level.
    """

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if f.name == "extra":
                out.update(value)
            else:
                out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Self:
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        known = {k: v for k, v in raw.items() if k in names and k != "extra"}
        if "extra" in names:
            known["extra"] = {k: v for k, v in raw.items() if k not in names}
        return cls(**known)

    def __getitem__(self, key: str) -> Any:
        return self.to_dict()[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.to_dict().get(key, default)

    def keys(self) -> Any:
        return self.to_dict().keys()

    def __contains__(self, key: object) -> bool:
        return key in self.to_dict()

    def __iter__(self) -> Iterator[str]:
        return iter(self.to_dict())


@dataclass(frozen=True)
class TuneReport(_Report):
    """What ``Collection.tune`` measured and chose.

    ``before``/``after`` are ``{"value", "recall", "qps"}`` points; ``sweep`` every point
    tried; ``met`` whether ``after.recall`` reached ``target_recall``; ``note`` why nothing was
    tuned (a flat index, too few vectors)."""

    kind: str
    target_recall: float
    k: int
    size: int
    knob: str | None
    met: bool
    note: str | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    sweep: list[dict[str, Any]] = field(default_factory=list)
    n_queries: int = 0
    at: str | None = None
    built_seq: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class IndexStats(_Report):
    """``Collection.index_stats``: the index as it is now, and its last tuning."""

    kind: str
    params: dict[str, Any]
    size: int
    built_seq: int
    saved_seq: int
    deleted: int
    deleted_fraction: float
    file_bytes: int
    last_event: str
    tuned: dict[str, Any] | None = None
    memory: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CompactReport(_Report):
    """``Collection.compact``: what was dropped and the bytes before and after."""

    kind: str
    tombstones_dropped: int
    log_entries_trimmed: int
    db_bytes_before: int
    db_bytes_after: int
    index_bytes_before: int
    index_bytes_after: int


@dataclass(frozen=True)
class CollectionInfo(_Report):
    """``Collection.info``: counts, model pin, metric, index and chunking."""

    name: str
    documents: int
    chunks: int
    metric: str
    dim: int
    model: str | None
    model_weights_sha256: str | None
    pooling: str | None
    index: str
    index_params: dict[str, Any]
    chunking: dict[str, Any]
    uuid: str
    extra: dict[str, Any] = field(default_factory=dict)
