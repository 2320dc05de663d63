"""Read real queries for ``akindb tune --queries FILE``.

Stored vectors are easier queries than new ones, so a tuning on them is optimistic; a file of
real queries gives the recall users will see. A ``.npy`` file holds query vectors (one row
each, the collection's dimension); any other file is text, one query per non-empty line,
embedded with the collection's pinned model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from akindb.collection import Collection
from akindb.errors import InvalidArgumentError
from akindb.index.base import F32


def load_queries(path: Path, col: Collection) -> F32:
    """Query vectors from ``path`` (see the module docstring)."""
    if not path.is_file():
        hint = " (the number of sampled queries is --n-queries)" if path.name.isdigit() else ""
        raise InvalidArgumentError(
            f"queries file {str(path)!r} not found{hint}; give a text file with one query per "
            "line or a .npy matrix of query vectors"
        )
    if path.suffix.lower() == ".npy":
        try:
            arr = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise InvalidArgumentError(f"cannot read {path} as a .npy matrix: {exc}") from None
        return np.asarray(arr, dtype=np.float32)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidArgumentError(
            f"cannot read {path} as UTF-8 text ({exc}); give one query per line or a .npy file"
        ) from None
    texts = [t.strip() for t in lines if t.strip()]
    if not texts:
        raise InvalidArgumentError(f"{path} holds no queries; write one query per line")
    return col.embedder.embed(texts)
