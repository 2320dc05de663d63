"""Relevance judgements without a corpus: ``queries.jsonl`` + ``qrels/<split>.tsv``.

The BEIR layout minus the corpus, for judging a collection that already holds the documents
(``akindb tune-hybrid --qrels DIR``): ``corpus-id`` is a document id of the collection. A BEIR
folder works as it is (its corpus is not read). Every format error names the file and line.
"""

from __future__ import annotations

from pathlib import Path

from akindb.errors import InvalidArgumentError, NotFoundError
from akindb.eval.beir import _read_qrels, _read_queries


def load_judgements(
    path: str | Path, split: str = "dev"
) -> tuple[dict[str, str], dict[str, dict[str, int]]]:
    """``(queries, qrels)`` of one split: the judged queries' texts and ``{query: {doc: gain}}``."""
    root = Path(path)
    qrels_file = root / "qrels" / f"{split}.tsv"
    queries_file = root / "queries.jsonl"
    if not qrels_file.is_file():
        have = sorted(p.stem for p in (root / "qrels").glob("*.tsv")) if root.is_dir() else []
        raise NotFoundError(
            f"no judgements for split {split!r}: {qrels_file} does not exist (splits there: "
            f"{', '.join(have) or 'none'}); a judgements folder holds queries.jsonl and "
            "qrels/<split>.tsv (query-id, corpus-id, score)"
        )
    if not queries_file.is_file():
        raise NotFoundError(f"no queries file: expected {queries_file} (one JSON object a line "
                            'with "_id" and "text")')
    qrels = _read_qrels(qrels_file)
    queries = _read_queries(queries_file)
    missing = [q for q in qrels if q not in queries]
    if missing:
        raise InvalidArgumentError(
            f"{qrels_file} judges {len(missing)} queries missing from {queries_file} (e.g. "
            f"{missing[0]!r}); use the queries file that belongs to these qrels"
        )
    return {q: queries[q] for q in qrels}, qrels
