"""SpeechTaxi-style tables: languages x systems per protocol, mean +- std over seeds (in %)."""

from __future__ import annotations

import csv
import io
import statistics

from workbench.report.collect import GOLD_SUFFIX, is_cascade, is_e2e

AVERAGE = "avg"
TARGET_AVERAGE = "avg (targets)"


def system_order(systems) -> list[str]:
    """E2E first, then cascades, hybrids, and the gold-text upper bounds last."""

    def rank(name: str) -> tuple[int, str]:
        if is_e2e(name):
            return 0, name
        if is_cascade(name):
            return 1, name
        if name.startswith("hybrid"):
            return 2, name
        return 3, name

    return sorted(systems, key=rank)


def mean_std(values: list[float]) -> tuple[float, float]:
    if not values:
        return float("nan"), float("nan")
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def group_sources(group: str) -> list[str]:
    """``zero_shot-eng+deu`` -> ``["eng", "deu"]``; other groups have no fixed source."""
    return group.split("-", 1)[1].split("+") if group.startswith("zero_shot-") else []


def averages(per_language: dict[str, list[float]], sources: list[str]) -> dict[str, list[float]]:
    """Per-seed averages over languages (and over non-source targets for zero-shot)."""
    out = {}
    seeds = max((len(v) for v in per_language.values()), default=0)

    def per_seed(langs):
        rows = [per_language[lang] for lang in langs if len(per_language[lang]) == seeds]
        return [statistics.fmean(r[s] for r in rows) for s in range(seeds)] if rows else []

    out[AVERAGE] = per_seed(sorted(per_language))
    if sources:
        out[TARGET_AVERAGE] = per_seed([lang for lang in sorted(per_language) if lang not in sources])
    return out


def table_rows(group: str, by_system: dict[str, dict[str, list[float]]]) -> tuple[list[str], list[list]]:
    """Header and rows ``[language, (mean, std, n_seeds) per system]`` for one protocol group."""
    systems = system_order(by_system)
    sources = group_sources(group)
    languages = sorted({lang for per_language in by_system.values() for lang in per_language})
    stats = {system: {**by_system[system], **averages(by_system[system], sources)} for system in systems}
    row_names = languages + [AVERAGE] + ([TARGET_AVERAGE] if sources else [])
    rows = []
    for name in row_names:
        label = f"{name}*" if name in sources else name
        rows.append([label] + [(*mean_std(stats[s].get(name, [])), len(stats[s].get(name, []))) for s in systems])
    return ["language"] + systems, rows


def fmt(cell: tuple[float, float, int]) -> str:
    mean, std, n = cell
    if n == 0 or mean != mean:  # NaN
        return "–"
    return f"{100 * mean:.1f}" if n == 1 else f"{100 * mean:.1f} ± {100 * std:.1f}"


def markdown_table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        lines.append("| " + " | ".join([row[0]] + [fmt(c) for c in row[1:]]) + " |")
    return "\n".join(lines)


def csv_rows(group: str, split: str, header: list[str], rows: list[list]) -> list[dict]:
    out = []
    for row in rows:
        for system, (mean, std, n) in zip(header[1:], row[1:], strict=True):
            out.append(
                {
                    "split": split,
                    "protocol": group,
                    "language": row[0],
                    "system": system,
                    "accuracy_mean": round(mean, 4) if n else "",
                    "accuracy_std": round(std, 4) if n else "",
                    "seeds": n,
                    "upper_bound": system.endswith(GOLD_SUFFIX),
                }
            )
    return out


def to_csv(rows: list[dict]) -> str:
    if not rows:
        return ""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()
