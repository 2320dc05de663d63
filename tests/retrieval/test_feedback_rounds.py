"""Dense feedback in rounds, the first from the confident head of the first ranking (issue 17,
session 7): ``RocchioParams.rounds`` / ``relative_cut``, ``feedback.moved``; what search,
tuning, the settings row and the CLI do with them."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

import akindb
from akindb import errors
from akindb.cli.main import app
from akindb.retrieval.feedback import RocchioParams, moved, rescored
from akindb.retrieval.fusion import FusionMethod, FusionParams
from akindb.retrieval.hybrid import Candidates, fuse_candidates, top_items, top_scored
from akindb.retrieval.settings import (
    DEFAULT_FUSION,
    DEFAULT_ROCCHIO,
    RetrievalSettings,
    load_settings,
    save_settings,
    updated,
)
from tests.conftest import HashEmbedder

runner = CliRunner()
DOT = lambda q, m: (m @ q).astype(np.float32)  # noqa: E731
DOCS = {
    "a": "Espresso is brewed under pressure; a good espresso has a thick crema.",
    "b": "Pull the espresso shot for 25 seconds until the crema turns tiger striped.",
    "c": "Crema forms when carbon dioxide emulsifies oils into tiny bubbles.",
    "d": "Green tea should steep for three minutes in water below boiling.",
    "e": "Mountain bikes need wide tyres and strong brakes for steep trails.",
    "f": "A grinder set too fine chokes the espresso machine and the shot runs slow.",
}


def _random_case(rng: np.random.Generator, dim: int = 8, coarse: bool = False
                 ) -> tuple[Candidates, np.ndarray, dict[int, np.ndarray]]:
    """Candidates as hybrid search gathers them; ``coarse``: vectors on a {-1, 0, 1} grid, so
    many cosines (and fused scores) tie exactly."""
    n = int(rng.integers(3, 40))
    raw = {i: (rng.integers(-1, 2, size=dim).astype(np.float64) + (0.0 if coarse else
               rng.normal(size=dim))) for i in range(n)}
    vecs = {i: (v / max(np.linalg.norm(v), 1e-9)).astype(np.float32) for i, v in raw.items()}
    q = rng.normal(size=dim).astype(np.float32)
    q /= np.linalg.norm(q)
    vec = {i: float(vecs[i] @ q) for i in range(n) if rng.random() < 0.7}
    key = {i: float(rng.random() * 8) for i in range(n) if rng.random() < 0.5 or i not in vec}
    dense = {**vec, **{i: float(vecs[i] @ q) for i in key if i not in vec}}
    return Candidates(vec, key, dense, 10.0, 0.5 + 0.5 * float(rng.random())), q, vecs


def test_new_collections_get_three_rounds_and_old_rows_keep_one() -> None:
    assert (DEFAULT_ROCCHIO.rounds, DEFAULT_ROCCHIO.relative_cut) == (3, 0.8)
    assert RetrievalSettings().rocchio == DEFAULT_ROCCHIO
    # a row written by session 6 (feedback on, no rounds): one round, no cut, as it was
    s6 = RetrievalSettings.from_dict(
        {"rocchio": {"enabled": True, "beta": 0.4, "docs": 5}})
    assert (s6.rocchio.rounds, s6.rocchio.relative_cut) == (1, 0.0)
    assert RocchioParams.from_dict(DEFAULT_ROCCHIO.to_dict()) == DEFAULT_ROCCHIO
    for bad, word in (({"rounds": 0}, "rounds"), ({"rounds": 6}, "rounds"),
                      ({"relative_cut": 1.5}, "relative_cut"),
                      ({"relative_cut": -0.1}, "relative_cut")):
        with pytest.raises(errors.InvalidArgumentError, match=word):
            RocchioParams(True, **bad)  # type: ignore[arg-type]


def test_one_round_without_a_cut_is_session_6_feedback() -> None:
    # Collections that recorded one round must rank exactly as before.
    rng = np.random.default_rng(3)
    for _ in range(100):
        c, q, vecs = _random_case(rng)
        for p in (DEFAULT_FUSION, FusionParams(FusionMethod.RRF)):
            fb = RocchioParams(True, 0.4, 5)
            want = rescored(c, q, top_items(c, p, 5), vecs, 0.4, DOT)
            got = moved(c, q, vecs, p, fb, DOT)
            assert got.vector == want.vector and got.dense == want.dense


def test_rounds_and_cut_follow_their_definition() -> None:
    rng = np.random.default_rng(11)
    changed = 0
    for trial in range(200):
        c, q, vecs = _random_case(rng, coarse=trial % 2 == 1)
        p = DEFAULT_FUSION
        fb = RocchioParams(True, 0.4, 5, rounds=3, relative_cut=0.8)
        head = top_scored(c, p, 5)
        top = [i for i, s in head if s >= 0.8 * head[0][1]]
        assert top[0] == head[0][0]  # the best passage always feeds back
        cur = rescored(c, q, top, vecs, 0.4, DOT)
        for _ in range(2):  # later rounds: the previous ranking's top 5, from q itself
            cur = rescored(c, q, top_items(cur, p, 5), vecs, 0.4, DOT)
        got = moved(c, q, vecs, p, fb, DOT)
        assert got.dense == cur.dense
        changed += got.dense != moved(c, q, vecs, p, RocchioParams(True, 0.4, 5), DOT).dense
    assert changed > 100  # the setting is not a no-op


def test_top_scored_reports_the_fused_scores() -> None:
    rng = np.random.default_rng(5)
    for _ in range(100):
        c, _, _ = _random_case(rng)
        for p in (DEFAULT_FUSION, FusionParams(FusionMethod.RRF)):
            fused, shown = fuse_candidates(c, p)
            got = top_scored(c, p, 7)
            assert [i for i, _ in got] == [f.item for f in fused[:7]]
            assert [s for _, s in got] == pytest.approx(shown[:7])


def _set(db: akindb.Database, col: akindb.Collection, p: RocchioParams) -> None:
    s = load_settings(db.conn, col.config.id)
    save_settings(db.conn, db.file, col.config.id, updated(s, rocchio=p))


def test_search_and_tuning_run_the_rounds_alike(tmp_db: akindb.Database) -> None:
    from akindb.eval.tuning import collect

    col = tmp_db.create_collection("r", model=HashEmbedder())
    col.add(list(DOCS.values()), ids=list(DOCS))
    queries = ("espresso", "espresso shot crema", "steep", "crema bubbles")

    def moved_cosines(fb: RocchioParams) -> dict[str, list[float]]:
        _set(tmp_db, col, fb)
        fusion = load_settings(tmp_db.conn, col.config.id).fusion
        out: dict[str, list[float]] = {}
        for q in queries:
            t = collect(col, {"q": q}, {"q": {"a": 1}}, feedback=fb)
            hits = col.search(q, k=6, mode="hybrid", explain=True)
            assert [h.chunk_id for h in hits] == t.fused("q", fusion)[: len(hits)]
            out[q] = [h.explain().fusion["raw"]["vector"] for h in hits]  # type: ignore[index]
        return out

    moved_cosines(RocchioParams(True, beta=0.6, docs=3, rounds=3, relative_cut=0.5))
    best_only = moved_cosines(RocchioParams(True, beta=0.6, docs=3, rounds=1, relative_cut=1))
    all_three = moved_cosines(RocchioParams(True, beta=0.6, docs=3))
    assert best_only != all_three  # the cut reaches search: some query moved elsewhere


def test_cli_feedback_sets_rounds_and_keeps_them(tmp_db: akindb.Database) -> None:
    col = tmp_db.create_collection("r", model=HashEmbedder())
    col.add(list(DOCS.values()), ids=list(DOCS))
    base = ["--db", str(tmp_db.path), "-c", "r"]
    r = runner.invoke(app, ["feedback", "--rounds", "2", "--relative-cut", "0.5", *base])
    assert r.exit_code == 0, r.output
    assert "2 round(s), relative cut 0.5" in r.output
    got = load_settings(tmp_db.conn, col.config.id).rocchio
    assert (got.rounds, got.relative_cut) == (2, 0.5)
    # changing another Rocchio option keeps the rounds and the cut
    r = runner.invoke(app, ["feedback", "--beta", "0.3", *base])
    assert r.exit_code == 0, r.output
    got = load_settings(tmp_db.conn, col.config.id).rocchio
    assert (got.beta, got.rounds, got.relative_cut) == (0.3, 2, 0.5)
    r = runner.invoke(app, ["feedback", "--rounds", "9", *base])
    assert r.exit_code != 0
    r = runner.invoke(app, ["feedback", "--json", *base])
    assert '"rounds": 2' in r.output
