"""Corpora for word2vec: texts streamed from files, folders or any re-iterable of texts (a
collection's chunks, read by the caller), and token lists.

Nothing is held in memory: a corpus is re-read on each pass, so one bigger than memory trains.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterable, Iterator, Sequence, Sized
from pathlib import Path
from typing import Any

from akindb.errors import InvalidArgumentError
from akindb.models.word2vec.tokenizer import WordTokenizer

TEXT_SUFFIXES = (".txt", ".md", ".rst", ".cor", ".text", ".gz", ".tsv", ".csv")
MAX_TOKENS_PER_TEXT = 10000
"""gensim silently truncates longer sentences; we split them into pieces of this size instead."""


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
    """Re-iterable stream of texts (one per line/paragraph) from files, folders and ``texts``.

    Files are read as UTF-8 (undecodable bytes replaced), ``.gz`` transparently; folders are
    walked recursively for text suffixes in sorted order. ``texts`` is read once per pass, so it
    must start over on each ``iter()`` (a list, or an object such as the CLI's pager over a
    collection's chunks); a one-shot iterator is refused. ``label`` names where the texts came
    from in the model's metadata. Nothing is held in memory.

    >>> list(Corpus(texts=["a b", "  ", "c"]).texts())
    ['a b', 'c']
    """

    def __init__(
        self,
        paths: Sequence[str | Path] = (),
        *,
        texts: Iterable[str] | None = None,
        label: str | None = None,
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
        if isinstance(texts, Iterator):
            raise InvalidArgumentError(
                "corpus texts must be re-iterable (word2vec reads them once per epoch): give a "
                "list or an object whose __iter__ starts over, not a generator or iterator"
            )
        self._texts = texts
        self.label = label
        if not self.files and texts is None:
            raise InvalidArgumentError("the corpus is empty: give files, folders or a collection")

    def describe(self) -> dict[str, Any]:
        d: dict[str, Any] = {"files": [str(f) for f in self.files]}
        if self.label is not None:
            d["collection"] = self.label
        if isinstance(self._texts, Sized):
            d["texts"] = len(self._texts)
        return d

    def texts(self) -> Iterator[str]:
        for f in self.files:
            opener: Any = gzip.open if f.suffix == ".gz" else open
            with opener(f, "rt", encoding="utf-8", errors="replace") as fh:
                for line in fh:
                    if line.strip():
                        yield line
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
