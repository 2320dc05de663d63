"""Child process for the crash and multi-process tests: adds documents and acknowledges each
committed batch on stdout (``ACK batch doc_id...``). Run as ``python _writer.py DB MODE N``."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from conftest import HashEmbedder

import akindb
from akindb.text.chunking import ChunkingParams

WORDS = [
    "river",
    "mountain",
    "library",
    "engine",
    "violin",
    "harbor",
    "pepper",
    "tunnel",
    "glacier",
    "orchard",
    "lantern",
    "compass",
    "meadow",
    "falcon",
    "pottery",
    "canyon",
    "ember",
    "quartz",
    "saddle",
    "thicket",
]


def doc_text(batch: int, j: int) -> str:
    """Deterministic multi-chunk text for document j of a batch."""
    rng = np.random.default_rng(batch * 1000 + j)
    paras = []
    for _ in range(4):
        paras.append(" ".join(rng.choice(WORDS, size=30).tolist()) + ".")
    return f"Document {batch}-{j}.\n\n" + "\n\n".join(paras)


def main() -> None:
    db_path, mode, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    db = akindb.open(db_path)
    col = db.get_or_create_collection(
        "crash", model=HashEmbedder(), chunking=ChunkingParams(max_tokens=40, overlap_tokens=0)
    )
    start = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    for b in range(start, start + n):
        ids = [f"b{b}-{j}" for j in range(3)]
        texts = [doc_text(b, j) for j in range(3)]
        col.add(texts, ids=ids, metadatas=[{"batch": b, "size": 3}] * 3)
        sys.stdout.write(" ".join(["ACK", str(b), *ids]) + "\n")  # one write per line
        sys.stdout.flush()
        if mode == "crash" and b % 4 == 3:
            col.flush()
    db.close()
    print("DONE", flush=True)


if __name__ == "__main__":
    main()
