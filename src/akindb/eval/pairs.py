"""Training pairs for fine-tuning a sentence model (``akindb train sentence``): from a JSONL
file of ``{"query", "passage"}`` lines or from a BEIR folder's relevance judgements.

BEIR pairs are built here, above the models layer, and handed to ``models.finetune.finetune``
as plain ``(query, passage)`` tuples, so ``models/`` never imports ``eval/``.
"""

from __future__ import annotations

from pathlib import Path

from akindb.errors import InvalidArgumentError
from akindb.eval.beir import load_beir
from akindb.models.finetune import Pair, read_pairs_jsonl


def beir_pairs(folder: str | Path, split: str) -> list[Pair]:
    """(query text, document title + text) for every relevant qrel of ``split``."""
    data = load_beir(folder, split)
    out: list[Pair] = []
    for qid, rels in data.qrels.items():
        for did, gain in sorted(rels.items()):
            if gain > 0 and qid in data.queries and did in data.corpus:
                text = data.corpus[did].full_text
                if text.strip():
                    out.append((data.queries[qid], text))
    return out


def load_pairs(
    *,
    pairs: str | Path | None = None,
    beir: str | Path | None = None,
    split: str = "train",
    dev_split: str | None = "dev",
) -> tuple[list[Pair], list[Pair] | None]:
    """Training pairs and optional dev pairs from a JSONL file or a BEIR folder."""
    if (pairs is None) == (beir is None):
        raise InvalidArgumentError(
            "give exactly one of a pairs file (--pairs) or a BEIR folder (--beir)"
        )
    if pairs is not None:
        return read_pairs_jsonl(pairs), None
    assert beir is not None
    train = beir_pairs(beir, split)
    dev = None
    if dev_split and (Path(beir) / "qrels" / f"{dev_split}.tsv").is_file():
        dev = beir_pairs(beir, dev_split)
    return train, dev


