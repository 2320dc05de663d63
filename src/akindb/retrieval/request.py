"""Search options as one typed object: the single definition every surface is built from.

``Collection.search`` builds a ``SearchRequest`` from its keyword arguments and hands it to
``akindb.retrieval.search``; the HTTP schema (``akindb.server.schemas``) derives its fields from
``SearchOptions``; the HTTP client sends ``to_wire()``; the server reads ``from_wire``;
``tests/test_search_options.py`` fails when a surface (Collection, HTTP client, server schema,
CLI) lacks an option. To add an option: add the field here (with its wire type in
``WIRE_TYPES``), use it in ``retrieval/search.py``, add it to ``Collection.search`` and the
client's ``search``, and a CLI flag in ``cli/commands.py``; the test names what is missing.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from akindb.collection.config import Where
from akindb.errors import EmptyTextError, InvalidArgumentError
from akindb.retrieval.fusion import FusionParams
from akindb.retrieval.rerank import Reranker, parse_reranker

SearchMode = Literal["vector", "keyword", "hybrid"]
GroupBy = Literal["document"]
GROUP_BYS: tuple[str, ...] = ("document",)
MODES: tuple[str, ...] = ("vector", "keyword", "hybrid")
DEFAULT_MODE: SearchMode = "hybrid"
"""Chosen on dev splits (NFCorpus nDCG@10 vector 0.3024, keyword 0.2971, hybrid 0.3410; the
Python-docs task 0.828 / 0.8471 / 0.8772; docs/benchmarks.md, "Finding the right passage");
pass ``mode="vector"`` for plain cosine scores."""


def check_mode(mode: str) -> SearchMode:
    if mode not in MODES:
        raise InvalidArgumentError(f"unknown search mode {mode!r}; use one of: {', '.join(MODES)}")
    return mode  # type: ignore[return-value]


def check_k(k: Any) -> int:
    """``k`` must be a positive int (``bool`` is not).

    >>> check_k(5)
    5
    """
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise InvalidArgumentError(f"k must be a positive integer, got {k!r}")
    return k


def check_threshold(name: str, value: Any) -> float | None:
    """A ``min_score``/``max_distance``: ``None`` or a real number (NaN is refused: it would
    silently keep nothing with ``<`` and everything with ``not >``).

    >>> check_threshold("min_score", 0.3)
    0.3
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise InvalidArgumentError(f"{name} must be a number or None, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class SearchOptions:
    """How to search, apart from the query text (``Collection.search`` keyword arguments).

    * ``k``: how many hits (chunks) to return, best first.
    * ``mode``: ``hybrid`` (vectors + BM25 fused), ``vector`` or ``keyword``.
    * ``min_score`` / ``max_distance``: thresholds on ``Hit.score`` / ``Hit.distance``
      (``akindb.retrieval.search`` tables what they mean per mode).
    * ``where``: a metadata filter.
    * ``exact``: bypass an approximate index (exact search over the same vectors).
    * ``explain``: add token importance to each hit's explanation.
    * ``rerank``: a ``Reranker`` or its spec (``"mmr"``, ``"cross-encoder:PATH"``).
    * ``fusion``: hybrid fusion parameters (``FusionParams`` or its dict).
    * ``group_by``: ``"document"`` returns ``k`` documents, each as its best chunk with the
      document's other matching chunks on ``Hit.others`` (``akindb.retrieval.grouping``).
    """

    k: int = 10
    mode: SearchMode = DEFAULT_MODE
    min_score: float | None = None
    max_distance: float | None = None
    where: Where = None
    exact: bool = False
    explain: bool = False
    rerank: Reranker | str | None = None
    fusion: FusionParams | Mapping[str, Any] | None = None
    group_by: GroupBy | None = None

    def checked(self) -> SearchOptions:
        """The same options with every value validated and ``rerank``/``fusion`` parsed."""
        rerank = self.rerank
        if isinstance(rerank, str):
            rerank = parse_reranker(rerank)
        fusion = self.fusion
        if fusion is not None and not isinstance(fusion, FusionParams):
            if not isinstance(fusion, Mapping):
                raise InvalidArgumentError(
                    f"fusion must be FusionParams or a dict, got {type(fusion).__name__}"
                )
            raw = dict(fusion)
            try:
                fusion = FusionParams.from_dict(raw)
            except (TypeError, ValueError) as exc:
                raise InvalidArgumentError(
                    f"invalid fusion parameters {raw!r}: {exc}; see FusionParams"
                ) from None
        if self.group_by is not None and self.group_by not in GROUP_BYS:
            raise InvalidArgumentError(
                f"unknown group_by {self.group_by!r}; use 'document' or None"
            )
        return dataclasses.replace(
            self, k=check_k(self.k), mode=check_mode(self.mode),
            min_score=check_threshold("min_score", self.min_score),
            max_distance=check_threshold("max_distance", self.max_distance),
            exact=bool(self.exact), explain=bool(self.explain), rerank=rerank, fusion=fusion,
        )

    def to_wire(self) -> dict[str, Any]:
        """The JSON body fields the HTTP API takes (``rerank`` as its spec string)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "rerank" and value is not None and not isinstance(value, str):
                spec = getattr(value, "spec", None)
                if not isinstance(spec, str):
                    raise InvalidArgumentError(
                        f"a {type(value).__name__} reranker cannot be sent over HTTP: pass its "
                        "spec string instead (e.g. rerank='mmr')"
                    )
                value = spec
            if f.name == "fusion" and isinstance(value, FusionParams):
                value = value.to_dict()
            out[f.name] = value
        return out


@dataclass(frozen=True)
class SearchRequest(SearchOptions):
    """A query text plus its ``SearchOptions``: what ``akindb.retrieval.search`` answers."""

    query: str = ""

    def checked(self) -> SearchRequest:
        if not isinstance(self.query, str) or not self.query.strip():
            raise EmptyTextError("the query is empty; type some words to search for")
        base = SearchOptions.checked(self)
        return SearchRequest(**{f.name: getattr(base, f.name)
                                for f in dataclasses.fields(SearchOptions)}, query=self.query)

    def to_wire(self) -> dict[str, Any]:
        return {"query": self.query, **super().to_wire()}


OPTION_NAMES: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(SearchOptions))
"""Every search option, in declaration order (what each surface must expose)."""
