"""Loaders (files to text) and chunking (text to passages that fit the model's window).

The names below are imported on first use (PEP 562): a collection's config needs only
``chunking``, and a search should not pay for the loaders' ``html.parser`` and friends.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from akindb.text.chunking import KINDS, ChunkingParams, CountTokens, chunk_text
    from akindb.text.loaders import (
        SKIP_REASONS,
        LoadedText,
        iter_files,
        kind_of,
        load_file,
        load_text,
    )

__all__ = [
    "KINDS",
    "SKIP_REASONS",
    "ChunkingParams",
    "CountTokens",
    "LoadedText",
    "chunk_text",
    "iter_files",
    "kind_of",
    "load_file",
    "load_text",
]

_CHUNKING = ("KINDS", "ChunkingParams", "CountTokens", "chunk_text")


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'akindb.text' has no attribute {name!r}")
    home = "akindb.text.chunking" if name in _CHUNKING else "akindb.text.loaders"
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value
