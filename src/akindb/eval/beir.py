"""Load a retrieval test collection in BEIR format.

A BEIR folder holds::

    corpus.jsonl[.gz]     one {"_id", "title", "text", ...} per line (extra keys ignored)
    queries.jsonl         one {"_id", "text", ...} per line, the queries of every split
    qrels/<split>.tsv     header "query-id<TAB>corpus-id<TAB>score", then one judgement a line

``load_beir`` reads one split and keeps only the queries judged in it, as BEIR's own
``GenericDataLoader`` does. Problems are reported with the file and line to fix:
:class:`~akindb.errors.NotFoundError` for a missing folder, file or split (naming the splits
there are), :class:`~akindb.errors.InvalidArgumentError` for malformed content.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from akindb.errors import InvalidArgumentError, NotFoundError

__all__ = ["BeirDataset", "BeirDoc", "load_beir"]


@dataclass(frozen=True, slots=True)
class BeirDoc:
    """One corpus document.

    >>> BeirDoc("d1", "Vitamin D", "and bones.").full_text
    'Vitamin D and bones.'
    >>> BeirDoc("d2", "", " no title ").full_text
    'no title'
    """

    id: str
    title: str
    text: str

    @property
    def full_text(self) -> str:
        """``title + " " + text``, stripped: what MTEB/BEIR embed for a document."""
        return f"{self.title} {self.text}".strip()


@dataclass(frozen=True, slots=True)
class BeirDataset:
    """One split of a BEIR collection.

    ``queries`` holds only the queries that have judgements in ``qrels``; ``qrels`` maps a
    query id to ``{doc id: graded relevance}`` (a score ``<= 0`` means judged non-relevant).
    """

    name: str
    split: str
    corpus: dict[str, BeirDoc] = field(repr=False)
    queries: dict[str, str] = field(repr=False)
    qrels: dict[str, dict[str, int]] = field(repr=False)

    def __repr__(self) -> str:
        judgements = sum(len(docs) for docs in self.qrels.values())
        return (
            f"BeirDataset(name={self.name!r}, split={self.split!r}, docs={len(self.corpus)}, "
            f"queries={len(self.queries)}, qrels={judgements})"
        )


def load_beir(path: str | Path, split: str = "test") -> BeirDataset:
    """Read the BEIR folder at ``path`` for one ``split`` (``test``, ``dev``, ``train``, ...).

    The corpus is ``corpus.jsonl`` if present, else ``corpus.jsonl.gz``. Blank lines are
    skipped. A duplicate document, query or (query, document) judgement is an error, since
    which copy wins would be a guess.
    """
    root = Path(path)
    if not root.is_dir():
        raise NotFoundError(
            f"no BEIR folder at {root}: expected a directory holding corpus.jsonl[.gz], "
            "queries.jsonl and qrels/<split>.tsv"
        )
    qrels_file = root / "qrels" / f"{split}.tsv"
    if not qrels_file.is_file():
        available = sorted(p.stem for p in (root / "qrels").glob("*.tsv"))
        listed = ", ".join(repr(s) for s in available) if available else "none"
        raise NotFoundError(
            f"no split {split!r} in {root}: {qrels_file} does not exist; available splits: {listed}"
        )
    corpus_file = _find_corpus(root)
    queries_file = root / "queries.jsonl"
    if not queries_file.is_file():
        raise NotFoundError(f"no queries file in {root}: expected {queries_file}")

    qrels = _read_qrels(qrels_file)
    corpus = _read_corpus(corpus_file)
    all_queries = _read_queries(queries_file)

    missing = [qid for qid in qrels if qid not in all_queries]
    if missing:
        shown = ", ".join(repr(q) for q in missing[:5])
        raise InvalidArgumentError(
            f"{qrels_file} judges {len(missing)} queries that {queries_file} does not contain "
            f"(e.g. {shown}); use the queries file that belongs to these qrels"
        )
    queries = {qid: all_queries[qid] for qid in qrels}
    return BeirDataset(
        name=root.resolve().name, split=split, corpus=corpus, queries=queries, qrels=qrels
    )


def _find_corpus(root: Path) -> Path:
    for name in ("corpus.jsonl", "corpus.jsonl.gz"):
        candidate = root / name
        if candidate.is_file():
            return candidate
    raise NotFoundError(f"no corpus in {root}: expected corpus.jsonl or corpus.jsonl.gz")


def _lines(file: Path) -> Iterator[tuple[int, str]]:
    """Yield ``(line number, line without its end)`` of a UTF-8 text file, gzip or plain.

    Lines are decoded one at a time so that an encoding error names its true line.
    """
    try:
        with gzip.open(file, "rb") if file.suffix == ".gz" else file.open("rb") as handle:
            for lineno, raw in enumerate(handle, start=1):
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise InvalidArgumentError(
                        f"{file}:{lineno}: not valid UTF-8 ({exc.reason} at byte {exc.start}); "
                        "re-encode the file as UTF-8"
                    ) from None
                if lineno == 1:
                    line = line.removeprefix("\ufeff")
                yield lineno, line.rstrip("\r\n")
    except (OSError, EOFError) as exc:  # gzip.BadGzipFile is an OSError
        raise InvalidArgumentError(
            f"{file}: cannot be read ({exc}); check that the file is complete and, "
            "for .gz, really gzip-compressed"
        ) from None


def _json_records(file: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    for lineno, line in _lines(file):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidArgumentError(
                f"{file}:{lineno}: not valid JSON ({exc.msg} at column {exc.colno}); "
                "each line must hold one JSON object"
            ) from None
        if not isinstance(record, dict):
            raise InvalidArgumentError(
                f"{file}:{lineno}: expected a JSON object, got {type(record).__name__}"
            )
        if "_id" not in record:
            raise InvalidArgumentError(f'{file}:{lineno}: the object has no "_id" key')
        yield lineno, record


def _string_field(record: dict[str, Any], key: str, file: Path, lineno: int) -> str:
    value = record.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidArgumentError(
            f'{file}:{lineno}: "{key}" must be a string, got {type(value).__name__}'
        )
    return value


def _record_id(record: dict[str, Any], file: Path, lineno: int) -> str:
    value = record["_id"]
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidArgumentError(
            f'{file}:{lineno}: "_id" must be a string, got {type(value).__name__}'
        )
    return str(value)


def _read_corpus(file: Path) -> dict[str, BeirDoc]:
    corpus: dict[str, BeirDoc] = {}
    for lineno, record in _json_records(file):
        doc_id = _record_id(record, file, lineno)
        if doc_id in corpus:
            raise InvalidArgumentError(f"{file}:{lineno}: duplicate document id {doc_id!r}")
        title = _string_field(record, "title", file, lineno)
        text = _string_field(record, "text", file, lineno)
        corpus[doc_id] = BeirDoc(id=doc_id, title=title, text=text)
    return corpus


def _read_queries(file: Path) -> dict[str, str]:
    queries: dict[str, str] = {}
    for lineno, record in _json_records(file):
        query_id = _record_id(record, file, lineno)
        if query_id in queries:
            raise InvalidArgumentError(f"{file}:{lineno}: duplicate query id {query_id!r}")
        queries[query_id] = _string_field(record, "text", file, lineno)
    return queries


def _read_qrels(file: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    first = True
    for lineno, line in _lines(file):
        if not line.strip():
            continue
        fields = line.split("\t")
        if first:
            first = False
            if fields[0].strip() == "query-id":
                continue  # the BEIR header
        if len(fields) != 3:
            raise InvalidArgumentError(
                f"{file}:{lineno}: expected 3 tab-separated fields "
                f"(query-id, corpus-id, score), got {len(fields)}"
            )
        query_id, doc_id, raw_score = (f.strip() for f in fields)
        try:
            score = int(raw_score)
        except ValueError:
            raise InvalidArgumentError(
                f"{file}:{lineno}: the score {raw_score!r} is not an integer"
            ) from None
        judged = qrels.setdefault(query_id, {})
        if doc_id in judged:
            raise InvalidArgumentError(
                f"{file}:{lineno}: query {query_id!r} judges document {doc_id!r} twice"
            )
        judged[doc_id] = score
    return qrels
