"""Semantic textual similarity: Spearman of cosine(emb1, emb2) against gold scores.

Reads the STS Benchmark files (``sts-train.csv``, ``sts-dev.csv``: tab-separated
``genre filename year id score sentence1 sentence2 [source source]``; fields 4, 5, 6 are used,
split on tabs with no quote handling, because sentences contain quotes) and SICK-style TSV with a
header naming ``sentence_A``, ``sentence_B`` and ``relatedness_score``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from akindb.errors import InvalidArgumentError
from akindb.eval.words import pearson, spearman
from akindb.models.base import Embedder

StsPair = tuple[str, str, float]


def read_sts(path: str | Path) -> list[StsPair]:
    """(sentence1, sentence2, score) rows of an STS-B or SICK file."""
    path = Path(path)
    with open(path, encoding="utf-8") as fh:
        lines = fh.read().split("\n")
    rows: list[StsPair] = []
    first = lines[0].split("\t") if lines else []
    if "sentence_A" in first and "relatedness_score" in first:
        ia, ib, isc = (first.index(c) for c in ("sentence_A", "sentence_B", "relatedness_score"))
        body, start = lines[1:], 2
    else:
        ia, ib, isc = 5, 6, 4
        body, start = lines, 1
    for lineno, line in enumerate(body, start):
        if not line.strip():
            continue
        f = line.split("\t")
        try:
            rows.append((f[ia], f[ib], float(f[isc])))
        except (IndexError, ValueError) as exc:
            raise InvalidArgumentError(
                f"{path}:{lineno}: want tab-separated fields with the score in field {isc} and "
                f"sentences in fields {ia} and {ib}"
            ) from exc
    if not rows:
        raise InvalidArgumentError(f"{path} holds no sentence pairs")
    return rows


@dataclass(frozen=True, slots=True)
class StsResult:
    model: str
    spearman: float
    pearson: float
    pairs: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "spearman": round(self.spearman, 5),
            "pearson": round(self.pearson, 5),
            "pairs": self.pairs,
        }


def evaluate_sts(
    embedder: Embedder,
    pairs: str | Path | list[StsPair],
    *,
    limit: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> StsResult:
    """Spearman (and Pearson) of the cosine of each pair's vectors with the gold score."""
    rows = read_sts(pairs) if isinstance(pairs, str | Path) else pairs
    if limit is not None:
        rows = rows[:limit]
    texts = [r[0] for r in rows] + [r[1] for r in rows]
    vecs = embedder.embed(texts, progress=progress)
    a, b = vecs[: len(rows)], vecs[len(rows) :]
    na = np.linalg.norm(a, axis=1)
    nb = np.linalg.norm(b, axis=1)
    cos = (a * b).sum(axis=1) / np.maximum(na * nb, 1e-12)
    gold = [r[2] for r in rows]
    return StsResult(embedder.spec.name, spearman(cos, gold), pearson(cos, gold), len(rows))
