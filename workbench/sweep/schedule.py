"""Which point a free worker runs next, and with how many CPU threads.

A sweep's critical path is its setup steps (the recognizers every cascade point needs): they
go first. Points that need no setup step (E2E) come next and fill the workers while the
recognizers train, instead of waiting behind a barrier for the slowest setup step; a point
that reads a setup step's run directory (a cascade point naming the recognizer checkpoint)
starts once that step has ended. The short cascade points come last, so they fill the tail
of the sweep. Within each group the sweep file's order is kept.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from workbench.sweep.spec import Point, reads


def dependencies(point: Point, setup: Iterable[Point]) -> list[Point]:
    """The setup steps whose run directory appears in ``point``'s arguments (e.g. a checkpoint path)."""
    return [step for step in setup if reads(point, step)]


def priority_order(setup: list[Point], points: list[Point]) -> list[Point]:
    """Setup steps, then points needing none, then points needing a setup step (stable within each)."""
    free = [p for p in points if not dependencies(p, setup)]
    dependent = [p for p in points if dependencies(p, setup)]
    return [*setup, *free, *dependent]


def next_ready(pending: list[Point], not_ended: set[Point], setup: list[Point]) -> Point | None:
    """The first pending point none of whose setup steps is still pending or running; None if all wait."""
    for point in pending:
        if not any(step in not_ended for step in dependencies(point, setup)):
            return point
    return None


def thread_share(workers: int) -> int:
    """CPU threads per worker: the cores this process may use, divided among the workers (at least 1)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, cores // max(1, workers))
