"""Train word2vec (skip-gram or CBOW, negative sampling) on your own corpus.

gensim is the engine (the well-kept reference implementation, optimised C loops); what the user
gets is ours: a frozen ``WordVectors`` folder with its vocabulary, counts, tokenizer and training
config, never a gensim object. Corpora stream from disk (files, folders, ``.gz``) or from a
collection's chunks, one paragraph/line at a time (``corpus``), so a corpus bigger than
memory trains. The corpus is read and tokenized once, into a token file beside the output that
gensim's multi-threaded file mode reads in every epoch; a checkpoint after each epoch lets an
interrupted run resume (``work``).

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

import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from akindb.errors import InvalidArgumentError, MissingExtraError
from akindb.models.word2vec import work
from akindb.models.word2vec.corpus import Corpus, TokenStream
from akindb.models.word2vec.tokenizer import TokenizerConfig, WordTokenizer
from akindb.models.word2vec.vectors import WordVectors

__all__ = [
    "Corpus",
    "EpochReport",
    "TokenStream",
    "TrainReport",
    "Word2VecParams",
    "build_gensim_model",
    "train_word2vec",
]

log = logging.getLogger(__name__)

Mode = Literal["skipgram", "cbow"]
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
    checkpoint_seconds: float = 0.0
    resumed_from_epoch: int = 0
    engine: str = ""

    @property
    def tokens_per_second(self) -> float:
        return self.tokens * len(self.epochs) / self.train_seconds if self.train_seconds else 0.0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["epochs"] = [e.to_dict() for e in self.epochs]
        d["tokens_per_second"] = round(self.tokens_per_second, 1)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainReport:
        names = set(cls.__dataclass_fields__) - {"epochs"}
        rep = cls(**{k: v for k, v in data.items() if k in names})
        rep.epochs = [EpochReport(**e) for e in data.get("epochs", [])]
        return rep


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
    resume: bool = False,
) -> tuple[WordVectors, TrainReport]:
    """Train on ``corpus`` and write a ``WordVectors`` folder to ``out`` (atomically, at the end).

    The corpus is read and tokenized once, into ``<out>.unfinished/tokens.txt``; the epochs run on
    that file (gensim's multi-threaded file mode), and after each epoch a checkpoint is written
    there atomically (``work``). ``resume=True`` continues from that checkpoint (same
    corpus, tokenizer and params, else ``InvalidArgumentError`` naming the difference; without a
    checkpoint it starts from scratch). An interrupted run leaves nothing at ``out``, only the
    work folder, which never loads as a model; a finished run deletes it.

    ``on_epoch`` gets each epoch's loss and tokens/s; ``on_text(phase, done, total)`` reports texts
    read in phase "vocab", then once per epoch with phase "epoch N" and done 0. Raises
    ``InvalidArgumentError`` for an empty corpus or a vocabulary too small for the negatives.
    """
    params = params or Word2VecParams()
    gensim = _gensim()
    outp = Path(out).expanduser().resolve()
    if outp.exists() and not overwrite:
        raise InvalidArgumentError(f"{outp} exists; pass overwrite (--force) or choose another")
    tok_config = tokenizer or TokenizerConfig()
    identity = {
        "params": params.to_dict(),
        "tokenizer": tok_config.to_dict(),
        "corpus": {**corpus.describe(), "fingerprint": work.corpus_fingerprint(corpus.files)},
    }
    wdir = work.work_dir(outp)
    model: Any = None
    state: dict[str, Any] = {}
    if work.has_checkpoint(wdir) and resume:
        model, state = work.load_checkpoint(wdir)
        work.check_same_run({k: state[k] for k in identity}, identity)
        tok = WordTokenizer.load(wdir)
    elif work.has_checkpoint(wdir) and not overwrite:
        raise InvalidArgumentError(
            f"{wdir} holds an unfinished run of this model: pass resume (--resume) to continue "
            "it, or overwrite (--force) to start over"
        )
    if model is None:
        work.remove(wdir)  # leftovers of a run killed before its first checkpoint, or --force
        wdir.mkdir(parents=True)
    try:
        if model is None:
            tok = WordTokenizer.train(tok_config, corpus.texts())
            tok.save(wdir)
            model, report = _vocabulary(gensim, corpus, tok, params, wdir, on_text)
            state = {**identity, "epochs_done": 0, "report": report.to_dict()}
            resumed_from = 0
        else:
            report = TrainReport.from_dict(state["report"])
            resumed_from = int(state["epochs_done"])
            log.info("resuming %s after epoch %d of %d", outp, resumed_from, params.epochs)
        report.resumed_from_epoch = resumed_from
        _train_epochs(model, params, wdir, state, report, on_epoch, on_text)
        wv = _artifact(model, params, corpus, tok, report)
        wv.save(outp, overwrite=overwrite)
    except BaseException:
        if not work.has_checkpoint(wdir):
            work.remove(wdir)  # nothing worth resuming
        raise
    work.remove(wdir)
    return wv, report


def _vocabulary(
    gensim: Any,
    corpus: Corpus,
    tok: WordTokenizer,
    params: Word2VecParams,
    wdir: Path,
    on_text: Callable[[str, int, int], None] | None,
) -> tuple[Any, TrainReport]:
    """The vocabulary pass: counts words and writes the token file, in one read of the corpus."""
    report = TrainReport(engine=f"gensim {gensim.__version__}")

    def tick(n: int) -> None:
        if on_text is not None:
            on_text("vocab", n, 0)

    writer = work.TokenFileWriter(TokenStream(corpus, tok, tick), wdir / work.TOKENS_FILE)
    t0 = time.perf_counter()
    model = gensim.models.Word2Vec(**params.gensim_kwargs())
    try:
        model.build_vocab(corpus_iterable=writer)
    except RuntimeError as exc:  # gensim: "you must first build vocabulary before training"
        raise InvalidArgumentError(f"cannot build a vocabulary: {exc}") from exc
    writer.finish()
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
    return model, report


def _train_epochs(
    model: Any,
    params: Word2VecParams,
    wdir: Path,
    state: dict[str, Any],
    report: TrainReport,
    on_epoch: Callable[[EpochReport], None] | None,
    on_text: Callable[[str, int, int], None] | None,
) -> None:
    """Run the epochs not done yet on the token file, checkpointing after each."""
    done = int(state["epochs_done"])
    if done >= params.epochs:
        return
    # gensim decays alpha linearly over the epochs of one train() call; starting a resumed call
    # where the schedule had got to keeps the same line: a0 - (a0 - a1) * epoch / epochs.
    start_alpha = params.alpha - (params.alpha - params.min_alpha) * done / params.epochs

    def checkpoint(rep: EpochReport) -> None:
        t0 = time.perf_counter()
        state["epochs_done"] = rep.epoch
        state["report"] = report.to_dict()
        work.save_checkpoint(model, wdir, state)
        report.checkpoint_seconds += time.perf_counter() - t0
        if on_epoch is not None:
            on_epoch(rep)

    callback = _EpochCallback(report, checkpoint, on_text, first_epoch=done + 1)
    model.train(
        corpus_file=str(wdir / work.TOKENS_FILE),
        total_examples=model.corpus_count,
        total_words=model.corpus_total_words,
        epochs=params.epochs - done,
        start_alpha=start_alpha,
        end_alpha=params.min_alpha,
        compute_loss=True,
        callbacks=[callback],
    )


def _artifact(
    model: Any, params: Word2VecParams, corpus: Corpus, tok: WordTokenizer, report: TrainReport
) -> WordVectors:
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
    from akindb.models.word2vec.sif import fit_common_component

    wv.sif_component = fit_common_component(wv, _head(corpus.texts(), SIF_SAMPLE_TEXTS))
    return wv


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
    In file mode each worker thread starts from the running sum and writes back its own total,
    so the last thread to finish wins: the epoch loss is that thread's share × ``workers``, an
    estimate (gensim's float32 sum is itself approximate on big corpora).
    """

    def __init__(
        self,
        report: TrainReport,
        on_epoch: Callable[[EpochReport], None],
        on_text: Callable[[str, int, int], None] | None,
        first_epoch: int,
    ) -> None:
        self.report, self.on_epoch, self.on_text = report, on_epoch, on_text
        self.epoch, self.start, self.loss_before = first_epoch - 1, 0.0, 0.0

    def on_train_begin(self, model: Any) -> None:
        pass

    def on_train_end(self, model: Any) -> None:
        pass

    def on_epoch_begin(self, model: Any) -> None:
        self.epoch += 1
        self.start = time.perf_counter()
        if self.on_text is not None:
            self.on_text(f"epoch {self.epoch}", 0, 0)

    def on_epoch_end(self, model: Any) -> None:
        secs = time.perf_counter() - self.start
        total = float(model.get_latest_training_loss())
        rep = EpochReport(
            epoch=self.epoch,
            loss=(total - self.loss_before) * max(1, int(model.workers)),
            seconds=secs,
            tokens_per_second=self.report.tokens / secs if secs > 0 else 0.0,
        )
        self.loss_before = total
        self.report.epochs.append(rep)
        self.report.train_seconds += secs
        log.info("epoch %d: loss %.1f, %.0f tokens/s", rep.epoch, rep.loss, rep.tokens_per_second)
        self.on_epoch(rep)
