"""Retrieval evaluation: a BEIR-format loader and trec_eval-compatible metrics.

>>> from akindb.eval import evaluate_run
>>> evaluate_run({"q1": {"d1": 0.9}}, {"q1": {"d1": 1}}, ks=(10,))["ndcg@10"]
1.0
"""

from akindb.eval.beir import BeirDataset, BeirDoc, load_beir
from akindb.eval.metrics import (
    DEFAULT_KS,
    ScoreDistribution,
    ScoreStats,
    evaluate_per_query,
    evaluate_run,
    mrr_at_k,
    ndcg_at_k,
    rank_by_score,
    recall_at_k,
    score_distribution,
)

__all__ = [
    "DEFAULT_KS",
    "BeirDataset",
    "BeirDoc",
    "ScoreDistribution",
    "ScoreStats",
    "evaluate_per_query",
    "evaluate_run",
    "load_beir",
    "mrr_at_k",
    "ndcg_at_k",
    "rank_by_score",
    "recall_at_k",
    "score_distribution",
]
