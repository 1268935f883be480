"""Checking items before training: fail naming the item, or skip it and count why.

The checks of a signal live with its modality (audio: :mod:`speech.checks`); this module holds
what every check shares.

``on_bad_item="raise"`` (the default) stops at the first bad item with a
:class:`~workbench.errors.DataError` that names it; ``"skip"`` drops bad items, and the
:class:`SkipReport` says how many and why, so nothing is dropped silently.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from workbench.errors import DataError

log = logging.getLogger(__name__)

OnBadItem = Literal["raise", "skip"]
T = TypeVar("T")


@dataclass
class SkipReport:
    """Items skipped, by reason (the DataError field and problem)."""

    skipped: dict[str, str] = field(default_factory=dict)  # where -> reason

    def add(self, error: DataError) -> None:
        self.skipped[error.where] = f"{error.field}: {error.problem}"

    @property
    def count(self) -> int:
        return len(self.skipped)

    def summary(self) -> dict:
        reasons = Counter(reason.split(" (", 1)[0] for reason in self.skipped.values())
        return {"skipped": self.count, "by_reason": dict(reasons), "items": dict(list(self.skipped.items())[:50])}

    def log(self, what: str) -> None:
        if self.count:
            log.warning("%s: skipped %d bad item(s): %s", what, self.count, self.summary()["by_reason"])


def merge_skipped(*summaries: dict | None) -> dict:
    """One :meth:`SkipReport.summary` from several (rows skipped while reading, then audio skipped)."""
    merged = {"skipped": 0, "by_reason": {}, "items": {}}
    for summary in summaries:
        if not summary:
            continue
        merged["skipped"] += summary.get("skipped", 0)
        for reason, n in summary.get("by_reason", {}).items():
            merged["by_reason"][reason] = merged["by_reason"].get(reason, 0) + n
        merged["items"].update(summary.get("items", {}))
    return merged


def keep_good(values: Iterable[T], check: Callable[[T], object], on_bad_item: OnBadItem, report: SkipReport) -> list[T]:
    """Values whose ``check`` raises no DataError; bad ones raise or are counted in ``report``."""
    kept = []
    for value in values:
        try:
            check(value)
        except DataError as error:
            if on_bad_item == "raise":
                raise
            report.add(error)
            continue
        kept.append(value)
    return kept
