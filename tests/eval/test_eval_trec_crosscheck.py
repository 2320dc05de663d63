"""akindb.eval.metrics against pytrec_eval (trec_eval), which BEIR and MTEB score with.

Runs only where ``pytrec_eval`` is installed (``pip install pytrec-eval-terrier``). Random runs
with many tied scores, over the real NFCorpus test qrels (from ../shared/data) and over
synthetic qrels with grades from -1 to 3.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from pathlib import Path

import pytest

from akindb.eval import evaluate_per_query, evaluate_run, load_beir, rank_by_score

pytrec_eval = pytest.importorskip("pytrec_eval")

NFCORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "ir" / "nfcorpus"
KS = (1, 3, 5, 10, 100)
TREC_MEASURES = {f"ndcg_cut.{','.join(map(str, KS))}", f"recall.{','.join(map(str, KS))}"}

Run = dict[str, dict[str, float]]
Qrels = dict[str, dict[str, int]]


def random_run(qrels: Qrels, doc_ids: list[str], seed: int, skip: float = 0.0) -> Run:
    """Per query: some judged docs plus random others, scores on a coarse grid (many ties)."""
    rng = random.Random(seed)
    run: Run = {}
    for query_id, judged in qrels.items():
        if rng.random() < skip:
            continue
        judged_ids = sorted(judged)
        picked = set(rng.sample(judged_ids, rng.randint(0, len(judged_ids))))
        picked.update(rng.sample(doc_ids, rng.randint(0, 150)))
        run[query_id] = {doc_id: rng.randint(0, 20) / 4 for doc_id in sorted(picked)}
    return run


def trec_per_query(run: Run, qrels: Qrels) -> dict[str, dict[str, float]]:
    """pytrec_eval's numbers renamed to ours; MRR@k as recip_rank over the top k."""
    evaluator = pytrec_eval.RelevanceEvaluator(qrels, TREC_MEASURES)
    raw: Mapping[str, Mapping[str, float]] = evaluator.evaluate(run)
    out: dict[str, dict[str, float]] = {
        qid: {
            **{f"ndcg@{k}": row[f"ndcg_cut_{k}"] for k in KS},
            **{f"recall@{k}": row[f"recall_{k}"] for k in KS},
        }
        for qid, row in raw.items()
    }
    rr_evaluator = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"})
    for k in KS:
        top_k = {
            qid: {d: scores[d] for d in rank_by_score(scores, k)} for qid, scores in run.items()
        }
        for qid, row in rr_evaluator.evaluate(top_k).items():
            out[qid][f"mrr@{k}"] = row["recip_rank"]
    return out


def assert_agree(run: Run, qrels: Qrels) -> None:
    ours = evaluate_per_query(run, qrels, KS)
    theirs = trec_per_query(run, qrels)
    assert set(theirs) == set(run) & set(qrels)
    for qid, row in theirs.items():
        assert ours[qid] == pytest.approx(row, abs=1e-9), qid
    # averaging: over all judged queries, unanswered ones as 0 (BEIR: over answered ones only)
    mean = evaluate_run(run, qrels, KS)
    for name in mean:
        total = sum(row[name] for row in theirs.values())
        assert mean[name] == pytest.approx(total / len(qrels), abs=1e-9)


@pytest.fixture(scope="module")
def nfcorpus_test() -> tuple[Qrels, list[str]]:
    if not (NFCORPUS / "qrels" / "test.tsv").is_file():
        pytest.skip(f"NFCorpus (BEIR format) not found at {NFCORPUS}; see ../shared/data/README.md")
    data = load_beir(NFCORPUS, "test")
    return data.qrels, sorted(data.corpus)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_nfcorpus_random_runs_match_trec_eval(
    nfcorpus_test: tuple[Qrels, list[str]], seed: int
) -> None:
    qrels, doc_ids = nfcorpus_test
    assert_agree(random_run(qrels, doc_ids, seed), qrels)


def test_nfcorpus_partial_run_averages_over_all_judged_queries(
    nfcorpus_test: tuple[Qrels, list[str]],
) -> None:
    qrels, doc_ids = nfcorpus_test
    run = random_run(qrels, doc_ids, seed=7, skip=0.3)
    assert 0 < len(run) < len(qrels)
    assert_agree(run, qrels)
    # and BEIR's average over answered queries is the mean of pytrec_eval's per-query values
    theirs = trec_per_query(run, qrels)
    beir_ndcg10 = sum(row["ndcg@10"] for row in theirs.values()) / len(theirs)
    ours_answered = evaluate_per_query(run, qrels, KS)
    assert beir_ndcg10 == pytest.approx(
        sum(ours_answered[q]["ndcg@10"] for q in run) / len(run), abs=1e-9
    )


@pytest.mark.parametrize("seed", [10, 11, 12, 13])
def test_synthetic_graded_qrels_match_trec_eval(seed: int) -> None:
    rng = random.Random(seed)
    doc_ids = [f"d{i}" for i in range(300)]
    qrels: Qrels = {
        f"q{q}": {
            d: rng.choice([-1, 0, 0, 1, 1, 2, 3]) for d in rng.sample(doc_ids, rng.randint(1, 40))
        }
        for q in range(60)
    }
    assert_agree(random_run(qrels, doc_ids, seed), qrels)
