"""Write the golden index files (run once per new format; keep old ones forever).

    python tests/index/golden/make_golden.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from akindb.core.vectors import normalize_rows
from akindb.index.registry import make_index
from akindb.types import Metric

HERE = Path(__file__).resolve().parent


def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(2024)
    vecs = normalize_rows(rng.normal(size=(64, 8)).astype(np.float32))
    return np.arange(100, 164, dtype=np.int64), vecs


GOLDEN_FILES: dict[str, tuple[str, dict[str, str]]] = {
    "flat-v1.idx": ("flat", {}),
    "hnsw-v1.idx": ("hnsw", {}),  # hnswlib state, before the faiss engine; read by conversion
    "hnsw-v2.idx": ("hnsw", {}),
    "lsh-v1.idx": ("lsh", {}),  # 16 tables x 12 bits were the defaults then
    "lsh-v2.idx": ("lsh", {}),  # shape sized from the collection, stored in the body
    "quantized-int8-v1.idx": ("quantized", {"codes": "int8"}),
    "quantized-binary-v1.idx": ("quantized", {"codes": "binary"}),
}
"""File name -> (kind, params). Existing files are never rewritten: they are the record."""


if __name__ == "__main__":
    labels, vecs = data()
    for name, (kind, params) in GOLDEN_FILES.items():
        if (HERE / name).exists():
            continue
        idx = make_index(kind, 8, Metric.COSINE, params)
        idx.add(labels, vecs)
        idx.remove(labels[:4])
        idx.save(HERE / name, collection_uuid="golden", built_seq=68)
        print("wrote", name)
