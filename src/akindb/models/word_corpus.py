"""Corpora for word2vec: texts streamed from files, folders or a collection, and token lists.

Nothing is held in memory: a corpus is re-read on each pass, so one bigger than memory trains.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from akindb.errors import InvalidArgumentError
from akindb.models.word_tokenizer import WordTokenizer

if TYPE_CHECKING:
    from akindb.collection import Collection

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
