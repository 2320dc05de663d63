"""Where one search's time goes, stage by stage, for benchmarks (``bench/hybrid.py --stages``).

Off unless a caller records: ``mark`` is then one context-variable read. Inside ``recording()``
each ``mark(name)`` adds the time since the previous mark (or since ``recording`` began) to
``name``, so the stages of one call add up to its wall time. Library code never prints; the
caller reads the dict.

>>> with recording() as t:
...     mark("a"); mark("b")
>>> sorted(t)
['a', 'b']
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_CURRENT: ContextVar[dict[str, float] | None] = ContextVar("akindb_stages", default=None)
_LAST = "\0last"


def mark(name: str) -> None:
    """Charge the time since the last mark to stage ``name`` (nothing unless recording)."""
    rec = _CURRENT.get()
    if rec is None:
        return
    now = time.perf_counter()
    rec[name] = rec.get(name, 0.0) + now - rec[_LAST]
    rec[_LAST] = now


@contextmanager
def recording() -> Iterator[dict[str, float]]:
    """Record the marks made inside (seconds per stage); the dict is filled in place."""
    rec: dict[str, float] = {_LAST: time.perf_counter()}
    token = _CURRENT.set(rec)
    try:
        yield rec
    finally:
        _CURRENT.reset(token)
        rec.pop(_LAST, None)
