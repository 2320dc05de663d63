"""Loaders (files to text) and chunking (text to passages that fit the model's window)."""

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
