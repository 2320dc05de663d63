"""The embedder extension point: implement ``embed_batch`` and ``tokenize``; the base does the rest.

Batching, input validation, length-sorting (for ONNX Runtime speed and memory) and progress live
here once, so every model (pretrained, word2vec+SIF, fine-tuned) behaves the same.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from akindb.errors import EmptyTextError

FloatMatrix = npt.NDArray[np.float32]
ProgressFn = Callable[[int], None]
"""Called with the number of texts just finished (so a progress bar can ``advance``)."""


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """What a collection pins: enough to refuse a different model with a clear message."""

    name: str
    revision: str
    weights_sha256: str
    dim: int
    pooling: str
    normalize: bool
    max_tokens: int

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ModelSpec:
        return cls(**json.loads(text))

    def describe(self) -> str:
        """Short human description used in error messages.

        >>> ModelSpec("m", "r", "abcdef0123456789", 8, "mean", True, 256).describe()
        'm (rev r, weights abcdef012345, dim 8, mean pooling, normalized)'
        """
        norm = "normalized" if self.normalize else "not normalized"
        return (
            f"{self.name} (rev {self.revision}, weights {self.weights_sha256[:12]}, "
            f"dim {self.dim}, {self.pooling} pooling, {norm})"
        )

    def same_model(self, other: ModelSpec) -> bool:
        """Two specs make the same vectors when name-independent facts agree."""
        return (
            self.weights_sha256 == other.weights_sha256
            and self.dim == other.dim
            and self.pooling == other.pooling
            and self.normalize == other.normalize
        )


@dataclass(frozen=True, slots=True)
class TokenView:
    """How a text was tokenized: what ``akindb tokens`` shows."""

    tokens: list[str]
    ids: list[int]
    offsets: list[tuple[int, int]]
    truncated: bool
    max_tokens: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "tokens": self.tokens,
            "ids": self.ids,
            "offsets": [list(o) for o in self.offsets],
            "truncated": self.truncated,
            "max_tokens": self.max_tokens,
        }


class Embedder(abc.ABC):
    """Turns texts into vectors. Subclasses implement ``embed_batch``, ``tokenize`` and
    ``count_tokens``; callers use ``embed``."""

    spec: ModelSpec
    batch_size: int = 32
    query_prefix: str = ""
    """Put before every query (``embed(..., role="query")``): models trained with instructions
    (bge: "Represent this sentence for searching relevant passages: ", e5: "query: ")."""
    document_prefix: str = ""
    """Put before every document text (e5: "passage: "); see ``akindb.models.catalog``."""

    @abc.abstractmethod
    def embed_batch(self, texts: Sequence[str]) -> FloatMatrix:
        """Embed one batch (already validated, ideally of similar lengths): shape (n, dim)."""

    @abc.abstractmethod
    def tokenize(self, text: str) -> TokenView:
        """The model's own tokenization of ``text`` (special tokens included)."""

    @abc.abstractmethod
    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Number of model tokens of each text, without special tokens and without truncation."""

    @property
    def dim(self) -> int:
        return self.spec.dim

    def embed(
        self,
        texts: Sequence[str],
        *,
        batch_size: int | None = None,
        progress: ProgressFn | None = None,
        role: str = "document",
    ) -> FloatMatrix:
        """Embed any number of texts, in the input order (``role``: ``document`` or ``query``,
        which picks the model's prefix, if it declares one).

        Texts are sorted by length and cut into batches so that padding is small; the result is
        put back in input order. Empty or whitespace-only texts raise ``EmptyTextError``.
        """
        n = len(texts)
        if n == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            if not isinstance(t, str) or not t.strip():
                raise EmptyTextError(
                    f"text #{i} is empty or not a string; give non-empty text to embed"
                )
        prefix = self.query_prefix if role == "query" else self.document_prefix
        if prefix:
            texts = [prefix + t for t in texts]
        bs = batch_size or self.batch_size
        order = sorted(range(n), key=lambda i: len(texts[i]))
        out = np.empty((n, self.dim), dtype=np.float32)
        for lo in range(0, n, bs):
            idx = order[lo : lo + bs]
            vecs = self.embed_batch([texts[i] for i in idx])
            out[idx] = vecs
            if progress is not None:
                progress(len(idx))
        return out

    def embed_one(self, text: str) -> npt.NDArray[np.float32]:
        out: npt.NDArray[np.float32] = self.embed([text])[0]
        return out


def check_pinned(collection: str, dim: int, pinned: ModelSpec | None,
                 embedder: Embedder | None) -> None:
    """Refuse ``embedder`` for a collection pinned to another model (or, unpinned, making
    vectors of another dimension), naming both: the one pin check every collection uses."""
    from akindb.errors import ModelMismatchError

    if embedder is None or pinned is None:
        if embedder is not None and embedder.dim != dim:
            raise ModelMismatchError(
                f"collection {collection!r} stores {dim}-d vectors; model "
                f"{embedder.spec.describe()} makes {embedder.dim}-d"
            )
        return
    if not pinned.same_model(embedder.spec):
        raise ModelMismatchError(
            f"collection {collection!r} is pinned to model {pinned.describe()}, but "
            f"{embedder.spec.describe()} was given; use the pinned model or create a new "
            "collection for the other one"
        )
