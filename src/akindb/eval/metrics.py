"""Retrieval quality metrics: nDCG@k, recall@k, MRR@k, and a whole-run evaluation.

Pure Python (numpy only for score quartiles), no IO. Conventions follow ``trec_eval`` (and so
``pytrec_eval``, which BEIR and MTEB use), and are pinned against it by the tests:

* **Relevance.** ``qrels`` maps a doc id to an integer grade; a grade ``> 0`` is relevant, a grade
  ``<= 0`` and an unjudged document are both non-relevant (gain 0).
* **nDCG.** Gain is the grade itself (not ``2**grade - 1``), discounted by ``log2(rank + 1)`` with
  ranks from 1. The ideal DCG ranks *all* relevant judged documents of the query by grade, so
  relevant documents the run never retrieved lower the score.
* **Ranking a run.** Scores are sorted high to low; **ties are broken by doc id, descending**
  (plain string comparison), which is what ``trec_eval`` does. The order of the mapping is
  never used, so a run gives the same numbers however it was built. A NaN score is an error.
* **Averaging.** :func:`evaluate_run` averages over **every query in qrels**; a judged query the
  run does not answer (missing, or with no hits) scores 0 on every metric, like
  ``trec_eval -c``. Queries in the run but not in qrels are ignored. BEIR averages over the
  queries present in both the run and qrels instead, so the two agree whenever every judged
  query is answered; ours cannot be raised by dropping hard queries from a run.
* A judged query with no relevant document scores 0 (as in ``trec_eval``).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from akindb.errors import InvalidArgumentError

__all__ = [
    "DEFAULT_KS",
    "ScoreDistribution",
    "ScoreStats",
    "evaluate_per_query",
    "evaluate_run",
    "mrr_at_k",
    "ndcg_at_k",
    "rank_by_score",
    "recall_at_k",
    "score_distribution",
]

Run = Mapping[str, Mapping[str, float]]
"""``{query id: {doc id: score}}``; higher scores are better."""
Qrels = Mapping[str, Mapping[str, int]]
"""``{query id: {doc id: graded relevance}}``."""

DEFAULT_KS: tuple[int, ...] = (1, 3, 5, 10, 100)
"""Cut-offs :func:`evaluate_run` reports by default (BEIR's, without 1000)."""


def rank_by_score(scores: Mapping[str, float], k: int | None = None) -> list[str]:
    """Doc ids by score, best first, ties broken by doc id descending (as ``trec_eval``).

    ``k`` keeps only the first ``k`` (cheaper than sorting everything).

    >>> rank_by_score({"d1": 0.5, "d3": 0.9, "d2": 0.5})
    ['d3', 'd2', 'd1']
    >>> rank_by_score({"d1": 0.5, "d3": 0.9, "d2": 0.5}, k=2)
    ['d3', 'd2']
    """
    if k is not None:
        _check_k(k)
    for doc_id, score in scores.items():
        if math.isnan(score):
            raise InvalidArgumentError(
                f"document {doc_id!r} has a NaN score; a run's scores must be real numbers"
            )
    items = scores.items()
    if k is not None and k < len(scores):
        top = heapq.nlargest(k, items, key=_score_then_id)
    else:
        top = sorted(items, key=_score_then_id, reverse=True)
    return [doc_id for doc_id, _ in top]


def ndcg_at_k(ranked: Sequence[str], qrels: Mapping[str, int], k: int = 10) -> float:
    """Normalised discounted cumulative gain of the first ``k`` of ``ranked``.

    ``DCG@k = sum(grade(d_i) / log2(i + 1) for i = 1..k)`` over the ranked docs, divided by the
    same sum for the ideal ranking of every relevant judged document.

    >>> qrels = {"a": 2, "b": 1, "c": 0}
    >>> # DCG = 0/log2(2) + 2/log2(3) + 0/log2(4) = 1.2619
    >>> # ideal: a, b -> 2/log2(2) + 1/log2(3) = 2.6309
    >>> round(ndcg_at_k(["c", "a", "x"], qrels, k=3), 4)
    0.4796
    >>> ndcg_at_k(["a", "b"], qrels, k=10)
    1.0
    """
    _check_k(k)
    _check_ranked(ranked)
    dcg = sum(
        _gain(qrels, doc_id) / math.log2(rank + 1)
        for rank, doc_id in enumerate(ranked[:k], start=1)
    )
    ideal = sorted((grade for grade in qrels.values() if grade > 0), reverse=True)[:k]
    idcg = sum(grade / math.log2(rank + 1) for rank, grade in enumerate(ideal, start=1))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at_k(ranked: Sequence[str], qrels: Mapping[str, int], k: int = 10) -> float:
    """Share of the query's relevant documents (grade ``> 0``) found in the first ``k``.

    >>> qrels = {"a": 2, "b": 1, "c": 1, "z": 0}
    >>> recall_at_k(["a", "z", "x", "c"], qrels, k=3)  # only "a" of a, b, c in the top 3
    0.3333333333333333
    >>> recall_at_k(["a", "z", "x", "c"], qrels, k=100)
    0.6666666666666666
    """
    _check_k(k)
    _check_ranked(ranked)
    relevant = sum(1 for grade in qrels.values() if grade > 0)
    if relevant == 0:
        return 0.0
    found = sum(1 for doc_id in ranked[:k] if _gain(qrels, doc_id) > 0)
    return found / relevant


def mrr_at_k(ranked: Sequence[str], qrels: Mapping[str, int], k: int = 10) -> float:
    """Reciprocal rank of the first relevant document within the first ``k`` (else 0).

    >>> qrels = {"a": 1, "b": 2}
    >>> mrr_at_k(["x", "y", "b", "a"], qrels, k=10)  # first relevant at rank 3
    0.3333333333333333
    >>> mrr_at_k(["x", "y", "b", "a"], qrels, k=2)
    0.0
    """
    _check_k(k)
    _check_ranked(ranked)
    for rank, doc_id in enumerate(ranked[:k], start=1):
        if _gain(qrels, doc_id) > 0:
            return 1.0 / rank
    return 0.0


def evaluate_per_query(
    run: Run, qrels: Qrels, ks: Sequence[int] = DEFAULT_KS
) -> dict[str, dict[str, float]]:
    """``{query id: {"ndcg@k", "recall@k", "mrr@k" for each k}}`` for every query in ``qrels``.

    A judged query missing from ``run`` scores 0 on every metric; queries only in ``run`` are
    left out. See the module docstring for ranking and tie rules.

    >>> qrels = {"q1": {"a": 1}, "q2": {"b": 1}}
    >>> evaluate_per_query({"q1": {"a": 0.9, "x": 0.8}}, qrels, ks=(1,))
    {'q1': {'ndcg@1': 1.0, 'recall@1': 1.0, 'mrr@1': 1.0}, 'q2': {'ndcg@1': 0.0, 'recall@1': 0.0, 'mrr@1': 0.0}}
    """  # noqa: E501 (a doctest output line)
    cutoffs = _check_ks(ks)
    _check_overlap(run, qrels)
    deepest = cutoffs[-1]
    results: dict[str, dict[str, float]] = {}
    for query_id, judged in qrels.items():
        ranked = rank_by_score(run.get(query_id, {}), deepest)
        row: dict[str, float] = {}
        for k in cutoffs:
            row[f"ndcg@{k}"] = ndcg_at_k(ranked, judged, k)
            row[f"recall@{k}"] = recall_at_k(ranked, judged, k)
            row[f"mrr@{k}"] = mrr_at_k(ranked, judged, k)
        results[query_id] = row
    return results


def evaluate_run(run: Run, qrels: Qrels, ks: Sequence[int] = DEFAULT_KS) -> dict[str, float]:
    """Mean ``ndcg@k``, ``recall@k`` and ``mrr@k`` over every query in ``qrels``.

    With the default ``ks`` the keys include the usual headline numbers ``"ndcg@10"``,
    ``"recall@100"`` and ``"mrr@10"``. Unanswered judged queries count as 0 (see the module
    docstring for how this differs from BEIR when a run skips queries).

    >>> qrels = {"q1": {"a": 2, "b": 1}, "q2": {"c": 1}}
    >>> run = {"q1": {"b": 0.9, "a": 0.8, "x": 0.1}, "q2": {"x": 0.7, "c": 0.6}}
    >>> scores = evaluate_run(run, qrels, ks=(1, 10))
    >>> scores["mrr@10"]  # (1/1 + 1/2) / 2
    0.75
    >>> scores["recall@1"]  # (1/2 + 0/1) / 2
    0.25
    >>> # q1: (1 + 2/log2(3)) / (2 + 1/log2(3)) = 0.8597; q2: (1/log2(3)) / 1 = 0.6309
    >>> round(scores["ndcg@10"], 4)
    0.7453
    """
    per_query = evaluate_per_query(run, qrels, ks)
    if not per_query:
        raise InvalidArgumentError("qrels is empty: there is no judged query to average over")
    names = next(iter(per_query.values())).keys()
    count = len(per_query)
    return {name: math.fsum(row[name] for row in per_query.values()) / count for name in names}


@dataclass(frozen=True, slots=True)
class ScoreStats:
    """Summary of a set of scores; with ``count == 0`` every other field is NaN.

    >>> ScoreStats.of([1.0, 2.0, 3.0, 4.0, 5.0])
    ScoreStats(count=5, mean=3.0, minimum=1.0, q1=2.0, median=3.0, q3=4.0, maximum=5.0)
    """

    count: int
    mean: float
    minimum: float
    q1: float
    median: float
    q3: float
    maximum: float

    @classmethod
    def of(cls, scores: Sequence[float]) -> ScoreStats:
        if len(scores) == 0:
            nan = math.nan
            return cls(0, nan, nan, nan, nan, nan, nan)
        values = np.asarray(scores, dtype=np.float64)
        q1, median, q3 = (float(v) for v in np.percentile(values, [25, 50, 75]))
        return cls(
            count=len(values),
            mean=float(values.mean()),
            minimum=float(values.min()),
            q1=q1,
            median=median,
            q3=q3,
            maximum=float(values.max()),
        )


@dataclass(frozen=True, slots=True)
class ScoreDistribution:
    """Scores of relevant and of non-relevant hits among a run's top ``k``."""

    k: int
    relevant: ScoreStats
    non_relevant: ScoreStats


def score_distribution(run: Run, qrels: Qrels, k: int = 10) -> ScoreDistribution:
    """Where relevant hits' scores lie against non-relevant ones, to help pick ``min_score``.

    Looks at the top ``k`` hits of each query present in both ``run`` and ``qrels``. A hit is
    relevant when its grade is ``> 0``; judged non-relevant and unjudged hits are both counted
    as non-relevant (unjudged hits are often relevant in pooled collections, so a threshold
    read off these numbers errs on the strict side).

    >>> qrels = {"q1": {"a": 1}, "q2": {"b": 2}}
    >>> run = {"q1": {"a": 0.9, "x": 0.3}, "q2": {"y": 0.8, "b": 0.7}}
    >>> dist = score_distribution(run, qrels, k=2)
    >>> dist.relevant.count, round(dist.relevant.mean, 6), round(dist.non_relevant.mean, 6)
    (2, 0.8, 0.55)
    """
    _check_k(k)
    _check_overlap(run, qrels)
    relevant: list[float] = []
    non_relevant: list[float] = []
    for query_id, judged in qrels.items():
        scores = run.get(query_id)
        if not scores:
            continue
        for doc_id in rank_by_score(scores, k):
            target = relevant if _gain(judged, doc_id) > 0 else non_relevant
            target.append(float(scores[doc_id]))
    return ScoreDistribution(
        k=k, relevant=ScoreStats.of(relevant), non_relevant=ScoreStats.of(non_relevant)
    )


def _score_then_id(item: tuple[str, float]) -> tuple[float, str]:
    return item[1], item[0]


def _gain(qrels: Mapping[str, int], doc_id: str) -> int:
    grade = qrels.get(doc_id, 0)
    return grade if grade > 0 else 0


def _check_k(k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise InvalidArgumentError(f"k must be a positive integer, got {k!r}")


def _check_ks(ks: Sequence[int]) -> list[int]:
    if isinstance(ks, int):
        raise InvalidArgumentError(f"ks must be a sequence of cut-offs such as (10, 100), got {ks}")
    for k in ks:
        _check_k(k)
    if not ks:
        raise InvalidArgumentError("ks is empty: give at least one cut-off, such as (10,)")
    return sorted(set(ks))


def _check_ranked(ranked: Sequence[str]) -> None:
    if isinstance(ranked, str):
        raise InvalidArgumentError(
            "ranked must be a sequence of doc ids, not one string; wrap it in a list"
        )
    if len(set(ranked)) == len(ranked):
        return
    seen: set[str] = set()
    for doc_id in ranked:
        if doc_id in seen:
            raise InvalidArgumentError(
                f"ranked lists document {doc_id!r} more than once; each doc id may appear once"
            )
        seen.add(doc_id)


def _check_overlap(run: Run, qrels: Qrels) -> None:
    """Catch the classic silent zero: run and qrels keyed by different query ids."""
    if run and qrels and run.keys().isdisjoint(qrels.keys()):
        run_ids = ", ".join(repr(q) for q in list(run)[:3])
        qrels_ids = ", ".join(repr(q) for q in list(qrels)[:3])
        raise InvalidArgumentError(
            f"the run and the qrels share no query id (run has {run_ids}, ...; qrels has "
            f"{qrels_ids}, ...): key the run by the same query ids as the qrels"
        )
