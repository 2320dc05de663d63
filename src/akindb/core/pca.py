"""Principal component analysis: the one copy every projection uses (the 2-D maps of ``viz`` and
the web page, SIF's common component).

Exact (a thin SVD in float64), deterministic (each axis is oriented so its components sum to
>= 0, so a stored axis or a redrawn map does not flip between runs) and pure numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from akindb.types import F32


@dataclass(frozen=True, slots=True)
class Principal:
    """The top ``k`` principal axes of a set of vectors.

    ``mean`` (d,) was subtracted before the SVD (zeros when ``centre=False``); ``axes`` (k, d)
    are unit rows, zero rows where the data has fewer than ``k`` directions of non-zero variance;
    ``explained`` is each axis's share of the total variance (sum of squares), 0.0 when none.
    """

    mean: F32
    axes: F32
    explained: list[float]

    def project(self, vectors: F32) -> F32:
        """(n, k) coordinates of ``vectors`` on the axes (new vectors project the same way)."""
        x = np.asarray(vectors, dtype=np.float64) - self.mean
        out: F32 = (x @ self.axes.T.astype(np.float64)).astype(np.float32)
        return out


def principal_axes(vectors: F32, k: int = 2, *, centre: bool = True) -> Principal:
    """The top ``k`` principal axes of the rows of ``vectors`` (n, d).

    ``centre=False`` gives the top right singular vectors of the raw rows (what SIF removes).

    >>> x = np.array([[-2, 0, 5], [2, 0, 5], [0, -1, 5], [0, 1, 5]], dtype=np.float32)
    >>> p = principal_axes(x)
    >>> p.mean.tolist(), p.axes.tolist(), p.explained
    ([0.0, 0.0, 5.0], [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], [0.8, 0.2])
    >>> p.project(np.array([[3, 1, 5]], dtype=np.float32)).tolist()
    [[3.0, 1.0]]
    >>> principal_axes(np.ones((3, 2), dtype=np.float32), 1).axes.tolist()  # no variance at all
    [[0.0, 0.0]]
    """
    x = np.asarray(vectors, dtype=np.float64)
    if x.ndim != 2 or k < 1:
        raise ValueError(f"want an (n, d) array and k >= 1, got shape {x.shape} and k={k}")
    n, d = x.shape
    mean = x.mean(axis=0) if centre and n else np.zeros(d)
    axes = np.zeros((k, d))
    explained = [0.0] * k
    if n:
        _, s, vt = np.linalg.svd(x - mean, full_matrices=False)
        var = s**2
        total = float(var.sum())
        # a direction whose singular value is at rounding level carries no variance: no axis
        top = min(k, int(np.count_nonzero(s > float(s.max(initial=0.0)) * max(n, d) * 1e-12)))
        if total > 0 and top:
            signs = np.where(vt[:top].sum(axis=1) < 0, -1.0, 1.0)[:, None]
            axes[:top] = vt[:top] * signs
            explained[:top] = [float(v / total) for v in var[:top]]
    return Principal(mean.astype(np.float32), axes.astype(np.float32), explained)
