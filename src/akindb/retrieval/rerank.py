"""Re-ranking stage: a ``Reranker`` re-orders the top candidates of a search.

``Collection.search(..., rerank=r)`` retrieves ``max(k, r.pool)`` candidates (``pool`` is an
optional attribute; 50 without it), applies thresholds, then calls ``r.rerank`` and keeps the
first ``k``. ``Hit.score`` stays the retrieval score; the reranker's own score and the rank
before/after are in ``Hit.explain().reranker``.

Shipped:

* :class:`MMR`, maximal marginal relevance (Carbonell & Goldstein, 1998), for diversity:
  picks greedily ``argmax λ·sim(q, d) − (1 − λ)·max_{s ∈ picked} sim(d, s)`` with cosine
  similarity of the stored chunk vectors. ``λ = 1`` is plain relevance order; ``λ = 0`` only
  avoids redundancy; 0.5–0.8 is the usual range (default 0.7: mostly relevance, near-copies
  pushed down). Costs O(pool² · dim), nothing for a pool of 50.
* :class:`CrossEncoderReranker`: a sentence-transformers ``CrossEncoder`` loaded from a local
  folder scores each (query, passage) pair jointly. Can be more precise than the bi-encoder
  when it was trained for the domain, and costs a transformer pass over ``pool`` (query,
  passage) pairs per query: ``pool`` (default 30) trades recall of the re-ordering (a relevant
  chunk ranked below the pool cannot come up) against that latency, roughly linearly. Needs
  the optional PyTorch stack (``pip install 'akindb[rerank]'`` after installing
  ``torch==2.13.0``, the CPU build). ``bench/train_cross_encoder.py`` trains a small one on
  NFCorpus and measures whether it helps (docs/benchmarks.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from akindb.errors import InvalidArgumentError, MissingExtraError, ModelNotFoundError
from akindb.index.base import F32
from akindb.types import Hit


@runtime_checkable
class Reranker(Protocol):
    """Re-orders candidates. Returns ``(index into hits, reranker score)`` best first, at most
    ``k`` of them. ``query_vector`` and ``vectors`` (the hits' stored vectors, one row each) are
    given when ``needs_vectors`` is true. An optional ``pool`` attribute (int) says how many
    candidates to retrieve for it (default ``search.RERANK_POOL``)."""

    name: str
    needs_vectors: bool

    def rerank(
        self, query: str, query_vector: F32 | None, hits: Sequence[Hit], vectors: F32, k: int
    ) -> list[tuple[int, float]]: ...


def _check_pool(pool: int) -> int:
    if not isinstance(pool, int) or isinstance(pool, bool) or pool < 1:
        raise InvalidArgumentError(f"a reranker's pool must be a positive integer, got {pool!r}")
    return pool


def _unit(x: F32) -> F32:
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    out: F32 = (x / np.maximum(n, 1e-12)).astype(np.float32)
    return out


class MMR:
    """Maximal marginal relevance (see the module doc for ``lambda_``).

    >>> import numpy as np
    >>> v = np.array([[1, 0], [1, 0.01], [0.6, 0.8]], np.float32)
    >>> [i for i, _ in MMR(0.3).rerank("q", np.array([1, 0], np.float32), [], v, 3)]
    [0, 2, 1]
    """

    name = "mmr"
    needs_vectors = True

    def __init__(self, lambda_: float = 0.7, *, pool: int = 50) -> None:
        if not 0.0 <= lambda_ <= 1.0:
            raise InvalidArgumentError(f"MMR lambda must be in [0, 1], got {lambda_}")
        self.lambda_ = lambda_
        self.pool = _check_pool(pool)

    def rerank(
        self, query: str, query_vector: F32 | None, hits: Sequence[Hit], vectors: F32, k: int
    ) -> list[tuple[int, float]]:
        if query_vector is None:
            raise InvalidArgumentError("MMR needs the query vector")
        n = len(vectors)
        if n == 0:
            return []
        v = _unit(np.asarray(vectors, np.float32))
        rel = v @ _unit(np.asarray(query_vector, np.float32))
        sim = v @ v.T
        picked: list[tuple[int, float]] = []
        best_sim = np.full(n, -np.inf, dtype=np.float32)
        free = np.ones(n, dtype=bool)
        for _ in range(min(k, n)):
            red = np.where(np.isfinite(best_sim), best_sim, 0.0)
            mmr = self.lambda_ * rel - (1.0 - self.lambda_) * red
            mmr = np.where(free, mmr, -np.inf)
            i = int(np.argmax(mmr))
            picked.append((i, float(mmr[i])))
            free[i] = False
            best_sim = np.maximum(best_sim, sim[i])
        return picked


class CrossEncoderReranker:
    """Scores (query, passage) pairs with a sentence-transformers ``CrossEncoder`` from a local
    folder (no network). The model is loaded on first use and kept."""

    name = "cross-encoder"
    needs_vectors = False

    def __init__(
        self, path: str | Path, *, pool: int = 30, batch_size: int = 32, device: str = "cpu"
    ) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            raise ModelNotFoundError(
                f"no cross-encoder folder at {self.path}; give the folder a sentence-transformers "
                "CrossEncoder was saved to (model.save(path))"
            )
        self.pool = _check_pool(pool)
        self.batch_size = batch_size
        self.device = device
        self._model: Any = None

    def _load(self) -> Any:
        if self._model is None:
            try:
                from sentence_transformers import CrossEncoder
            except ImportError:
                raise MissingExtraError(
                    "rerank", "the cross-encoder reranker (install torch==2.13.0, the CPU build, "
                    "first)"
                ) from None
            self._model = CrossEncoder(str(self.path), device=self.device, local_files_only=True)
        return self._model

    def rerank(
        self, query: str, query_vector: F32 | None, hits: Sequence[Hit], vectors: F32, k: int
    ) -> list[tuple[int, float]]:
        if not hits:
            return []
        model = self._load()
        scores = np.asarray(
            model.predict(
                [(query, h.text) for h in hits],
                batch_size=self.batch_size,
                show_progress_bar=False,
            ),
            dtype=np.float64,
        ).reshape(len(hits), -1)[:, -1]
        order = sorted(range(len(hits)), key=lambda i: (-scores[i], i))[:k]
        return [(i, float(scores[i])) for i in order]


RERANKERS = ("mmr", "cross-encoder:PATH")


def parse_reranker(spec: str, *, mmr_lambda: float = 0.7, pool: int | None = None) -> Reranker:
    """A reranker from a short spec (what ``akindb search --rerank`` takes): ``mmr`` or
    ``cross-encoder:PATH`` (a local CrossEncoder folder). ``pool`` overrides its default.

    >>> r = parse_reranker("mmr", mmr_lambda=0.5)
    >>> r.name, r.lambda_, r.pool
    ('mmr', 0.5, 50)
    """
    name, _, arg = spec.strip().partition(":")
    name = name.strip().lower()
    if name == "mmr" and not arg:
        return MMR(mmr_lambda) if pool is None else MMR(mmr_lambda, pool=pool)
    if name == "cross-encoder" and arg.strip():
        path = Path(arg.strip()).expanduser()
        return CrossEncoderReranker(path) if pool is None else CrossEncoderReranker(path, pool=pool)
    raise InvalidArgumentError(
        f"unknown reranker {spec!r}; use one of: {', '.join(RERANKERS)} "
        "(PATH: a folder a sentence-transformers CrossEncoder was saved to)"
    )
