"""The work folder of a word2vec run: the corpus tokenized once, and a checkpoint per epoch.

``<out>.unfinished/`` sits beside the model folder ``<out>`` while training runs:

| file              | what                                                                   |
|-------------------|------------------------------------------------------------------------|
| ``tokens.txt``    | the corpus after our tokenizer: one text per line, tokens separated by |
|                   | single spaces, UTF-8 (gensim's ``corpus_file`` format)                 |
| ``checkpoint.pkl``| gensim's model after the last finished epoch (one pickle, arrays       |
|                   | inside), with our run state in ``akindb_state``; replaced atomically   |
| tokenizer files   | the (possibly trained) tokenizer, so a resumed run splits text alike   |

Why a token file: the corpus is read and tokenized once (the vocabulary pass writes it), and
every epoch then runs on gensim's multi-threaded file reader in C++, with no Python thread
feeding it; the corpus still streams (the file is on disk, never in memory). It costs disk about
the size of the uncompressed corpus until the run ends, when the whole folder is deleted.

The folder never holds ``akindb-word-vectors.json``, so nothing in it loads as a finished model;
``WordVectors.load`` names it as an unfinished run. A checkpoint costs two float32 matrices
(vocabulary × dim) of disk and a write per epoch.
"""

from __future__ import annotations

import logging
import os
import pickle
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from akindb.atomic import atomic_writer
from akindb.errors import InvalidArgumentError, ModelError

log = logging.getLogger(__name__)

WORK_SUFFIX = ".unfinished"
TOKENS_FILE = "tokens.txt"
CHECKPOINT_FILE = "checkpoint.pkl"
STATE_ATTR = "akindb_state"
STATE_VERSION = 1


def work_dir(out: Path) -> Path:
    """The work folder beside the model folder ``out``.

    >>> work_dir(Path("/m/wiki")).name
    'wiki.unfinished'
    """
    return out.with_name(out.name + WORK_SUFFIX)


def has_checkpoint(work: Path) -> bool:
    return (work / CHECKPOINT_FILE).is_file()


def remove(work: Path) -> None:
    shutil.rmtree(work, ignore_errors=True)


class TokenFileWriter:
    """Wraps a token-list stream: yields each list and writes it as one line of ``path``.

    Iterable once only (gensim's vocabulary pass); ``finish()`` renames the temp file into place,
    so a present ``tokens.txt`` is always complete.
    """

    def __init__(self, stream: Any, path: Path) -> None:
        self.stream, self.path = stream, path
        self.tmp = path.with_name(path.name + ".tmp")
        self._used = False

    def __iter__(self) -> Iterator[list[str]]:
        if self._used:
            raise RuntimeError("TokenFileWriter is iterable once")
        self._used = True
        with open(self.tmp, "w", encoding="utf-8", newline="\n") as fh:
            for toks in self.stream:
                _write_line(fh, toks)
                yield toks

    def finish(self) -> Path:
        os.replace(self.tmp, self.path)
        return self.path


def _write_line(fh: IO[str], toks: list[str]) -> None:
    # Tokens of our tokenizers hold no whitespace (``\w+`` words; HF pieces after a whitespace
    # pre-tokenizer); gensim's reader splits lines on whitespace, so a token must not hold any.
    fh.write(" ".join(toks))
    fh.write("\n")


def save_checkpoint(model: Any, work: Path, state: dict[str, Any]) -> None:
    """Pickle ``model`` (gensim ``Word2Vec``) with ``state`` to ``checkpoint.pkl`` atomically."""
    setattr(model, STATE_ATTR, {"version": STATE_VERSION, **state})
    with atomic_writer(work / CHECKPOINT_FILE) as fh:
        # sep_limit huge: arrays stay inside the one pickle, so one rename swaps everything.
        model.save(fh, sep_limit=1 << 62, pickle_protocol=pickle.HIGHEST_PROTOCOL)


def load_checkpoint(work: Path) -> tuple[Any, dict[str, Any]]:
    """The gensim model and the run state of ``work``'s checkpoint."""
    from gensim.models import Word2Vec  # type: ignore[import-untyped]

    path = work / CHECKPOINT_FILE
    try:
        model = Word2Vec.load(str(path))
    except Exception as exc:  # pickle/numpy errors of a damaged file
        raise ModelError(
            f"cannot read the checkpoint {path} ({exc}); delete {work} or pass --force to start "
            "over"
        ) from exc
    state = getattr(model, STATE_ATTR, None)
    if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
        raise ModelError(f"{path} is not an akindb word2vec checkpoint; delete {work}")
    if not (work / TOKENS_FILE).is_file():
        raise ModelError(
            f"{work} lacks {TOKENS_FILE}, the tokenized corpus the checkpoint trains on; delete "
            f"{work} or pass --force to start over"
        )
    return model, state


def check_same_run(state: dict[str, Any], now: dict[str, Any]) -> None:
    """Raise ``InvalidArgumentError`` naming what differs between a checkpoint and this run.

    >>> check_same_run({"params": {"dim": 100}}, {"params": {"dim": 100}})
    >>> try:
    ...     check_same_run({"params": {"dim": 100}}, {"params": {"dim": 50}})
    ... except InvalidArgumentError as exc:
    ...     print(str(exc).split(";")[0])
    the checkpoint was made with params.dim=100, this run asks for params.dim=50
    """
    was: list[str] = []
    asks: list[str] = []
    for key, old in state.items():
        if key not in now:
            continue
        new = now[key]
        if isinstance(old, dict) and isinstance(new, dict):
            for k in sorted(set(old) | set(new)):
                if old.get(k) != new.get(k):
                    was.append(f"{key}.{k}={old.get(k)!r}")
                    asks.append(f"{key}.{k}={new.get(k)!r}")
        elif old != new:
            was.append(f"{key}={old!r}")
            asks.append(f"{key}={new!r}")
    if was:
        raise InvalidArgumentError(
            f"the checkpoint was made with {', '.join(was)}, this run asks for {', '.join(asks)}; "
            "give the same settings to --resume, or --force to start over"
        )


def corpus_fingerprint(files: list[Path]) -> list[list[Any]]:
    """(path, size, mtime_ns) of each corpus file: a changed corpus cannot resume a run."""
    out: list[list[Any]] = []
    for f in files:
        st = f.stat()
        out.append([str(f.resolve()), st.st_size, st.st_mtime_ns])
    return out
