"""SIF sentence vectors from trained word vectors (Arora, Liang & Ma, ICLR 2017).

A text's vector is the average of its words' vectors, each weighted ``a / (a + p(w))`` where
``p(w)`` is the word's corpus frequency (frequent words count less), minus its projection on the
*common component*: the first principal direction of such averages over a sample of the training
corpus (what all sentences share: mostly frequency and syntax, not meaning). The result is
L2-normalised so cosine is a dot product.

The common component is computed once at training time and stored in the model folder
(``sif_component.npy``), so a text's vector never depends on which other texts are embedded with
it: a collection can be backed by a word model and pinned by its weights hash like any other.

Knob: ``a`` (1e-3): smaller down-weights frequent words harder. Part of the pinned model.

A text with no known word gets the unit common component itself: after the removal every other
vector is orthogonal to it, so such a text scores 0 against any text that has known words.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from akindb.core.pca import principal_axes
from akindb.errors import EmptyTextError
from akindb.models.base import Embedder, FloatMatrix, ModelSpec, TokenView
from akindb.models.word2vec.vectors import WordVectors
from akindb.types import F32

DEFAULT_A = 1e-3
SIF_REVISION = "sif-v1"
CHUNK_TOKENS = 256
"""The chunking budget a collection backed by this model uses (SIF itself has no window)."""


def sif_weights(counts: np.ndarray, a: float = DEFAULT_A) -> F32:
    """``a / (a + p(w))`` for every word, with ``p`` the relative corpus frequency.

    >>> [round(float(w), 3) for w in sif_weights(np.array([999, 1]), a=1e-3)]
    [0.001, 0.5]
    """
    p = counts.astype(np.float64) / max(float(counts.sum()), 1.0)
    out: F32 = (a / (a + p)).astype(np.float32)
    return out


def weighted_averages(wv: WordVectors, texts: Sequence[str], weights: F32) -> tuple[F32, list[int]]:
    """(n, dim) weighted average of known words per text, and the number of known words."""
    out = np.zeros((len(texts), wv.dim), dtype=np.float32)
    known: list[int] = []
    for i, text in enumerate(texts):
        ids = [wv.index[t] for t in wv.tokenizer.tokens(text) if t in wv.index]
        known.append(len(ids))
        if ids:
            idx = np.asarray(ids)
            vecs = np.asarray(wv.vectors[idx], dtype=np.float32)
            out[i] = weights[idx] @ vecs / len(ids)
    return out, known


def fit_common_component(wv: WordVectors, texts: Sequence[str], a: float = DEFAULT_A) -> F32:
    """First right singular vector of the (uncentred) weighted averages of ``texts``."""
    avgs, known = weighted_averages(wv, texts, sif_weights(wv.counts, a))
    rows = avgs[np.asarray(known) > 0] if known else avgs
    if rows.shape[0] < 2:
        comp = np.zeros(wv.dim, dtype=np.float32)
        comp[0] = 1.0
        return comp
    # uncentred; principal_axes fixes the sign, which makes the stored file deterministic
    u: F32 = principal_axes(rows, 1, centre=False).axes[0]
    if not u.any():  # every average is zero: no common direction to remove
        u[0] = 1.0
    return u


class SIFEmbedder(Embedder):
    """An ``Embedder`` over a ``WordVectors`` folder: what ``load_embedder("path/to/m")`` returns
    for a trained word2vec model, so it can back a collection."""

    def __init__(self, wv: WordVectors, *, a: float = DEFAULT_A, batch_size: int = 256) -> None:
        self.wv = wv
        self.a = a
        self.batch_size = batch_size
        self._weights = sif_weights(wv.counts, a)
        comp = wv.sif_component
        if comp is None:
            comp = np.zeros(wv.dim, dtype=np.float32)
            comp[0] = 1.0
        self.component = np.asarray(comp, dtype=np.float32)
        vsha = str(wv.meta.get("vectors_sha256") or wv.vectors_sha256())
        h = hashlib.sha256()
        h.update(vsha.encode())
        h.update(np.ascontiguousarray(self.component, dtype="<f4").tobytes())
        h.update(
            json.dumps({"a": a, "tok": wv.tokenizer.config.to_dict()}, sort_keys=True).encode()
        )
        self.spec = ModelSpec(
            name=wv.name,
            revision=SIF_REVISION,
            weights_sha256=h.hexdigest(),
            dim=wv.dim,
            pooling="sif",
            normalize=True,
            max_tokens=CHUNK_TOKENS,
        )

    @classmethod
    def from_folder(cls, folder: Path, cache_dir: Path | None = None) -> SIFEmbedder:
        """Registry loader (``cache_dir`` is unused: there is nothing derived to cache)."""
        return cls(WordVectors.load(folder, verify=True))

    def embed_batch(self, texts: Sequence[str]) -> FloatMatrix:
        avgs, known = weighted_averages(self.wv, texts, self._weights)
        avgs -= np.outer(avgs @ self.component, self.component).astype(np.float32)
        norms = np.linalg.norm(avgs, axis=1)
        for i, n in enumerate(known):
            if n == 0 or norms[i] == 0:
                avgs[i] = self.component
                norms[i] = 1.0
        out: FloatMatrix = (avgs / norms[:, None]).astype(np.float32)
        return out

    def tokenize(self, text: str) -> TokenView:
        if not isinstance(text, str) or not text.strip():
            raise EmptyTextError("cannot tokenize empty text; give non-empty text")
        toks = self.wv.tokenizer.tokens_with_offsets(text)
        return TokenView(
            tokens=[t for t, _, _ in toks],
            ids=[self.wv.index.get(t, -1) for t, _, _ in toks],
            offsets=[(a, b) for _, a, b in toks],
            truncated=False,
            max_tokens=CHUNK_TOKENS,
        )

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(self.wv.tokenizer.tokens(t)) for t in texts]

    def __repr__(self) -> str:
        return f"SIFEmbedder({self.spec.describe()})"
