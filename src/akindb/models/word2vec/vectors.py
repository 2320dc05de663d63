"""``WordVectors``: the frozen, memory-mappable artifact a word2vec training run produces.

A model folder holds (format 1, all little-endian):

| file                       | what                                                          |
|----------------------------|---------------------------------------------------------------|
| ``akindb-word-vectors.json`` | marker + metadata: format, version, dim, vocab size,        |
|                            | SHA-256 of ``vectors.npy``, training config and report        |
| ``vectors.npy``            | float32 (vocab, dim), row i is the vector of word i           |
| ``vocab.txt``              | UTF-8, one word per line, most frequent first                 |
| ``counts.npy``             | int64 (vocab,), corpus frequency of each word                 |
| ``tokenizer_config.json``  | the tokenizer (``tokenizer.py``), + ``tokenizer.json`` for   |
|                            | subword kinds                                                 |
| ``sif_component.npy``      | optional float32 (dim,): SIF's common component (``sif.py``)  |

Nothing of the optimizer (no gensim objects) is kept: search needs only these files, and
``vectors.npy`` is opened with ``mmap_mode="r"`` so a large vocabulary costs no RAM until used.
A folder is written into a temporary sibling and renamed into place at the end, so an interrupted
save never leaves a folder that looks complete.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from akindb.atomic import replace_dir
from akindb.errors import InvalidArgumentError, ModelError, ModelNotFoundError
from akindb.models.word2vec.tokenizer import WordTokenizer
from akindb.models.word2vec.work import CHECKPOINT_FILE, WORK_SUFFIX
from akindb.types import F32

FORMAT = "akindb-word-vectors"
FORMAT_VERSION = 1
MARKER = "akindb-word-vectors.json"
SIF_FILE = "sif_component.npy"


class OutOfVocabularyError(InvalidArgumentError, KeyError):
    """Words the model has no vector for; ``words`` names them."""

    def __init__(self, words: Sequence[str], model: str) -> None:
        self.words = list(words)
        names = ", ".join(repr(w) for w in self.words)
        super().__init__(
            f"not in the vocabulary of {model}: {names}; check the spelling (the model is "
            "lower-cased if trained so) or retrain with a lower --min-count"
        )

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


@dataclass(frozen=True, slots=True)
class Neighbor:
    word: str
    score: float


def sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


class WordVectors:
    """Word → vector, with cosine neighbours and 3CosAdd analogies.

    >>> wv = WordVectors(["a", "b", "c"], np.eye(3, dtype=np.float32), np.array([3, 2, 1]))
    >>> [n.word for n in wv.similar("a", k=2)]
    ['b', 'c']
    """

    def __init__(
        self,
        words: Sequence[str],
        vectors: F32,
        counts: npt.NDArray[np.int64] | Sequence[int],
        *,
        meta: dict[str, Any] | None = None,
        tokenizer: WordTokenizer | None = None,
        sif_component: F32 | None = None,
        folder: Path | None = None,
    ) -> None:
        if vectors.ndim != 2 or vectors.shape[0] != len(words):
            raise ModelError(
                f"{len(words)} words but vectors of shape {vectors.shape}; the model is damaged"
            )
        counts_arr = np.asarray(counts, dtype=np.int64)
        if counts_arr.shape != (len(words),):
            raise ModelError(f"{len(words)} words but {counts_arr.shape[0]} counts; damaged model")
        self.words = list(words)
        self.index = {w: i for i, w in enumerate(self.words)}
        if len(self.index) != len(self.words):
            raise ModelError("the vocabulary repeats a word; the model is damaged")
        self.vectors = vectors
        self.counts = counts_arr
        self.meta: dict[str, Any] = dict(meta or {})
        self.tokenizer = tokenizer or WordTokenizer()
        self.sif_component = sif_component
        self.folder = folder
        self._norms: F32 | None = None

    # ---- basics -------------------------------------------------------------------------------
    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return word in self.index

    @property
    def name(self) -> str:
        return str(self.folder) if self.folder is not None else "in-memory word vectors"

    @property
    def norms(self) -> F32:
        """L2 norm of every row, computed once in blocks (works on a memory map)."""
        if self._norms is None:
            out = np.empty(len(self), dtype=np.float32)
            for lo in range(0, len(self), 65536):
                block = np.asarray(self.vectors[lo : lo + 65536], dtype=np.float32)
                out[lo : lo + 65536] = np.linalg.norm(block, axis=1)
            out[out == 0] = 1.0
            self._norms = out
        return self._norms

    def ids(self, words: Sequence[str]) -> list[int]:
        """Row of each word; raises ``OutOfVocabularyError`` naming every missing one."""
        missing = [w for w in words if w not in self.index]
        if missing:
            raise OutOfVocabularyError(missing, self.name)
        return [self.index[w] for w in words]

    def normalize_word(self, word: str) -> str:
        return word.lower() if self.tokenizer.config.lowercase else word

    def vector(self, word: str) -> F32:
        i = self.ids([self.normalize_word(word)])[0]
        return np.array(self.vectors[i], dtype=np.float32)

    def unit(self, word: str) -> F32:
        i = self.ids([self.normalize_word(word)])[0]
        out: F32 = np.asarray(self.vectors[i], dtype=np.float32) / self.norms[i]
        return out

    # ---- queries ------------------------------------------------------------------------------
    def _rank(
        self, query: F32, k: int, exclude: set[int], restrict_vocab: int | None
    ) -> list[Neighbor]:
        if k < 1:
            raise InvalidArgumentError(f"k must be at least 1, got {k}")
        limit = len(self) if restrict_vocab is None else min(restrict_vocab, len(self))
        q = query / (float(np.linalg.norm(query)) or 1.0)
        scores = np.asarray(self.vectors[:limit], dtype=np.float32) @ q / self.norms[:limit]
        for i in exclude:
            if i < limit:
                scores[i] = -np.inf
        kk = min(k, max(limit - len(exclude), 0))
        if kk == 0:
            return []
        top = np.argpartition(-scores, kk - 1)[:kk]
        top = top[np.lexsort((top, -scores[top]))]
        return [Neighbor(self.words[int(i)], float(scores[i])) for i in top]

    def similar(
        self, word_or_vector: str | F32, k: int = 10, *, restrict_vocab: int | None = None
    ) -> list[Neighbor]:
        """The ``k`` nearest words by cosine (the word itself excluded)."""
        if isinstance(word_or_vector, str):
            w = self.normalize_word(word_or_vector)
            i = self.ids([w])[0]
            return self._rank(self.unit(w), k, {i}, restrict_vocab)
        vec = np.asarray(word_or_vector, dtype=np.float32)
        if vec.shape != (self.dim,):
            raise InvalidArgumentError(f"query vector has shape {vec.shape}, want ({self.dim},)")
        return self._rank(vec, k, set(), restrict_vocab)

    def analogy(
        self, a: str, b: str, c: str, k: int = 1, *, restrict_vocab: int | None = None
    ) -> list[Neighbor]:
        """ "a is to b as c is to ?" by 3CosAdd: nearest to unit(b) - unit(a) + unit(c), with a,
        b and c excluded (as word2vec and gensim do). ``analogy("man", "king", "woman")`` asks
        king - man + woman. Raises ``OutOfVocabularyError`` naming every unknown word."""
        words = [self.normalize_word(w) for w in (a, b, c)]
        ia, ib, ic = self.ids(words)
        target = self.unit(words[1]) - self.unit(words[0]) + self.unit(words[2])
        return self._rank(target, k, {ia, ib, ic}, restrict_vocab)

    def similarity(self, w1: str, w2: str) -> float:
        return float(self.unit(w1) @ self.unit(w2))

    # ---- files --------------------------------------------------------------------------------
    def vectors_sha256(self) -> str:
        if self.folder is not None and (self.folder / "vectors.npy").is_file():
            return sha256_file(self.folder / "vectors.npy")
        return hashlib.sha256(np.ascontiguousarray(self.vectors, dtype="<f4").tobytes()).hexdigest()

    def save(self, out: str | Path, *, overwrite: bool = False) -> Path:
        """Write the model folder ``out`` atomically (temp sibling → rename); returns its path.

        An existing ``out`` is replaced only with ``overwrite=True`` and only if it is one of ours.
        """
        out = Path(out).expanduser().resolve()
        if out.exists():
            if not overwrite:
                raise InvalidArgumentError(f"{out} exists; choose another folder or overwrite")
            if not (out.is_dir() and ((out / MARKER).is_file() or not any(out.iterdir()))):
                raise InvalidArgumentError(
                    f"{out} exists and is not an akindb word-vector folder; refusing to replace it"
                )
        for w in self.words:
            if not w or "\n" in w or "\r" in w:
                raise InvalidArgumentError(f"word {w!r} cannot be stored (empty or has a newline)")
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
        try:
            np.save(tmp / "vectors.npy", np.ascontiguousarray(self.vectors, dtype="<f4"))
            np.save(tmp / "counts.npy", self.counts.astype("<i8"))
            with open(tmp / "vocab.txt", "w", encoding="utf-8", newline="\n") as fh:
                fh.writelines(w + "\n" for w in self.words)
            self.tokenizer.save(tmp)
            if self.sif_component is not None:
                np.save(tmp / SIF_FILE, np.asarray(self.sif_component, dtype="<f4"))
            meta = {
                **self.meta,
                "format": FORMAT,
                "version": FORMAT_VERSION,
                "dim": self.dim,
                "vocab_size": len(self),
                "vectors_sha256": sha256_file(tmp / "vectors.npy"),
                "tokenizer": self.tokenizer.config.to_dict(),
            }
            with open(tmp / MARKER, "w", encoding="utf-8") as fh:  # the marker is written last
                json.dump(meta, fh, indent=1, sort_keys=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        replace_dir(tmp, out)
        self.folder = out
        self.meta = meta
        return out

    @classmethod
    def load(cls, folder: str | Path, *, mmap: bool = True, verify: bool = False) -> WordVectors:
        """Open a model folder; ``vectors.npy`` is memory-mapped unless ``mmap=False``.

        ``verify=True`` checks the vectors' SHA-256 against the one recorded at save time.
        Raises ``ModelNotFoundError`` for a folder that is not ours, ``ModelError`` if damaged.
        """
        folder = Path(folder).expanduser().resolve()
        marker = folder / MARKER
        if not marker.is_file() and (folder / CHECKPOINT_FILE).is_file():
            raise ModelNotFoundError(
                f"{folder} is an unfinished word2vec training run, not a model; finish it with "
                "the same 'akindb train word2vec ... --resume' command (the model appears at "
                f"{folder.name.removesuffix(WORK_SUFFIX)})"
            )
        if not marker.is_file():
            raise ModelNotFoundError(
                f"{folder} is not an akindb word-vector model (no {MARKER}); train one with "
                "'akindb train word2vec CORPUS --out FOLDER'"
            )
        try:
            with open(marker, encoding="utf-8") as fh:
                meta = json.load(fh)
            if not isinstance(meta, dict) or meta.get("format") != FORMAT:
                raise ModelNotFoundError(f"{marker} is not an akindb word-vector marker")
            if int(meta.get("version", 0)) > FORMAT_VERSION:
                raise ModelError(
                    f"{folder} has word-vector format {meta['version']}, newer than this akindb "
                    f"reads ({FORMAT_VERSION}); upgrade akindb"
                )
            vectors = np.load(folder / "vectors.npy", mmap_mode="r" if mmap else None)
            counts = np.load(folder / "counts.npy")
            with open(folder / "vocab.txt", encoding="utf-8", newline="\n") as fh:
                words = fh.read().split("\n")
            sif = np.load(folder / SIF_FILE) if (folder / SIF_FILE).is_file() else None
            tokenizer = WordTokenizer.load(folder)
        except (OSError, ValueError, json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ModelError(f"cannot read the word-vector model in {folder}: {exc}") from exc
        if words and words[-1] == "":
            words.pop()
        if vectors.dtype != np.float32 or vectors.ndim != 2 or vectors.shape[1] != meta.get("dim"):
            raise ModelError(f"{folder}/vectors.npy is not float32 (vocab, dim); damaged model")
        if verify and sha256_file(folder / "vectors.npy") != meta.get("vectors_sha256"):
            raise ModelError(
                f"{folder}/vectors.npy does not match the SHA-256 recorded at training; the file "
                "was changed or damaged: retrain or restore it"
            )
        if sif is not None and sif.shape != (vectors.shape[1],):
            raise ModelError(f"{folder}/{SIF_FILE} has the wrong shape; damaged model")
        return cls(
            words, vectors, counts, meta=meta, tokenizer=tokenizer, sif_component=sif, folder=folder
        )

    def __repr__(self) -> str:
        return f"WordVectors({self.name}, vocab={len(self)}, dim={self.dim})"
