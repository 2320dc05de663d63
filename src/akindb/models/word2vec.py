"""Train word2vec (skip-gram or CBOW, negative sampling) on your own corpus.

gensim is the engine (the well-kept reference implementation, optimised C loops); what the user
gets is ours: a frozen ``WordVectors`` folder with its vocabulary, counts, tokenizer and training
config, never a gensim object. Corpora stream from disk (files, folders, ``.gz``) or from a
collection's chunks, one paragraph/line at a time, so a corpus bigger than memory trains.

Knobs (``Word2VecParams``; each a trade-off, all fixed once the model is trained):

- ``mode``: ``skipgram`` predicts the context from a word: better for rare words and semantic
  analogies, ~3× slower. ``cbow`` predicts a word from its averaged context: faster, a little
  better on frequent words and syntax.
- ``dim`` (100): more dimensions hold more distinctions but need more data; 100-300 is usual.
- ``window`` (5): the *largest* context distance. With ``shrink_windows`` (the dynamic window,
  default on) each word uses a random width 1..window, weighting near words more. Wider windows
  lean topical ("dog" ~ "leash"), narrower ones lean functional ("dog" ~ "cat").
- ``negative`` (5): noise words per positive pair; 5-20 for small corpora, 2-5 for large ones.
  More costs time linearly.
- ``sample`` (1e-3): sub-sampling threshold for frequent words: lower drops more of "the"/"of",
  which speeds training and usually improves rare words.
- ``min_count`` (5): words rarer than this get no vector. Lower keeps more words with noisier
  vectors and a bigger model.
- ``epochs`` (5), ``alpha`` (0.025 → ``min_alpha``): passes over the corpus and the learning-rate
  schedule. Small corpora need more epochs.
- ``workers``: training threads (0 = one per CPU). Results are bit-for-bit reproducible only with
  ``workers=1``.
"""

from __future__ import annotations

import gzip
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from akindb.errors import InvalidArgumentError, MissingExtraError
from akindb.models.word_tokenizer import TokenizerConfig, WordTokenizer
from akindb.models.word_vectors import WordVectors

if TYPE_CHECKING:
    from akindb.collection import Collection

log = logging.getLogger(__name__)

Mode = Literal["skipgram", "cbow"]
TEXT_SUFFIXES = (".txt", ".md", ".rst", ".cor", ".text", ".gz", ".tsv", ".csv")
MAX_TOKENS_PER_TEXT = 10000
"""gensim silently truncates longer sentences; we split them into pieces of this size instead."""
SIF_SAMPLE_TEXTS = 20000


@dataclass(frozen=True, slots=True)
class Word2VecParams:
    """word2vec hyper-parameters (see the module docstring for each trade-off).

    >>> Word2VecParams.from_dict(Word2VecParams(mode="cbow", dim=50).to_dict()).dim
    50
    """

    mode: Mode = "skipgram"
    dim: int = 100
    window: int = 5
    min_count: int = 5
    negative: int = 5
    sample: float = 1e-3
    epochs: int = 5
    alpha: float = 0.025
    min_alpha: float = 0.0001
    shrink_windows: bool = True
    max_vocab: int | None = None
    seed: int = 1
    workers: int = 0

    def __post_init__(self) -> None:
        if self.mode not in ("skipgram", "cbow"):
            raise InvalidArgumentError(f"mode must be skipgram or cbow, got {self.mode!r}")
        for name in ("dim", "window", "min_count", "negative", "epochs"):
            if int(getattr(self, name)) < 1:
                raise InvalidArgumentError(f"{name} must be at least 1, got {getattr(self, name)}")
        if not 0 <= self.sample < 1:
            raise InvalidArgumentError(f"sample must be in [0, 1), got {self.sample}")
        if not 0 < self.alpha <= 1 or not 0 <= self.min_alpha <= self.alpha:
            raise InvalidArgumentError("need 0 <= min_alpha <= alpha <= 1 and alpha > 0")
        if self.workers < 0:
            raise InvalidArgumentError("workers must be >= 0 (0 = one per CPU)")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Word2VecParams:
        names = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in names})

    def gensim_kwargs(self) -> dict[str, Any]:
        """The same settings spelled for ``gensim.models.Word2Vec``."""
        return {
            "vector_size": self.dim,
            "window": self.window,
            "min_count": self.min_count,
            "max_final_vocab": self.max_vocab,
            "sg": 1 if self.mode == "skipgram" else 0,
            "hs": 0,
            "negative": self.negative,
            "sample": self.sample,
            "epochs": self.epochs,
            "alpha": self.alpha,
            "min_alpha": self.min_alpha,
            "shrink_windows": self.shrink_windows,
            "seed": self.seed,
            "workers": self.workers or (os.cpu_count() or 1),
        }


# ---- corpora -----------------------------------------------------------------------------------
def _check_text_file(path: Path) -> None:
    opener: Any = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            head = fh.read(8192)
    except (OSError, EOFError) as exc:
        raise InvalidArgumentError(f"cannot read corpus file {path}: {exc}") from exc
    if b"\x00" in head:
        raise InvalidArgumentError(f"{path} looks binary (NUL bytes), not text; give text files")


class Corpus:
    """Re-iterable stream of texts (one per line/paragraph) from files, folders or a collection.

    Files are read as UTF-8 (undecodable bytes replaced), ``.gz`` transparently; folders are
    walked recursively for text suffixes in sorted order. Nothing is held in memory.
    """

    def __init__(
        self,
        paths: Sequence[str | Path] = (),
        *,
        collection: Collection | None = None,
        texts: Sequence[str] | None = None,
    ) -> None:
        self.files: list[Path] = []
        for p in map(Path, paths):
            p = p.expanduser()
            if p.is_dir():
                found = sorted(
                    f for f in p.rglob("*") if f.is_file() and f.name.endswith(TEXT_SUFFIXES)
                )
                if not found:
                    raise InvalidArgumentError(
                        f"folder {p} holds no text files ({', '.join(TEXT_SUFFIXES)})"
                    )
                self.files.extend(found)
            elif p.is_file():
                self.files.append(p)
            else:
                raise InvalidArgumentError(f"corpus path {p} does not exist")
        for f in self.files:
            _check_text_file(f)
        self.collection = collection
        self._texts = texts
        if not self.files and collection is None and texts is None:
            raise InvalidArgumentError("the corpus is empty: give files, folders or a collection")

    def describe(self) -> dict[str, Any]:
        d: dict[str, Any] = {"files": [str(f) for f in self.files]}
        if self.collection is not None:
            d["collection"] = self.collection.name
        if self._texts is not None:
            d["texts"] = len(self._texts)
        return d

    def texts(self) -> Iterator[str]:
        for f in self.files:
            opener: Any = gzip.open if f.suffix == ".gz" else open
            with opener(f, "rt", encoding="utf-8", errors="replace") as fh:
                for line in fh:
                    if line.strip():
                        yield line
        if self.collection is not None:
            offset, page = 0, 256
            while True:
                records = self.collection.get(limit=page, offset=offset)
                if not records:
                    break
                for r in records:
                    for c in r.chunks:
                        yield c.text
                offset += page
        if self._texts is not None:
            yield from (t for t in self._texts if t.strip())


class TokenStream:
    """``Corpus`` → token lists, re-iterable (gensim iterates once per epoch plus once for the
    vocabulary). Calls ``on_text`` every 1000 texts with the running count (for a progress bar)."""

    def __init__(
        self,
        corpus: Corpus,
        tokenizer: WordTokenizer,
        on_text: Callable[[int], None] | None = None,
    ) -> None:
        self.corpus, self.tokenizer, self.on_text = corpus, tokenizer, on_text

    def __iter__(self) -> Iterator[list[str]]:
        n = 0
        for text in self.corpus.texts():
            toks = self.tokenizer.tokens(text)
            for lo in range(0, len(toks), MAX_TOKENS_PER_TEXT):
                yield toks[lo : lo + MAX_TOKENS_PER_TEXT]
            n += 1
            if self.on_text is not None and n % 1000 == 0:
                self.on_text(n)
        if self.on_text is not None:
            self.on_text(n)


# ---- training ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class EpochReport:
    epoch: int
    loss: float
    seconds: float
    tokens_per_second: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class TrainReport:
    texts: int = 0
    tokens: int = 0
    vocab_size: int = 0
    epochs: list[EpochReport] = field(default_factory=list)
    vocab_seconds: float = 0.0
    train_seconds: float = 0.0
    engine: str = ""

    @property
    def tokens_per_second(self) -> float:
        return self.tokens * len(self.epochs) / self.train_seconds if self.train_seconds else 0.0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["epochs"] = [e.to_dict() for e in self.epochs]
        d["tokens_per_second"] = round(self.tokens_per_second, 1)
        return d


def _gensim() -> Any:
    try:
        import gensim.models  # type: ignore[import-untyped]
    except ImportError as exc:
        raise MissingExtraError("train", "word2vec training") from exc
    return gensim


def build_gensim_model(params: Word2VecParams, stream: Iterable[list[str]]) -> Any:
    """A gensim ``Word2Vec`` with ``params`` and its vocabulary built from ``stream``."""
    gensim = _gensim()
    model = gensim.models.Word2Vec(**params.gensim_kwargs())
    model.build_vocab(corpus_iterable=stream)
    return model


def train_word2vec(
    corpus: Corpus,
    out: str | Path,
    params: Word2VecParams | None = None,
    *,
    tokenizer: TokenizerConfig | None = None,
    on_epoch: Callable[[EpochReport], None] | None = None,
    on_text: Callable[[str, int, int], None] | None = None,
    overwrite: bool = False,
) -> tuple[WordVectors, TrainReport]:
    """Train on ``corpus`` and write a ``WordVectors`` folder to ``out`` (atomically, at the end).

    ``on_epoch`` gets each epoch's loss and tokens/s; ``on_text(phase, done, total)`` reports texts
    read (phase "vocab" then "epoch N"; total is 0 until the vocabulary pass has counted them).
    Interrupting (Ctrl-C) leaves nothing at ``out``. Raises ``InvalidArgumentError`` for an empty
    corpus or a vocabulary too small for the negatives.
    """
    params = params or Word2VecParams()
    gensim = _gensim()
    outp = Path(out).expanduser().resolve()
    if outp.exists() and not overwrite:
        raise InvalidArgumentError(f"{outp} exists; pass overwrite (--force) or choose another")
    report = TrainReport(engine=f"gensim {gensim.__version__}")
    tok = WordTokenizer.train(tokenizer or TokenizerConfig(), corpus.texts())
    state: dict[str, Any] = {"phase": "vocab", "total": 0}

    def tick(n: int) -> None:
        if on_text is not None:
            on_text(str(state["phase"]), n, int(state["total"]))

    stream = TokenStream(corpus, tok, tick)
    t0 = time.perf_counter()
    model = gensim.models.Word2Vec(**params.gensim_kwargs())
    try:
        model.build_vocab(corpus_iterable=stream)
    except RuntimeError as exc:  # gensim: "you must first build vocabulary before training"
        raise InvalidArgumentError(f"cannot build a vocabulary: {exc}") from exc
    report.vocab_seconds = time.perf_counter() - t0
    report.texts, report.tokens = int(model.corpus_count), int(model.corpus_total_words)
    report.vocab_size = len(model.wv)
    if report.tokens == 0:
        raise InvalidArgumentError(
            f"the corpus has no words ({report.texts} texts); give a non-empty text corpus"
        )
    if report.vocab_size < max(params.negative + 2, 10):
        raise InvalidArgumentError(
            f"only {report.vocab_size} words occur at least {params.min_count} times; that is too "
            f"few for {params.negative} negative samples: give a bigger corpus or a lower "
            "--min-count"
        )
    state["total"] = report.texts

    callback = _EpochCallback(report, on_epoch, state)
    t1 = time.perf_counter()
    model.train(
        corpus_iterable=stream,
        total_examples=model.corpus_count,
        total_words=model.corpus_total_words,
        epochs=params.epochs,
        compute_loss=True,
        callbacks=[callback],
    )
    report.train_seconds = time.perf_counter() - t1

    words = list(model.wv.index_to_key)
    counts = np.array([model.wv.get_vecattr(w, "count") for w in words], dtype=np.int64)
    vectors = np.ascontiguousarray(model.wv.vectors, dtype=np.float32)
    meta = {
        "training": {
            "params": params.to_dict(),
            "corpus": corpus.describe(),
            "report": report.to_dict(),
        }
    }
    wv = WordVectors(words, vectors, counts, meta=meta, tokenizer=tok)
    from akindb.models.sif import fit_common_component

    wv.sif_component = fit_common_component(wv, _head(corpus.texts(), SIF_SAMPLE_TEXTS))
    wv.save(outp, overwrite=overwrite)
    return wv, report


def _head(it: Iterator[str], n: int) -> list[str]:
    out: list[str] = []
    for t in it:
        out.append(t)
        if len(out) >= n:
            break
    return out


class _EpochCallback:
    """gensim callback (duck-typed ``CallbackAny2Vec``): per-epoch loss and tokens/s.

    gensim's loss is a running sum since ``train()`` began; the epoch's loss is the difference.
    """

    def __init__(
        self,
        report: TrainReport,
        on_epoch: Callable[[EpochReport], None] | None,
        state: dict[str, Any],
    ) -> None:
        self.report, self.on_epoch, self.state = report, on_epoch, state
        self.epoch, self.start, self.loss_before = 0, 0.0, 0.0

    def on_train_begin(self, model: Any) -> None:
        pass

    def on_train_end(self, model: Any) -> None:
        pass

    def on_epoch_begin(self, model: Any) -> None:
        self.epoch += 1
        self.state["phase"] = f"epoch {self.epoch}"
        self.start = time.perf_counter()

    def on_epoch_end(self, model: Any) -> None:
        secs = time.perf_counter() - self.start
        total = float(model.get_latest_training_loss())
        rep = EpochReport(
            epoch=self.epoch,
            loss=total - self.loss_before,
            seconds=secs,
            tokens_per_second=self.report.tokens / secs if secs > 0 else 0.0,
        )
        self.loss_before = total
        self.report.epochs.append(rep)
        log.info("epoch %d: loss %.1f, %.0f tokens/s", rep.epoch, rep.loss, rep.tokens_per_second)
        if self.on_epoch is not None:
            self.on_epoch(rep)
