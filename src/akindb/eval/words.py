"""Word-vector evaluation: Google analogies (3CosAdd) and word-similarity sets (Spearman).

Conventions follow the published tools so numbers are comparable and always say their setting:

- Analogies ``a b c d`` ("a is to b as c is to d"): correct when the nearest word to
  ``unit(b) - unit(a) + unit(c)`` (a, b, c excluded) is ``d``, searching only the
  ``restrict_vocab`` most frequent words (word2vec's ``compute-accuracy``: 30,000; gensim:
  300,000). Questions with a word outside that vocabulary are skipped and counted as not covered.
  Sections whose name starts with ``gram`` are syntactic, the others semantic.
- Similarity sets (``w1 <TAB> w2 <TAB> score``, ``#`` lines ignored): Spearman correlation of the
  cosine with the human score over the pairs whose two words are known, with the coverage.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from akindb.errors import InvalidArgumentError
from akindb.models.word2vec.vectors import WordVectors

WORD2VEC_RESTRICT = 30000
Quad = tuple[str, str, str, str]


def rankdata(x: Sequence[float] | npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    """Ranks from 1, ties get their average rank (as ``scipy.stats.rankdata``).

    >>> rankdata([10, 20, 20, 5]).tolist()
    [2.0, 3.5, 3.5, 1.0]
    """
    a = np.asarray(x, dtype=np.float64)
    order = np.argsort(a, kind="mergesort")
    ranks = np.empty(len(a), dtype=np.float64)
    sa = a[order]
    i = 0
    while i < len(a):
        j = i
        while j + 1 < len(a) and sa[j + 1] == sa[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return ranks


def pearson(x: Sequence[float] | npt.NDArray[Any], y: Sequence[float] | npt.NDArray[Any]) -> float:
    a = np.asarray(x, dtype=np.float64) - np.mean(x)
    b = np.asarray(y, dtype=np.float64) - np.mean(y)
    den = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / den) if den > 0 else float("nan")


def spearman(x: Sequence[float] | npt.NDArray[Any], y: Sequence[float] | npt.NDArray[Any]) -> float:
    """Spearman's rho: Pearson correlation of the ranks.

    >>> spearman([1, 2, 3, 4], [10, 20, 30, 25])
    0.8
    """
    if len(x) != len(y):
        raise InvalidArgumentError(f"spearman needs equal lengths, got {len(x)} and {len(y)}")
    if len(x) < 2:
        return float("nan")
    return round(pearson(rankdata(x), rankdata(y)), 12)


# ---- analogies ---------------------------------------------------------------------------------
def read_analogies(path: str | Path) -> list[tuple[str, list[Quad]]]:
    """Sections of ``questions-words.txt``: ``: name`` lines start a section."""
    sections: list[tuple[str, list[Quad]]] = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.strip()
            if not line:
                continue
            if line.startswith(":"):
                sections.append((line[1:].strip(), []))
                continue
            parts = line.split()
            if len(parts) != 4:
                raise InvalidArgumentError(f"{path}:{lineno}: want 4 words 'a b c d', got {line!r}")
            if not sections:
                sections.append(("(no section)", []))
            sections[-1][1].append((parts[0], parts[1], parts[2], parts[3]))
    if not sections:
        raise InvalidArgumentError(f"{path} holds no analogy questions")
    return sections


@dataclass(frozen=True, slots=True)
class SectionScore:
    section: str
    correct: int
    covered: int
    questions: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.covered if self.covered else 0.0

    @property
    def semantic(self) -> bool:
        return not self.section.startswith("gram")


@dataclass(frozen=True, slots=True)
class AnalogyResult:
    sections: list[SectionScore]
    restrict_vocab: int
    case_insensitive: bool

    def _sum(self, pick: list[SectionScore]) -> dict[str, Any]:
        c = sum(s.correct for s in pick)
        cov = sum(s.covered for s in pick)
        q = sum(s.questions for s in pick)
        return {
            "accuracy": round(c / cov, 5) if cov else 0.0,
            "correct": c,
            "covered": cov,
            "questions": q,
        }

    @property
    def accuracy(self) -> float:
        return float(self._sum(self.sections)["accuracy"])

    def to_dict(self) -> dict[str, Any]:
        return {
            "restrict_vocab": self.restrict_vocab,
            "case_insensitive": self.case_insensitive,
            "total": self._sum(self.sections),
            "semantic": self._sum([s for s in self.sections if s.semantic]),
            "syntactic": self._sum([s for s in self.sections if not s.semantic]),
            "sections": [{**asdict(s), "accuracy": round(s.accuracy, 5)} for s in self.sections],
        }


def _restricted_index(wv: WordVectors, limit: int, case_insensitive: bool) -> dict[str, int]:
    index: dict[str, int] = {}
    for i, w in enumerate(wv.words[:limit]):
        key = w.lower() if case_insensitive else w
        index.setdefault(key, i)  # the most frequent casing wins, as in gensim
    return index


def evaluate_analogies(
    wv: WordVectors,
    questions: str | Path | list[tuple[str, list[Quad]]],
    *,
    restrict_vocab: int = WORD2VEC_RESTRICT,
    case_insensitive: bool = True,
    batch: int = 256,
) -> AnalogyResult:
    """3CosAdd accuracy per section over the ``restrict_vocab`` most frequent words."""
    if restrict_vocab < 1:
        raise InvalidArgumentError("restrict_vocab must be at least 1")
    sections = read_analogies(questions) if isinstance(questions, str | Path) else questions
    limit = min(restrict_vocab, len(wv))
    index = _restricted_index(wv, limit, case_insensitive)
    unit = np.asarray(wv.vectors[:limit], dtype=np.float32) / wv.norms[:limit, None]
    scores_out: list[SectionScore] = []
    for name, quads in sections:
        rows: list[tuple[int, int, int, int]] = []
        for q in quads:
            ws = [w.lower() for w in q] if case_insensitive else list(q)
            if all(w in index for w in ws):
                rows.append((index[ws[0]], index[ws[1]], index[ws[2]], index[ws[3]]))
        correct = 0
        for lo in range(0, len(rows), batch):
            ids = np.array(rows[lo : lo + batch], dtype=np.int64)
            target = unit[ids[:, 1]] - unit[ids[:, 0]] + unit[ids[:, 2]]
            sims = target @ unit.T
            r = np.arange(len(ids))
            for col in range(3):
                sims[r, ids[:, col]] = -np.inf
            correct += int((sims.argmax(axis=1) == ids[:, 3]).sum())
        scores_out.append(SectionScore(name, correct, len(rows), len(quads)))
    return AnalogyResult(scores_out, restrict_vocab, case_insensitive)


# ---- similarity sets ---------------------------------------------------------------------------
def read_word_pairs(path: str | Path) -> list[tuple[str, str, float]]:
    """``w1 <TAB> w2 <TAB> score`` lines (whitespace also accepted); ``#`` lines are comments."""
    pairs: list[tuple[str, str, float]] = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip() or line.startswith("#"):
                continue
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3:
                parts = line.split()
            try:
                pairs.append((parts[0].strip(), parts[1].strip(), float(parts[2])))
            except (IndexError, ValueError) as exc:
                raise InvalidArgumentError(
                    f"{path}:{lineno}: want 'word1<TAB>word2<TAB>score', got {line.strip()!r}"
                ) from exc
    if not pairs:
        raise InvalidArgumentError(f"{path} holds no word pairs")
    return pairs


@dataclass(frozen=True, slots=True)
class SimilarityResult:
    name: str
    spearman: float
    pearson: float
    covered: int
    pairs: int
    oov_words: list[str] = field(default_factory=list)

    @property
    def coverage(self) -> float:
        return self.covered / self.pairs if self.pairs else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "spearman": round(self.spearman, 5),
            "pearson": round(self.pearson, 5),
            "covered": self.covered,
            "pairs": self.pairs,
            "coverage": round(self.coverage, 4),
            "oov_examples": self.oov_words[:10],
        }


def evaluate_similarity(
    wv: WordVectors,
    pairs: str | Path | list[tuple[str, str, float]],
    *,
    name: str | None = None,
    case_insensitive: bool = True,
) -> SimilarityResult:
    """Spearman of cosine vs human score over the pairs with both words in the vocabulary."""
    label = name or (Path(pairs).stem if isinstance(pairs, str | Path) else "pairs")
    rows = read_word_pairs(pairs) if isinstance(pairs, str | Path) else pairs
    index = _restricted_index(wv, len(wv), case_insensitive)
    gold: list[float] = []
    pred: list[float] = []
    oov: list[str] = []
    for w1, w2, score in rows:
        k1, k2 = (w1.lower(), w2.lower()) if case_insensitive else (w1, w2)
        if k1 in index and k2 in index:
            i, j = index[k1], index[k2]
            v1 = np.asarray(wv.vectors[i], dtype=np.float32) / wv.norms[i]
            v2 = np.asarray(wv.vectors[j], dtype=np.float32) / wv.norms[j]
            gold.append(score)
            pred.append(float(v1 @ v2))
        else:
            oov.extend(w for w, k in ((w1, k1), (w2, k2)) if k not in index and w not in oov)
    return SimilarityResult(
        label,
        spearman(pred, gold) if len(gold) > 1 else float("nan"),
        pearson(pred, gold) if len(gold) > 1 else float("nan"),
        len(gold),
        len(rows),
        oov,
    )


STANDARD_SETS = {
    "WS-353": "word_similarity/EN-WS-353-ALL.txt",
    "SimLex-999": "word_similarity/EN-SIMLEX-999.txt",
    "MEN": "word_similarity/EN-MEN-TR-3k.txt",
}
ANALOGY_FILE = "word_analogy/questions-words.txt"


def evaluate_words(
    wv: WordVectors,
    data_dir: str | Path,
    *,
    restrict_vocab: int = WORD2VEC_RESTRICT,
    case_insensitive: bool = True,
) -> dict[str, Any]:
    """The standard suite from a data folder laid out like ``shared/data`` (analogies under
    ``word_analogy/``, WS-353 / SimLex-999 / MEN under ``word_similarity/``)."""
    root = Path(data_dir)
    if not (root / ANALOGY_FILE).is_file():
        raise InvalidArgumentError(f"{root / ANALOGY_FILE} not found; give the evaluation data dir")
    out: dict[str, Any] = {
        "analogy": evaluate_analogies(
            wv,
            root / ANALOGY_FILE,
            restrict_vocab=restrict_vocab,
            case_insensitive=case_insensitive,
        ).to_dict(),
        "similarity": [],
    }
    for name, rel in STANDARD_SETS.items():
        if (root / rel).is_file():
            res = evaluate_similarity(wv, root / rel, name=name, case_insensitive=case_insensitive)
            out["similarity"].append(res.to_dict())
    return out
