"""Hand-computed checks of akindb.eval.metrics (nDCG, recall, MRR, run evaluation)."""

from __future__ import annotations

import doctest
import math

import pytest

import akindb.eval
from akindb.errors import InvalidArgumentError
from akindb.eval import beir, metrics
from akindb.eval.metrics import (
    ScoreStats,
    evaluate_per_query,
    evaluate_run,
    mrr_at_k,
    ndcg_at_k,
    rank_by_score,
    recall_at_k,
    score_distribution,
)

LOG2_3 = math.log2(3)


@pytest.mark.parametrize("module", [metrics, beir, akindb.eval], ids=lambda m: m.__name__)
def test_docstring_examples(module: object) -> None:
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)  # type: ignore[arg-type]
    assert result.attempted > 0
    assert result.failed == 0


# --- nDCG -------------------------------------------------------------------------------------


def test_ndcg_uses_grade_as_gain_not_exponential() -> None:
    qrels = {"a": 2, "b": 1}
    # b then a: DCG = 1/1 + 2/log2(3); ideal a then b: 2/1 + 1/log2(3)
    expected = (1 + 2 / LOG2_3) / (2 + 1 / LOG2_3)
    assert ndcg_at_k(["b", "a"], qrels, k=10) == pytest.approx(expected, abs=1e-12)
    # the 2**rel - 1 convention would give (1 + 3/log2(3)) / (3 + 1/log2(3))
    assert expected != pytest.approx((1 + 3 / LOG2_3) / (3 + 1 / LOG2_3))


def test_ndcg_ideal_uses_all_relevant_docs_even_unretrieved() -> None:
    qrels = {"a": 1, "b": 1, "c": 1}
    # one relevant at rank 1; ideal has three
    expected = 1 / (1 + 1 / LOG2_3 + 1 / 2)
    assert ndcg_at_k(["a", "x"], qrels, k=10) == pytest.approx(expected)


def test_ndcg_ideal_is_cut_at_k() -> None:
    qrels = {"a": 1, "b": 2, "c": 1}
    assert ndcg_at_k(["b"], qrels, k=1) == 1.0
    assert ndcg_at_k(["a"], qrels, k=1) == pytest.approx(0.5)


def test_ndcg_non_positive_grades_are_non_relevant() -> None:
    qrels = {"a": 2, "b": -1, "c": 0, "d": 1}
    # b and c contribute nothing, neither to DCG nor to the ideal
    expected = (2 / LOG2_3 + 1 / 2) / (2 + 1 / LOG2_3)
    assert ndcg_at_k(["b", "a", "d", "c"], qrels, k=4) == pytest.approx(expected)


def test_k_larger_than_the_list() -> None:
    qrels = {"a": 1, "b": 1}
    ranked = ["a", "x"]
    assert ndcg_at_k(ranked, qrels, k=1000) == pytest.approx(1 / (1 + 1 / LOG2_3))
    assert recall_at_k(ranked, qrels, k=1000) == 0.5
    assert mrr_at_k(ranked, qrels, k=1000) == 1.0


def test_empty_ranking_and_no_relevant_docs_score_zero() -> None:
    assert ndcg_at_k([], {"a": 1}) == 0.0
    assert recall_at_k([], {"a": 1}) == 0.0
    assert mrr_at_k([], {"a": 1}) == 0.0
    for qrels in ({}, {"a": 0}, {"a": -2}):
        assert ndcg_at_k(["a"], qrels) == 0.0
        assert recall_at_k(["a"], qrels) == 0.0
        assert mrr_at_k(["a"], qrels) == 0.0


# --- recall and MRR ---------------------------------------------------------------------------


def test_recall_denominator_is_number_of_relevant_docs() -> None:
    qrels = {"a": 2, "b": 1, "c": 1, "d": 0}
    assert recall_at_k(["d", "a", "b"], qrels, k=2) == pytest.approx(1 / 3)
    assert recall_at_k(["d", "a", "b"], qrels, k=3) == pytest.approx(2 / 3)


def test_mrr_first_relevant_within_k() -> None:
    qrels = {"a": 0, "b": 1}
    assert mrr_at_k(["a", "x", "b"], qrels, k=3) == pytest.approx(1 / 3)
    assert mrr_at_k(["a", "x", "b"], qrels, k=2) == 0.0
    assert mrr_at_k(["b", "a"], qrels, k=1) == 1.0


# --- ranking and ties -------------------------------------------------------------------------


def test_ties_are_broken_by_doc_id_descending() -> None:
    scores = {"d1": 0.5, "d10": 0.5, "d2": 0.5, "d0": 0.9, "d9": 0.1}
    assert rank_by_score(scores) == ["d0", "d2", "d10", "d1", "d9"]
    assert rank_by_score(scores, k=3) == ["d0", "d2", "d10"]


def test_ranking_ignores_mapping_order() -> None:
    items = [("a", 1.0), ("b", 1.0), ("c", 2.0), ("d", -1.0)]
    forward = rank_by_score(dict(items))
    backward = rank_by_score(dict(reversed(items)))
    assert forward == backward == ["c", "b", "a", "d"]


def test_ties_decide_the_metric() -> None:
    qrels = {"q": {"a": 1}}
    # a and b tie: b ranks first (id descending), so a is at rank 2
    result = evaluate_run({"q": {"a": 0.7, "b": 0.7}}, qrels, ks=(1, 10))
    assert result["mrr@10"] == 0.5
    assert result["recall@1"] == 0.0
    assert result["ndcg@10"] == pytest.approx(1 / LOG2_3)


def test_infinite_and_integer_scores_are_fine() -> None:
    assert rank_by_score({"a": 1, "b": math.inf, "c": -math.inf}) == ["b", "a", "c"]


# --- whole runs -------------------------------------------------------------------------------


def test_evaluate_run_hand_computed() -> None:
    qrels = {"q1": {"a": 2, "b": 1, "c": 0}, "q2": {"d": 1}}
    run = {
        "q1": {"c": 0.9, "a": 0.8, "x": 0.5, "b": 0.1},
        "q2": {"d": 0.3, "y": 0.2},
    }
    result = evaluate_run(run, qrels, ks=(1, 3, 10))
    q1_ndcg3 = (2 / LOG2_3) / (2 + 1 / LOG2_3)
    q1_ndcg10 = (2 / LOG2_3 + 1 / math.log2(5)) / (2 + 1 / LOG2_3)
    assert result["ndcg@3"] == pytest.approx((q1_ndcg3 + 1) / 2)
    assert result["ndcg@10"] == pytest.approx((q1_ndcg10 + 1) / 2)
    assert result["ndcg@1"] == pytest.approx(0.5)
    assert result["recall@3"] == pytest.approx((0.5 + 1) / 2)
    assert result["recall@10"] == pytest.approx(1.0)
    assert result["mrr@10"] == pytest.approx((0.5 + 1) / 2)
    assert result["mrr@1"] == pytest.approx(0.5)
    assert set(result) == {f"{m}@{k}" for m in ("ndcg", "recall", "mrr") for k in (1, 3, 10)}


def test_default_ks_include_headline_metrics() -> None:
    result = evaluate_run({"q": {"a": 1.0}}, {"q": {"a": 1}})
    assert {"ndcg@10", "recall@100", "mrr@10"} <= set(result)
    assert all(value == 1.0 for value in result.values())


def test_unanswered_judged_queries_count_as_zero() -> None:
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}, "q3": {"c": 1}, "q4": {"d": 1}}
    run = {"q1": {"a": 1.0}, "q2": {}, "extra": {"z": 1.0}}
    result = evaluate_run(run, qrels, ks=(10,))
    # q1 perfect; q2 empty, q3 and q4 missing: average over the 4 judged queries
    assert result == {"ndcg@10": 0.25, "recall@10": 0.25, "mrr@10": 0.25}
    per_query = evaluate_per_query(run, qrels, ks=(10,))
    assert list(per_query) == ["q1", "q2", "q3", "q4"]  # "extra" is not judged: left out
    assert per_query["q3"] == {"ndcg@10": 0.0, "recall@10": 0.0, "mrr@10": 0.0}


def test_empty_run_scores_zero() -> None:
    result = evaluate_run({}, {"q1": {"a": 1}}, ks=(10,))
    assert result == {"ndcg@10": 0.0, "recall@10": 0.0, "mrr@10": 0.0}


def test_all_answered_matches_beir_style_average() -> None:
    qrels = {"q1": {"a": 1}, "q2": {"b": 2, "c": 1}}
    run = {"q1": {"x": 0.9, "a": 0.1}, "q2": {"c": 0.9, "b": 0.8}}
    per_query = evaluate_per_query(run, qrels, ks=(10,))
    answered = [row["ndcg@10"] for qid, row in per_query.items() if qid in run]
    assert evaluate_run(run, qrels, ks=(10,))["ndcg@10"] == pytest.approx(
        sum(answered) / len(answered)
    )


# --- score distribution -----------------------------------------------------------------------


def test_score_distribution_splits_relevant_from_the_rest() -> None:
    qrels = {"q1": {"a": 1, "n": 0}, "q2": {"b": 2}, "q3": {"c": 1}}
    run = {
        "q1": {"a": 0.9, "n": 0.5, "x": 0.4, "deep": 0.0},
        "q2": {"b": 0.7, "y": 0.6},
        "unjudged": {"z": 1.0},
    }
    dist = score_distribution(run, qrels, k=3)
    assert dist.k == 3
    assert dist.relevant == ScoreStats.of([0.9, 0.7])
    assert dist.non_relevant.count == 3  # n (judged 0), x and y (unjudged); "deep" is past k
    assert dist.non_relevant.median == pytest.approx(0.5)
    assert dist.non_relevant.q1 == pytest.approx(0.45)
    assert dist.non_relevant.maximum == pytest.approx(0.6)


def test_score_stats_of_nothing_is_nan() -> None:
    stats = ScoreStats.of([])
    assert stats.count == 0
    assert math.isnan(stats.mean) and math.isnan(stats.median)
    dist = score_distribution({"q": {"x": 0.3}}, {"q": {"a": 1}}, k=10)
    assert dist.relevant.count == 0 and dist.non_relevant.count == 1


# --- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize("k", [0, -1, True, 2.0], ids=repr)
def test_bad_k_is_rejected(k: object) -> None:
    for fn in (ndcg_at_k, recall_at_k, mrr_at_k):
        with pytest.raises(InvalidArgumentError, match="k must be a positive integer"):
            fn(["a"], {"a": 1}, k=k)  # type: ignore[arg-type]


def test_bad_ks_are_rejected() -> None:
    with pytest.raises(InvalidArgumentError, match="ks is empty"):
        evaluate_run({"q": {}}, {"q": {"a": 1}}, ks=())
    with pytest.raises(InvalidArgumentError, match="sequence of cut-offs"):
        evaluate_run({"q": {}}, {"q": {"a": 1}}, ks=10)  # type: ignore[arg-type]


def test_duplicate_or_string_ranking_is_rejected() -> None:
    with pytest.raises(InvalidArgumentError, match="'a' more than once"):
        ndcg_at_k(["a", "b", "a"], {"a": 1})
    with pytest.raises(InvalidArgumentError, match="not one string"):
        recall_at_k("abc", {"a": 1})


def test_nan_score_is_rejected() -> None:
    with pytest.raises(InvalidArgumentError, match="'d2' has a NaN score"):
        rank_by_score({"d1": 1.0, "d2": math.nan})


def test_empty_qrels_is_rejected() -> None:
    with pytest.raises(InvalidArgumentError, match="qrels is empty"):
        evaluate_run({}, {})


def test_disjoint_query_ids_are_rejected() -> None:
    with pytest.raises(InvalidArgumentError, match="share no query id"):
        evaluate_run({"1": {"a": 1.0}}, {"PLAIN-1": {"a": 1}})
    with pytest.raises(InvalidArgumentError, match="share no query id"):
        score_distribution({"1": {"a": 1.0}}, {"PLAIN-1": {"a": 1}})
