"""``IN (?, ?, ...)`` parameter lists in a few lengths, so a connection's statements stay few.

Why: every distinct SQL text is its own prepared statement, and Python's ``sqlite3`` keeps the
last 128 per connection. An ``IN`` list of n parameters compiles to ~0.15 KB per parameter
(136 KB at 900, measured with ``sqlite3_db_status``). Built for the exact length of each list,
the lists of a long-running process (the ids of each log catch-up, of each search's hits, of
each hybrid search's candidates) filled that cache with a statement per length seen: a soak
reader's SQLite memory rose ~0.5 MB a minute for the whole 10 minutes, towards ~17 MB per
connection, the last "RSS not flat" of issue 13 (docs/reliability.md, session 6). Padded to
one of a few lengths by repeating the last value (``IN`` ignores duplicates, so the rows are
the same), a query shape has at most ``len(LENGTHS)`` statements (~0.4 MB in all).

Lists of up to ``EXACT_UP_TO`` values keep their length: the single-query hot path (ten hits)
binds nothing extra, and those statements are small.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")

MAX_IN = 900
"""Values per list at most (under SQLite's default host-parameter limit); callers batch."""

EXACT_UP_TO = 16
LENGTHS = (*range(1, EXACT_UP_TO + 1), 32, 64, 128, 256, 512, MAX_IN)
"""Every list length a statement is prepared for."""


def padded_length(n: int) -> int:
    """The smallest of ``LENGTHS`` that holds ``n`` values; ``n`` itself when it is at most
    ``EXACT_UP_TO`` or over ``MAX_IN`` (a caller that does not batch keeps its own limit)."""
    if n <= EXACT_UP_TO or n > MAX_IN:
        return n
    size = 2 * EXACT_UP_TO
    while size < n:
        size *= 2
    return min(size, MAX_IN)


def padded(values: Sequence[T]) -> list[T]:
    """``values`` with the last repeated up to ``padded_length`` (an empty list stays so)."""
    out = list(values)
    if out:
        out.extend([out[-1]] * (padded_length(len(out)) - len(out)))
    return out


def marks(values: Sequence[object]) -> str:
    """``"?,?,..."`` for a list already ``padded``."""
    return ",".join("?" * len(values))


def batches(values: Sequence[T], size: int = MAX_IN) -> list[list[T]]:
    """``values`` cut into lists of at most ``size``, each ``padded``."""
    return [padded(values[i : i + size]) for i in range(0, len(values), size)]
