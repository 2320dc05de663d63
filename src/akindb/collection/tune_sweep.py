"""The sweep ``tune`` runs: the knob's coarse grid from cheap to expensive, then a bisection
between the last setting that missed the target and the first that met it.

The coarse grid doubles roughly every two steps (HNSW ef_search 32, 40, 48, 64, 96, ...), so
its first passing setting can cost up to 1.5x the cheapest that would pass: at 100,000 MiniLM
vectors ef_search=48 met 0.95 and 40 did not, with 64 the next grid step. Bisecting the gap
(integer settings, until it is at most 1/16 of the passing value) keeps the chosen setting
within ~6 % of the cheapest passing one the measurement can tell apart, for a few extra
measurements of the same queries on the same side graph (searches only, no build).
Bisection stops early once the two ends' recalls differ by less than the margin
(``resolvable``): at 100k, bisecting 40-48 to 42 by that noise chose a setting the real
queries put at 0.9497 in two of six samples (docs/benchmarks.md, session 8).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

Point = dict[str, Any]
Progress = Callable[[str, int, int], None]


def passes(point: Point, target: float) -> bool:
    """Met with a margin: the recall's prediction ``bound`` (``tune_queries.bound``; else the
    lower end of its 95 % interval) reaches the target."""
    return bool(point.get("bound", point["recall_ci"][0]) >= target)


def resolvable(passing: Point, failing_recall: float) -> bool:
    """Whether a setting between a failing and a passing one can be told apart from both:
    their recalls differ by more than the margin (the passing point's recall minus its
    bound). Below that, a setting in between passes or fails by the noise of the sample, and
    each extra try is one more chance for a lucky pass."""
    margin = float(passing["recall"]) - float(passing.get("bound", passing["recall_ci"][0]))
    return float(passing["recall"]) - failing_recall > margin


def sweep(grid: Sequence[int], point_at: Callable[[int], Point], target: float,
          progress: Progress | None = None) -> tuple[Point | None, list[Point]]:
    """(the cheapest passing point found, or None; every point measured, by knob value).

    >>> table = {v: v / 100 for v in range(0, 101)}
    >>> at = lambda v: {"value": v, "recall": table[v], "recall_ci": [table[v]] * 2}
    >>> chosen, seen = sweep([10, 20, 40, 80], at, 0.5)
    >>> chosen["value"], [p["value"] for p in seen]
    (50, [10, 20, 40, 45, 47, 50, 60, 80])
    """
    points: list[Point] = []
    chosen: Point | None = None
    below: int | None = None
    for i, value in enumerate(grid):
        if progress is not None:
            progress("settings", i, 0)
        point = point_at(value)
        points.append(point)
        if passes(point, target):
            chosen = point
            break
        below = value
    if chosen is not None and below is not None:
        hi, lo, lo_recall = int(chosen["value"]), below, float(points[-2]["recall"])
        while hi - lo > max(1, hi // 16) and resolvable(chosen, lo_recall):
            mid = (lo + hi) // 2
            if progress is not None:
                progress("settings", len(points), 0)
            point = point_at(mid)
            points.append(point)
            if passes(point, target):
                chosen, hi = point, mid
            else:
                lo, lo_recall = mid, float(point["recall"])
    return chosen, sorted(points, key=lambda p: int(p["value"]))
