"""The one PCA (akindb.core.pca) against numpy's eigen-decomposition of the covariance."""

from __future__ import annotations

import numpy as np
import pytest

from akindb.core.pca import principal_axes


def test_axes_match_the_covariance_eigenvectors() -> None:
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((200, 6)) * [5, 3, 1, 0.5, 0.2, 0.1] + 7).astype(np.float32)
    p = principal_axes(x, 3)
    centred = x.astype(np.float64) - x.mean(axis=0)
    vals, vecs = np.linalg.eigh(centred.T @ centred)
    order = np.argsort(vals)[::-1]
    for i in range(3):
        assert abs(float(p.axes[i] @ vecs[:, order[i]])) == pytest.approx(1.0, abs=1e-5)
        assert p.explained[i] == pytest.approx(vals[order[i]] / vals.sum(), rel=1e-4)
    assert np.allclose(p.mean, x.mean(axis=0), atol=1e-4)
    coords = p.project(x)
    assert coords.shape == (200, 3) and np.allclose(coords.mean(axis=0), 0, atol=1e-3)


def test_orientation_is_fixed_so_a_flipped_input_gives_the_same_axes() -> None:
    rng = np.random.default_rng(4)
    x = rng.standard_normal((50, 4)).astype(np.float32)
    a = principal_axes(x, 2)
    b = principal_axes(x[::-1].copy(), 2)
    assert np.allclose(a.axes, b.axes, atol=1e-5)
    assert all(float(row.sum()) >= 0 for row in a.axes)


def test_uncentred_and_degenerate_inputs() -> None:
    x = np.array([[3, 4], [6, 8], [-3, -4]], dtype=np.float32)
    assert np.allclose(principal_axes(x, 1, centre=False).axes, [[0.6, 0.8]])
    one = principal_axes(np.ones((1, 3), dtype=np.float32), 2)
    assert one.axes.tolist() == [[0, 0, 0], [0, 0, 0]] and one.explained == [0.0, 0.0]
    line = principal_axes(np.array([[0, 0], [1, 1], [2, 2]], dtype=np.float32), 2)
    assert np.allclose(line.axes, [[2**-0.5, 2**-0.5], [0, 0]]) and line.explained[1] == 0.0
    assert principal_axes(np.zeros((0, 3), dtype=np.float32), 2).axes.shape == (2, 3)
    with pytest.raises(ValueError, match="k >= 1"):
        principal_axes(x, 0)
