"""Shared fixtures: where the real data lives, and a deterministic fake embedder for tests in
which the model is beside the point (DESIGN rule 10). Tests about retrieval quality use the
real model instead."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

import akindb
from akindb.models.base import Embedder, FloatMatrix, ModelSpec, TokenView

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def shared_data() -> Path:
    """``../shared/data`` beside the repo; tests that need it skip when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared evaluation data not found at {SHARED_DATA}")
    return SHARED_DATA


_WORD = re.compile(r"\w+", re.UNICODE)


class HashEmbedder(Embedder):
    """Bag-of-words feature hashing into ``dim`` buckets, L2-normalised. Deterministic, fast,
    and similar texts (shared words) really are closer, which is all storage tests need."""

    def __init__(self, dim: int = 256, name: str = "test-hash") -> None:
        self.spec = ModelSpec(
            name=name,
            revision="1",
            weights_sha256=hashlib.sha256(name.encode()).hexdigest(),
            dim=dim,
            pooling="sum",
            normalize=True,
            max_tokens=128,
        )

    def _words(self, text: str) -> list[str]:
        return [w.lower() for w in _WORD.findall(text)]

    def embed_batch(self, texts: Sequence[str]) -> FloatMatrix:
        out = np.zeros((len(texts), self.spec.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in self._words(t)[: self.spec.max_tokens]:
                h = int.from_bytes(hashlib.blake2b(w.encode(), digest_size=8).digest(), "little")
                out[i, h % self.spec.dim] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return out / norms

    def tokenize(self, text: str) -> TokenView:
        spans = [(m.start(), m.end()) for m in _WORD.finditer(text)]
        toks = [text[a:b].lower() for a, b in spans]
        return TokenView(
            toks,
            list(range(len(toks))),
            spans,
            len(toks) > self.spec.max_tokens,
            self.spec.max_tokens,
        )

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(self._words(t)) for t in texts]


@pytest.fixture
def hash_embedder() -> HashEmbedder:
    return HashEmbedder()


@pytest.fixture
def tmp_db(tmp_path: Path) -> Iterator[akindb.Database]:
    db = akindb.open(tmp_path / "db")
    yield db
    db.close()
