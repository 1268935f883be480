"""The comparison report of a sweep (or any folder of runs): tables, tests, agreement, hybrid, plots.

Writes ``<root>/report/``: ``report.md`` (everything, readable), ``table_<split>.csv``,
``significance.csv``, ``agreement.csv``, ``heatmap_<system>.png``, ``protocol_averages.png``
and ``summary.json``.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from pathlib import Path

from workbench.io import atomic_write_json, atomic_write_text
from workbench.report import plots, stats, tables
from workbench.report.collect import find_runs, is_cascade, is_e2e, language_scores, paired_predictions

SPLITS = ("test", "test_unseen")


def _in_scope(group: str, sources, record: dict) -> bool:
    # an in-language run is the in-language result for its own source language only
    return group != "in_language" or not sources or record["language"] in sources


def paired_outcomes(paired: dict) -> dict:
    """``{(group, E, C, language): (correct E list, correct C list, hybrid correct list per seed)}``."""
    outcomes: dict = defaultdict(lambda: ([], [], defaultdict(list)))
    for (group, seed, sources), by_system in paired.items():
        for e2e in filter(is_e2e, by_system):
            for cascade in filter(is_cascade, by_system):
                a, b = by_system[e2e], by_system[cascade]
                for item_id in sorted(a.keys() & b.keys()):
                    ra, rb = a[item_id], b[item_id]
                    if not _in_scope(group, sources, ra):
                        continue
                    mixed = stats.confidence_weighted(ra["probs"], rb["probs"])
                    hybrid_pred = max(range(len(mixed)), key=mixed.__getitem__)
                    entry = outcomes[(group, e2e, cascade, ra["language"])]
                    entry[0].append(ra["pred"] == ra["label"])
                    entry[1].append(rb["pred"] == rb["label"])
                    entry[2][seed].append(hybrid_pred == ra["label"])
    return outcomes


def add_hybrids(scores: dict, outcomes: dict) -> None:
    """Score each E2E+cascade hybrid like any system: per language, one accuracy per seed."""
    for (group, e2e, cascade, language), (_, _, hybrid) in outcomes.items():
        name = f"hybrid:{e2e}+{cascade}"
        scores[group][name][language] = [statistics.fmean(hybrid[s]) for s in sorted(hybrid)]


def comparison_rows(outcomes: dict, split: str) -> tuple[list[dict], list[dict]]:
    significance, agreement = [], []
    for (group, e2e, cascade, language), (correct_e, correct_c, _) in sorted(outcomes.items()):
        counts = stats.agreement(correct_e, correct_c)
        low, high = stats.paired_bootstrap(correct_e, correct_c)
        n = len(correct_e)
        base = {"split": split, "protocol": group, "language": language, "e2e": e2e, "cascade": cascade, "n": n}
        significance.append(
            {
                **base,
                "acc_e2e": round(sum(correct_e) / n, 4),
                "acc_cascade": round(sum(correct_c) / n, 4),
                "only_e2e": counts["only_a"],
                "only_cascade": counts["only_b"],
                "mcnemar_p": float(f"{stats.mcnemar_exact(counts['only_a'], counts['only_b']):.3g}"),
                "diff_ci95": f"[{100 * low:.1f}, {100 * high:.1f}]",
            }
        )
        agreement.append({**base, **counts})
    return significance, agreement


def protocol_averages(scores: dict) -> dict[str, dict[str, tuple[float, float]]]:
    """Per protocol and system: mean +- std over seeds of the language average (zero-shot: targets)."""
    collected: dict = defaultdict(lambda: defaultdict(list))
    for group, by_system in scores.items():
        protocol = group.split("-", 1)[0]
        for system, per_language in by_system.items():
            avg = tables.averages(per_language, tables.group_sources(group))
            values = avg.get(tables.TARGET_AVERAGE) or avg[tables.AVERAGE]
            collected[protocol][system].extend(values)
    return {p: {s: tables.mean_std(v) for s, v in by_s.items()} for p, by_s in collected.items()}


def _md_list(rows: list[dict], keys: list[str]) -> str:
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(r[k]) for k in keys) + " |" for r in rows]
    return "\n".join(lines)


def build_report(root: str | Path, out: str | Path | None = None) -> Path:
    """Write the report of every finished run below ``root``; returns the report folder."""
    root = Path(root)
    out = Path(out) if out else root / "report"
    out.mkdir(parents=True, exist_ok=True)
    runs = find_runs(root)
    md = [
        f"# Comparison report: {root}",
        "",
        f"{len(runs)} result sets from finished runs (gold-text bounds included).",
    ]
    summary: dict = {"splits": {}}
    figures = []
    for split in SPLITS:
        scores = language_scores(runs, split)
        if not scores:
            continue
        outcomes = paired_outcomes(paired_predictions(runs, split))
        add_hybrids(scores, outcomes)
        csv_rows = []
        md += ["", f"## Accuracy (%) on `{split}`, mean ± std over seeds", ""]
        md += ["`*` marks the training language of a zero-shot table; `avg (targets)` averages the others."]
        md += ["`:gold` columns classify the gold transcript: the cascade's upper bound."]
        for group in sorted(scores):
            header, rows = tables.table_rows(group, scores[group])
            md += ["", f"### {group}", "", tables.markdown_table(header, rows)]
            csv_rows += tables.csv_rows(group, split, header, rows)
        atomic_write_text(out / f"table_{split}.csv", tables.to_csv(csv_rows))
        significance, agreement = comparison_rows(outcomes, split)
        atomic_write_text(out / f"significance_{split}.csv", tables.to_csv(significance))
        atomic_write_text(out / f"agreement_{split}.csv", tables.to_csv(agreement))
        if significance:
            md += ["", f"## E2E vs cascade on identical `{split}` items (pooled over seeds)", ""]
            md += ["McNemar's exact test on the discordant items; 95% paired-bootstrap interval of E2E − CA."]
            keys = ["protocol", "language", "e2e", "cascade", "n", "acc_e2e", "acc_cascade"]
            md += ["", _md_list(significance, keys + ["mcnemar_p", "diff_ci95"])]
            md += ["", f"### Agreement on `{split}`", ""]
            md += [
                _md_list(
                    agreement,
                    ["protocol", "language", "e2e", "cascade", "both_right", "only_a", "only_b", "both_wrong"],
                )
                .replace("only_a", "only E2E")
                .replace("only_b", "only CA")
            ]
        averages = protocol_averages(scores)
        summary["splits"][split] = {"protocol_averages": averages, "groups": sorted(scores)}
        if split == "test":
            systems = sorted({s for by_system in scores.values() for s in by_system})
            for system in systems:
                safe = system.replace(":", "_").replace("+", "_").replace("/", "_")
                path = plots.heatmap(scores, system, out / f"heatmap_{safe}.png")
                if path:
                    figures.append(path)
            bars = plots.protocol_bars(averages, out / "protocol_averages.png")
            if bars:
                figures.append(bars)
    if figures:
        md += ["", "## Figures", ""] + [f"![{p.stem}]({p.name})" for p in figures]
    atomic_write_text(out / "report.md", "\n".join(md) + "\n")
    atomic_write_json(out / "summary.json", summary)
    return out
