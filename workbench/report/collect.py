"""Reading run directories (never models) into per-language scores and paired predictions.

A run contributes its own system; a cascade run that carries a ``gold_text`` section also
contributes the gold-text upper bound as system ``<system>:gold``.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from workbench.io import read_json
from workbench.runs import METRICS, PREDICTIONS

GOLD_SUFFIX = ":gold"
log = logging.getLogger(__name__)


@dataclass
class Run:
    """One finished run, as the report sees it."""

    path: Path
    system: str
    protocol: str
    sources: tuple[str, ...] | None
    seed: int
    splits: dict  # split -> {"overall":.., "per_language": {lang: {accuracy, macro_f1, n}}}

    @property
    def group(self) -> str:
        """The table a run belongs to: ``in_language`` runs of all sources share one table."""
        if self.protocol == "zero_shot" and self.sources:
            return f"zero_shot-{'+'.join(self.sources)}"
        return self.protocol

    def predictions(self) -> list[dict]:
        from workbench.io import read_jsonl

        path = self.path / PREDICTIONS
        return read_jsonl(path) if path.is_file() else []


def _gold_splits(metrics: dict) -> dict | None:
    gold = metrics.get("gold_text")
    if not isinstance(gold, dict):
        return None
    return gold.get("splits", gold) if all(isinstance(v, dict) for v in gold.get("splits", gold).values()) else None


def find_runs(root: str | Path) -> list[Run]:
    """Every finished run below ``root`` (setup steps, which have no ``system``, are skipped)."""
    runs = []
    for metrics_path in sorted(Path(root).rglob(METRICS)):
        try:
            metrics = read_json(metrics_path)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            # a damaged file must not sink the whole report: name it and leave the run out
            log.warning("report: skipped unreadable %s (%s)", metrics_path, error)
            continue
        if not isinstance(metrics, dict) or "system" not in metrics or "splits" not in metrics:
            continue
        sources = tuple(metrics["sources"]) if metrics.get("sources") else None
        base = dict(
            path=metrics_path.parent, protocol=metrics["protocol"], sources=sources, seed=int(metrics.get("seed", 0))
        )
        runs.append(Run(system=metrics["system"], splits=metrics["splits"], **base))
        gold = _gold_splits(metrics)
        if gold:
            runs.append(Run(system=metrics["system"] + GOLD_SUFFIX, splits=gold, **base))
    return runs


def language_scores(runs: list[Run], split: str, metric: str = "accuracy") -> dict:
    """``{group: {system: {language: [score per seed]}}}``.

    In ``in_language`` runs only the source language's own score counts (a run trained on
    L is the in-language result for L).
    """
    table: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    for run in runs:
        per_language = run.splits.get(split, {}).get("per_language", {})
        for language, scores in per_language.items():
            if run.protocol == "in_language" and run.sources and language not in run.sources:
                continue
            table[run.group][run.system][language].append(scores[metric])
    return table


def paired_predictions(runs: list[Run], split: str) -> dict:
    """``{(group, seed, sources): {system: {item id: record}}}`` for item-by-item comparisons."""
    paired: dict = defaultdict(dict)
    for run in runs:
        if run.system.endswith(GOLD_SUFFIX):
            continue
        records = {r["id"]: r for r in run.predictions() if r.get("split") == split}
        if records:
            paired[(run.group, run.seed, run.sources)][run.system] = records
    return paired


def is_e2e(system: str) -> bool:
    return not system.startswith(("ca-", "hybrid")) and not system.endswith(GOLD_SUFFIX)


def is_cascade(system: str) -> bool:
    return system.startswith("ca-") and not system.endswith(GOLD_SUFFIX)
