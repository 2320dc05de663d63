"""Re-tuning never lowers recall below the last measured target.

A tuning on real queries (``Collection.tune(queries=...)``) can pick, say, ``ef_search=48``
for recall 0.95; a later ``akindb tune`` without queries samples stored vectors, which are
easier queries, and would pick ``ef_search=10`` and silently undo the good setting. So the
knob chosen by a re-tune is never below the value the last tuning (same kind and knob) chose
when the target asked now is at least as high as that tuning's. To go lower, ask for a lower
``target_recall``: then the earlier target no longer applies. The report says when the floor
held (``report["kept"]``, with the measurement it comes from, carried over re-tunes).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

Point = dict[str, Any]


def last_tuning(path: Path) -> dict[str, Any] | None:
    """The saved record of the last tuning, or None (missing or unreadable)."""
    try:
        rec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return rec if isinstance(rec, dict) else None


def floor_value(prev: dict[str, Any] | None, kind: str, knob: str, target: float) -> int | None:
    """The lowest knob value a re-tune for ``target`` may choose, or None (no floor).

    >>> rec = {"kind": "hnsw", "knob": "ef_search", "target_recall": 0.95,
    ...        "after": {"value": 48}}
    >>> floor_value(rec, "hnsw", "ef_search", 0.95), floor_value(rec, "hnsw", "ef_search", 0.9)
    (48, None)
    >>> floor_value(rec, "hnsw", "ef_search", 0.99)  # asking for more never lowers it either
    48
    """
    if prev is None or prev.get("kind") != kind or prev.get("knob") != knob:
        return None
    try:
        prev_target = float(prev["target_recall"])
        value = int(prev["after"]["value"])
    except (KeyError, TypeError, ValueError):
        return None
    return value if target >= prev_target else None


def never_lower(path: Path, report: dict[str, Any], target: float, chosen: Point,
                measure: Callable[[int], Point]) -> Point:
    """``chosen``, or the floor's setting (measured with ``measure``) when ``chosen`` is below
    it; sets ``report["kept"]`` to say why."""
    prev = last_tuning(path)
    floor = floor_value(prev, str(report["kind"]), str(report["knob"]), target)
    if floor is None or int(chosen["value"]) >= floor:
        return chosen
    assert prev is not None
    origin = (prev.get("kept") or {}).get("from") or {
        "at": prev.get("at"), "n_queries": prev.get("n_queries"),
        "queries": prev.get("queries", "sampled"), "target_recall": prev["target_recall"],
    }
    report["kept"] = {
        "value": floor, "would_have_chosen": int(chosen["value"]), "from": origin,
        "reason": (
            f"the tuning of {origin['at']} (on {origin['n_queries']} {origin['queries']} "
            f"queries) chose {floor} for target {origin['target_recall']}; a re-tune does not "
            "lower recall below a measured target: pass a lower target_recall to go lower"
        ),
    }
    return measure(floor)
