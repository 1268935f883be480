"""Checking items before training: fail naming the item, or skip it and count why.

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
from workbench.items import Item

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


def check_audio_item(item: Item, max_seconds: float | None = None) -> None:
    """Raise a DataError naming the item if its audio cannot be used."""
    from workbench.audio import load_audio  # torch-heavy: imported only when audio is checked

    if not item.audio:
        raise DataError(f"item '{item.id}'", "audio", "no audio path")
    load_audio(item.audio, where=f"item '{item.id}'", max_seconds=max_seconds)


def check_audio_items(
    items: list[Item], on_bad_item: OnBadItem = "raise", report: SkipReport | None = None
) -> list[Item]:
    """Read every item's audio once; see the module doc for ``on_bad_item``."""
    report = report if report is not None else SkipReport()
    return keep_good(items, check_audio_item, on_bad_item, report)
