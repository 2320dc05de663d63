"""Where the quickstart's demo answers rank (issue 17, part 7), per pipeline variant.

Diagnostic only: the demo questions are never used to choose anything (every setting below was
chosen on the dev tasks, bench/feedback.py); this prints the rank of the answering section so
the strict xfail in tests/retrieval/test_demo_queries.py can state it.

    python bench/demo_rank.py        # builds bench/.cache/faq once (the FAQ, as the quickstart)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import akindb  # noqa: E402
from akindb.retrieval.feedback import RocchioParams, rocchio  # noqa: E402
from akindb.retrieval.fusion import FusionParams  # noqa: E402
from akindb.retrieval.rm3 import Rm3Params  # noqa: E402
from akindb.retrieval.settings import (  # noqa: E402
    RetrievalSettings,
    load_settings,
    save_settings,
    updated,
)
from tests.realdata import extract_pydocs  # noqa: E402
from tests.retrieval.test_demo_queries import FAQ  # noqa: E402

CACHE = REPO / "bench" / ".cache" / "faq"
DEMO = {
    "duplicate a list so that changing the duplicate leaves the original alone":
        "How do I copy an object in Python?",
    "why is my program slow and how can I speed it up":
        "My program is too slow. How do I speed it up?",
}


def rank(col: akindb.Collection, q: str, section: str, **kw: object) -> int | None:
    hits = col.search(q, k=30, **kw)  # type: ignore[arg-type]
    return next((i for i, h in enumerate(hits, 1) if section in h.text), None)


def main() -> None:
    fresh = not (CACHE / "db").exists()
    db = akindb.open(CACHE / "db")
    if fresh:
        folder = extract_pydocs(CACHE / "docs", FAQ)
        db.create_collection("default").add_files([folder / "faq"])
    col = db.get_collection("default")
    with col.parts.lock:
        base = load_settings(col.parts.store.conn, col.config.id)
    out: dict[str, dict[str, int | None]] = {}
    off = RocchioParams(enabled=False)
    variants: dict[str, tuple[Rm3Params, dict[str, object]]] = {
        "vector": (Rm3Params(), {"mode": "vector"}),
        "keyword": (Rm3Params(), {"mode": "keyword"}),
        "hybrid (default)": (Rm3Params(), {}),
        "hybrid, 300 candidates": (Rm3Params(), {"fusion": FusionParams(
            **{**base.fusion.to_dict(), "candidates": 300})}),
        "hybrid + rm3 10/10/0.5": (Rm3Params(True, 10, 10, 0.5), {}),
        "keyword + rm3 10/10/0.5": (Rm3Params(True, 10, 10, 0.5), {"mode": "keyword"}),
    }
    try:
        for name, (r, kw) in variants.items():
            save_settings(col.parts.store.conn, col.parts.db_file, col.config.id,
                          updated(base, rm3=r, rocchio=off))
            out[name] = {q[:30]: rank(col, q, s, **kw) for q, s in DEMO.items()}
        save_settings(col.parts.store.conn, col.parts.db_file, col.config.id,
                      RetrievalSettings())  # what a collection created today records
        out["hybrid, today's default (session 7: rocchio 0.4/5, 3 rounds, cut 0.8)"] = {
            q[:30]: rank(col, q, s) for q, s in DEMO.items()}
        save_settings(col.parts.store.conn, col.parts.db_file, col.config.id,
                      updated(RetrievalSettings(), rocchio=RocchioParams(True, 0.4, 5)))
        out["hybrid, session-6 default (rocchio 0.4/5, convex 0.6)"] = {
            q[:30]: rank(col, q, s) for q, s in DEMO.items()}
        for beta, m in ((0.3, 3), (0.3, 5), (0.3, 10), (0.4, 10), (0.5, 10)):
            # dense feedback on the fused ranking, re-scoring the candidates (session 6)
            save_settings(col.parts.store.conn, col.parts.db_file, col.config.id,
                          updated(base, rm3=Rm3Params(), rocchio=RocchioParams(True, beta, m)))
            out[f"hybrid + rocchio (fused) {beta:g}/{m}"] = {
                q[:30]: rank(col, q, s) for q, s in DEMO.items()}
        for beta, m in ((0.3, 3), (0.5, 5)):  # dense Rocchio (akindb.retrieval.feedback)
            res: dict[str, int | None] = {}
            for q, sec in DEMO.items():
                qv = col.embedder.embed([q], role="query")[0]
                labels, _ = col.parts.live.search(qv[None, :], m)
                with col.parts.lock:
                    stored = col.parts.store.vectors_by_chunk([int(c) for c in labels[0]
                                                               if c >= 0])
                hits = col.search_vector(rocchio(qv, list(stored.values()), beta), 30)
                res[q[:30]] = next((i for i, h in enumerate(hits, 1) if sec in h.text), None)
            out[f"vector + dense prf {beta:g}/{m}"] = res
    finally:
        save_settings(col.parts.store.conn, col.parts.db_file, col.config.id, base)
    print(json.dumps({"chunks": col.count_chunks(), "rank (None: not in top 30)": out}, indent=1))
    db.close()


if __name__ == "__main__":
    main()
