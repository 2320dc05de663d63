"""The two decisions behind ``lsh``: how big its tables are, and which buckets a query visits.

Pure numpy, no state: ``LshIndex`` calls these and owns the data.

Sizing. A table of ``b`` sign bits splits ``n`` vectors into about ``n / 2**b`` per bucket.
Too few bits and every bucket is a crowd (the re-rank reads much of the collection); too many
and a true neighbour, which agrees with the query on each bit with probability
``1 - angle / pi``, lands in the query's bucket too rarely. ``auto_shape`` keeps buckets at
about ``BUCKET_TARGET`` vectors and adds tables as bits grow, since the chance that a
neighbour shares all ``b`` bits falls geometrically with ``b``. Chosen on 5k and 19.5k MiniLM
vectors: for the same share of the collection re-ranked, more tables of more bits found more
true neighbours (recall@10 at ~25 % re-ranked, 19.5k: 16x12 0.90, 32x13 0.95, 64x14 0.97;
docs/benchmarks.md, "LSH made real").

Multi-probe (Lv et al., VLDB 2007, "query-directed" probing). Beside its own bucket, a query
visits the buckets reached by flipping the bits whose projections were closest to zero: a
neighbour disagrees with the query most likely on those. A set of flipped bits costs the sum
of its squared projections; each table visits its ``probes`` cheapest sets. The cheapest
``p`` sets are a prefix of the cheapest ``p + 1``, so the buckets (hence the candidates, hence
the recall of an exact re-rank) only grow with ``probes``: recall is monotone in the knob.
Sets are drawn from the ``PROBE_BITS`` least confident bits of each table (all subsets of
them): a flip of any other bit costs more than flipping any one of those.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

U32 = npt.NDArray[np.uint32]
F32 = npt.NDArray[np.float32]

BUCKET_TARGET = 2
"""Vectors per bucket that ``auto_shape`` aims for (small buckets, many tables, wide probing
found the most true neighbours per vector re-ranked)."""

MAX_AUTO_BITS = 24
PROBE_BITS = 10
"""Probing considers subsets of this many least-confident bits per table (1023 buckets)."""


def auto_shape(n: int) -> tuple[int, int]:
    """(tables, bits) for ``n`` vectors: about ``BUCKET_TARGET`` vectors per bucket, and more
    tables as the bits (and so the chance to miss a neighbour) grow: ``4 * bits - 20``,
    between 8 and 64.

    >>> auto_shape(1_000), auto_shape(20_000), auto_shape(1_000_000)
    ((16, 9), (32, 13), (56, 19))
    """
    bits = min(MAX_AUTO_BITS, max(1, round(math.log2(max(n, 1) / BUCKET_TARGET))))
    tables = min(64, max(8, 4 * bits - 20))
    return tables, bits


def max_probes(n_bits: int) -> int:
    """How many other buckets a table can be probed at (all non-empty flip sets).

    >>> max_probes(3), max_probes(30)
    (7, 1023)
    """
    return (1 << min(n_bits, PROBE_BITS)) - 1


def _subsets(m: int) -> npt.NDArray[np.float32]:
    """Every non-empty subset of ``m`` bits as a 0/1 row, shape ``(2**m - 1, m)``."""
    ids = np.arange(1, 1 << m, dtype=np.uint32)[:, None]
    out: npt.NDArray[np.float32] = ((ids >> np.arange(m, dtype=np.uint32)) & 1).astype(
        np.float32
    )
    return out


def probe_codes(proj: F32, weights: U32, probes: int) -> U32:
    """Bucket codes to visit, shape ``(nq, tables, 1 + probes)``: own bucket first, then the
    ``probes`` cheapest flips of each table, cheapest first.

    ``proj`` is ``(nq, tables, bits)`` projections (sign = bit); ``weights[j] = 1 << j``.

    >>> p = np.array([[[0.9, -0.1, 0.5]]], dtype=np.float32)  # bits 1, 0, 1 -> code 5
    >>> w = np.array([1, 2, 4], dtype=np.uint32)
    >>> probe_codes(p, w, 3)[0, 0].tolist()  # flip bit 1 (0.01), bit 2 (0.25), both (0.26)
    [5, 7, 1, 3]
    """
    nb = proj.shape[2]
    base: U32 = ((proj > 0).astype(np.uint32) * weights).sum(axis=2, dtype=np.uint32)
    probes = min(probes, max_probes(nb))
    if probes <= 0:
        own: U32 = base[:, :, None]
        return own
    m = min(nb, PROBE_BITS)
    conf = proj * proj
    order = np.argsort(conf, axis=2, kind="stable")[:, :, :m]  # least confident bits first
    cheap = np.take_along_axis(conf, order, axis=2)  # (nq, nt, m)
    subs = _subsets(m)  # (S, m)
    cost = cheap @ subs.T  # (nq, nt, S)
    if probes < cost.shape[2]:
        pick = np.argpartition(cost, probes - 1, axis=2)[:, :, :probes]
    else:
        pick = np.broadcast_to(np.arange(cost.shape[2]), cost.shape)
    pick = np.take_along_axis(
        pick, np.argsort(np.take_along_axis(cost, pick, axis=2), axis=2, kind="stable"), axis=2
    )
    bit_w = weights[order]  # (nq, nt, m): the weight of each chosen bit
    chosen = subs.astype(np.uint32)[pick]  # (nq, nt, probes, m)
    masks = (chosen * bit_w[:, :, None, :]).sum(axis=3, dtype=np.uint32)
    return np.concatenate([base[:, :, None], base[:, :, None] ^ masks], axis=2)
