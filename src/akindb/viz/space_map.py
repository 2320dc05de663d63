"""A 2-D map of an embedding space: projection, clusters, labels and a query with its neighbours.

Projection is PCA by default (exact, deterministic, fast; distances between far-apart groups
stay meaningful but local neighbourhoods blur), or UMAP when the ``viz`` extra is installed
(``method="umap"``: local neighbourhoods kept, global distances not meaningful, slower).
Clusters are k-means on the unit vectors in the *original* space (cosine), so colours show real
groups, not artefacts of the projection. A query's neighbours are found in the original space
too, then drawn where the projection puts them.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from akindb.core.pca import principal_axes
from akindb.errors import InvalidArgumentError, MissingExtraError

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from akindb.collection import Collection
    from akindb.models.word2vec.vectors import WordVectors

F32 = npt.NDArray[np.float32]
Method = Literal["pca", "umap"]


@dataclass(slots=True)
class SpaceMap:
    """Everything a plot needs; ``xy`` is (n, 2), ``clusters`` (n,)."""

    xy: F32
    labels: list[str]
    clusters: npt.NDArray[np.int64]
    method: str
    title: str = ""
    shown_labels: list[int] = field(default_factory=list)
    query: str | None = None
    query_xy: F32 | None = None
    neighbours: list[tuple[int, float]] = field(default_factory=list)
    explained: float | None = None


def _unit(v: F32) -> F32:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    out: F32 = (v / np.where(n == 0, 1.0, n)).astype(np.float32)
    return out


def pca_2d(vectors: F32) -> tuple[F32, Callable[[F32], F32], float]:
    """(n, 2) PCA coordinates, a function projecting new vectors the same way, and the share of
    variance the two axes explain.

    >>> xy, f, share = pca_2d(np.array([[0, 0, 0], [2, 0, 0], [0, 1, 0]], dtype=np.float32))
    >>> xy.shape, round(share, 3)
    ((3, 2), 1.0)
    """
    p = principal_axes(vectors, 2)
    share = float(sum(p.explained)) or 1.0  # no variance at all: every point is the same point
    return p.project(vectors), p.project, share


@contextlib.contextmanager
def _quiet_umap() -> Iterator[None]:
    """UMAP and its imports warn about things the user cannot act on (TensorFlow missing for
    ParametricUMAP, n_jobs overridden by the seed, numba notes): keep them out of the user's
    output, logged at debug level instead (library code never prints)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for w in caught:
        log.debug("umap: %s: %s", w.category.__name__, w.message)


def umap_2d(vectors: F32, seed: int) -> tuple[F32, Callable[[F32], F32]]:
    try:
        with _quiet_umap():
            import umap  # type: ignore[import-not-found,import-untyped,unused-ignore]
    except ImportError as exc:
        raise MissingExtraError("viz", "UMAP projection (method='umap')") from exc
    reducer = umap.UMAP(n_components=2, metric="cosine", random_state=seed, n_jobs=1)
    with _quiet_umap():
        xy = np.asarray(reducer.fit_transform(vectors), dtype=np.float32)

    def transform(v: F32) -> F32:
        with _quiet_umap():
            return np.asarray(reducer.transform(v), dtype=np.float32)

    return xy, transform


def kmeans(
    vectors: F32, k: int, *, seed: int = 0, iters: int = 30, n_init: int = 4
) -> npt.NDArray[np.int64]:
    """Spherical k-means (cosine) with k-means++ seeding, best of ``n_init`` starts;
    deterministic for a seed.

    >>> v = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]], dtype=np.float32)
    >>> kmeans(v, 2).tolist() in ([0, 0, 1, 1], [1, 1, 0, 0])
    True
    """
    n = len(vectors)
    k = max(1, min(k, n))
    x = _unit(vectors)
    rng = np.random.default_rng(seed)
    best: tuple[float, npt.NDArray[np.int64]] | None = None
    for _start in range(n_init):
        labels, score = _kmeans_once(x, k, rng, iters)
        if best is None or score > best[0]:
            best = (score, labels)
    assert best is not None
    return best[1]


def _kmeans_once(
    x: F32, k: int, rng: np.random.Generator, iters: int
) -> tuple[npt.NDArray[np.int64], float]:
    n = len(x)
    centres = [x[int(rng.integers(n))]]
    for _ in range(1, k):
        d = 1.0 - np.max(np.stack([x @ c for c in centres]), axis=0)
        d = np.clip(d, 0, None) ** 2
        p = d / d.sum() if d.sum() > 0 else np.full(n, 1.0 / n)
        centres.append(x[int(rng.choice(n, p=p))])
    c = np.stack(centres)
    labels = np.full(n, -1, dtype=np.int64)
    for _ in range(iters):
        new = np.argmax(x @ c.T, axis=1).astype(np.int64)
        if np.array_equal(new, labels):
            break
        labels = new
        for j in range(k):
            members = x[labels == j]
            if len(members):
                c[j] = _unit(members.mean(axis=0))
    return labels, float(np.max(x @ c.T, axis=1).sum())


def build_map(
    vectors: F32,
    labels: Sequence[str],
    *,
    query_vector: F32 | None = None,
    query: str | None = None,
    neighbours: int = 10,
    clusters: int = 8,
    n_labels: int = 30,
    method: Method = "pca",
    seed: int = 0,
    title: str = "",
) -> SpaceMap:
    """Project ``vectors`` to 2-D, cluster them, pick labels to show, overlay the query."""
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or len(vectors) < 3:
        raise InvalidArgumentError("a map needs at least 3 vectors")
    if len(labels) != len(vectors):
        raise InvalidArgumentError(f"{len(labels)} labels for {len(vectors)} vectors")
    explained: float | None = None
    if method == "pca":
        xy, transform, explained = pca_2d(vectors)
    elif method == "umap":
        xy, transform = umap_2d(vectors, seed)
    else:
        raise InvalidArgumentError(f"method must be pca or umap, got {method!r}")
    groups = kmeans(vectors, clusters, seed=seed)
    m = SpaceMap(xy, list(labels), groups, method, title, explained=explained)
    unit = _unit(vectors)
    # label the point nearest each cluster centre, then a seeded random sample
    shown: list[int] = []
    for j in np.unique(groups):
        idx = np.flatnonzero(groups == j)
        centre = _unit(unit[idx].mean(axis=0))
        shown.append(int(idx[np.argmax(unit[idx] @ centre)]))
    rng = np.random.default_rng(seed)
    for i in rng.permutation(len(vectors)):
        if len(shown) >= n_labels:
            break
        if int(i) not in shown:
            shown.append(int(i))
    m.shown_labels = shown
    if query_vector is not None:
        raw = np.asarray(query_vector, dtype=np.float32).reshape(1, -1)
        q = _unit(raw)
        sims = (unit @ q[0]).astype(np.float64)
        top = np.argsort(-sims, kind="stable")[:neighbours]
        m.neighbours = [(int(i), float(sims[i])) for i in top]
        m.query = query or "query"
        m.query_xy = transform(raw)[0]  # projected like the points (raw, not unit, vectors)
    return m


# ---- sources -----------------------------------------------------------------------------------
def _short(text: str, n: int = 60) -> str:
    t = " ".join(text.split())
    return t if len(t) <= n else t[: n - 1] + "…"


def collection_map(
    col: Collection, *, query: str | None = None, limit: int = 5000, **kwargs: Any
) -> SpaceMap:
    """A map of a collection's chunk vectors (the first ``limit`` documents)."""
    records = col.get(limit=limit)
    vecs: list[F32] = []
    labels: list[str] = []
    for r in records:
        v = col.vectors_of(r.id)
        for row, ch in zip(v, r.chunks, strict=False):
            vecs.append(row)
            labels.append(_short(ch.text))
    if len(vecs) < 3:
        raise InvalidArgumentError(f"collection {col.name!r} has fewer than 3 chunks to map")
    qv = col.embedder.embed_one(query) if query else None
    return build_map(np.stack(vecs), labels, query_vector=qv, query=query, title=col.name, **kwargs)


def word_map(
    wv: WordVectors, *, query: str | None = None, top: int = 2000, skip: int = 100, **kwargs: Any
) -> SpaceMap:
    """A map of a word model: words ``skip``..``skip+top`` by frequency (the very frequent ones
    are function words), with ``query`` (a word) and its neighbours added if missing."""
    ids = list(range(min(skip, max(len(wv) - top, 0)), min(skip + top, len(wv))))
    qv = None
    if query:
        qv = wv.vector(query)
        extra = [wv.index[n.word] for n in wv.similar(query, kwargs.get("neighbours", 10))]
        extra.append(wv.index[wv.normalize_word(query)])
        ids += [i for i in extra if i not in set(ids)]
    vecs = np.asarray(wv.vectors[np.asarray(ids)], dtype=np.float32)
    return build_map(
        vecs,
        [wv.words[i] for i in ids],
        query_vector=qv,
        query=query,
        title=f"word vectors: {wv.folder.name if wv.folder else wv.name}",
        **kwargs,
    )
