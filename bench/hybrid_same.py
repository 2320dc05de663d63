"""Same answers? Dump every hybrid hit list of a BEIR split, then compare two dumps exactly.

A latency change to the hybrid pipeline must not change one answer (issue 17). This writes,
for each query of the split, the hits of several searches (chunk ids, document ids, scores,
distances and, where asked, the whole explanation) through the public API, with the
collection's settings set to today's defaults (restored after):

* ``default`` and ``default+explain``: the default pipeline;
* ``feedback-off``: dense feedback off; ``one-round``: session 6's single Rocchio round;
* ``keyword``: BM25 alone.

Run it with two trees (``PYTHONPATH=<tree>/src``) and compare; floats are written by ``repr``
(JSON), so equal files mean equal bits::

    PYTHONPATH=/tmp/base/src python bench/hybrid_same.py --db DB --split dev --out before.json
    PYTHONPATH=src python bench/hybrid_same.py --db DB --split dev --out after.json --copy
    python bench/hybrid_same.py --compare before.json after.json

``--copy`` builds ``keyword_memory``'s copy of the keyword index before the first search, so
every query of the run is answered from it (a tree without that module ignores it); the run
says at its end whether a copy was held.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import akindb
from akindb.eval.beir import load_beir
from akindb.retrieval.feedback import RocchioParams
from akindb.retrieval.request import SearchMode
from akindb.retrieval.settings import RetrievalSettings, load_settings, save_settings, updated

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ir" / "nfcorpus"


def _hit(h: akindb.Hit, explain: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"chunk": h.chunk_id, "id": h.id, "score": h.score,
                           "distance": h.distance}
    if explain and h.explanation is not None:
        out["explain"] = json.loads(json.dumps(dataclasses.asdict(h.explanation), default=str))
    return out


def dump(db_dir: str, collection: str, data: Path, split: str, k: int, copy: bool
         ) -> dict[str, Any]:
    db = akindb.open(db_dir, create=False)
    col = db.get_collection(collection)
    conn = col.parts.store.conn
    if copy:
        try:
            from akindb.retrieval import keyword_memory
        except ImportError:
            pass
        else:
            with col.parts.lock:
                assert keyword_memory.ready(conn), "no copy of the keyword index was built"
    with col.parts.lock:
        before = load_settings(conn, col.config.id)
    base = RetrievalSettings()
    variants = {
        "default": base, "default+explain": base,
        "feedback-off": updated(base, rocchio=RocchioParams(enabled=False)),
        "one-round": updated(base, rocchio=RocchioParams(True, 0.4, 5)),
        "keyword": base,
    }
    queries = load_beir(data, split).queries
    out: dict[str, Any] = {}
    try:
        for name, settings in variants.items():
            save_settings(conn, col.parts.db_file, col.config.id, settings)
            explain = name.endswith("+explain")
            mode: SearchMode = "keyword" if name == "keyword" else "hybrid"
            out[name] = {q: [_hit(h, explain) for h in col.search(text, k, mode=mode,
                                                                   explain=explain)]
                         for q, text in queries.items() if text.strip()}
    finally:
        if "akindb.retrieval.keyword_memory" in sys.modules:  # did the copy answer?
            from akindb.retrieval import keyword_memory as km
            st = km._state(conn)
            held = st is not None and st.postings is not None
            print(f"keyword_memory: a copy of the keyword index held: {held}", file=sys.stderr)
        save_settings(conn, col.parts.db_file, col.config.id, before)
        db.close()
    return out


def compare(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    res: dict[str, Any] = {}
    for name in a:
        qs = a[name]
        same = sum(1 for q in qs if b.get(name, {}).get(q) == qs[q])
        res[name] = {"lists": len(qs), "identical": same}
    res["all_identical"] = all(v["lists"] == v["identical"] for v in res.values()
                               if isinstance(v, dict))
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db")
    ap.add_argument("--collection", default="beir-nfcorpus")
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--split", default="dev")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--copy", action="store_true",
                    help="build keyword_memory's copy of the keyword index first, so that it "
                         "answers every query (a tree without that module ignores this)")
    ap.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"))
    args = ap.parse_args()
    if args.compare:
        a, b = (json.loads(p.read_text()) for p in args.compare)
        res = compare(a, b)
        print(json.dumps(res, indent=1))
        sys.exit(0 if res["all_identical"] else 1)
    assert args.db and args.out, "--db and --out (or --compare)"
    args.out.write_text(json.dumps(dump(args.db, args.collection, args.data, args.split,
                                        args.k, args.copy)))



if __name__ == "__main__":
    main()
