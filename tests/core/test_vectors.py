"""``normalize_rows`` and the lean query check (``unit_and_raw``) agree bit for bit, alone and in
a batch (session 8: one BLAS dot per row, where a square and a pairwise sum took two calls)."""

from __future__ import annotations

import numpy as np

from akindb.core.vectors import normalize_rows, unit_and_raw


def test_a_row_is_normalised_alike_alone_and_in_a_batch() -> None:
    """A query's unit vector must not depend on whether it came alone (the lean path, or a
    batch of one) or with others (``search_vectors``): the batch goes through ``matmul``,
    the single row through ``np.dot``; both must be the same dot per row. Dimensions around
    the BLAS kernels' block sizes, scales near the float32 limits, a zero row (stays zero)."""
    rng = np.random.default_rng(8)
    for dim in (1, 3, 7, 16, 31, 33, 64, 100, 384, 768, 1025):
        x = rng.normal(size=(300, dim)).astype(np.float32)
        x *= (10.0 ** rng.uniform(-15, 15, (300, 1))).astype(np.float32)
        x[7] = 0.0
        batch = normalize_rows(x)
        for i in range(len(x)):
            one = normalize_rows(x[i : i + 1])
            assert one.tobytes() == batch[i : i + 1].tobytes(), (dim, i)
            got = unit_and_raw(x[i], dim)
            if got is not None:  # None: zero, or squares beyond float32 (the general path)
                assert got[0].tobytes() == one.tobytes(), (dim, i)
        assert not batch[7].any()
        norms = np.linalg.norm(batch[np.arange(300) != 7].astype(np.float64), axis=1)
        assert np.allclose(norms, 1.0, atol=1e-6)


def test_a_strided_batch_is_normalised_as_a_contiguous_one() -> None:
    rng = np.random.default_rng(9)
    wide = rng.normal(size=(50, 64)).astype(np.float32)
    view = wide[:, ::2]
    assert normalize_rows(view).tobytes() == normalize_rows(np.ascontiguousarray(view)).tobytes()
