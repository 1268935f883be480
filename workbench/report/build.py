"""The comparison report of a sweep (or any folder of runs), built on one item-level table.

Writes ``<root>/report/`` (or ``out``):

- ``report.md``: "Check these runs" first, then per evaluated split the SpeechTaxi tables,
  the headroom ladder, E2E vs each cascade (per language and pooled over zero-shot
  targets), calibration, and the figures;
- CSV files: ``tuning.csv`` (each system's tuning budget), ``table_<split>.csv``, ``ladder_<split>.csv``,
  ``significance_<split>.csv``
  (per-language tests, with the agreement counts), ``agreement_<split>.csv``,
  ``pooled_<split>.csv``, ``unpaired_<split>.csv``, ``calibration.csv``, ``warnings.csv``;
- figures (each with a chance line): ``ladder_<group>.png``, ``reliability_<system>.png``,
  ``heatmap_<system>.png``, ``protocol_averages.png``;
- ``summary.json``: warnings, skipped runs, figure files by kind, protocol averages.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from workbench.io import atomic_write_json, atomic_write_text
from workbench.report import calibration, checks, compare, cost, plots, tables, transfer
from workbench.report.document import Document
from workbench.report.frame import load_runs

TUNING_NOTE = (
    "Optuna trials per system and protocol (`python -m workbench.tune`), each judged on `dev`; "
    "`untuned`: hand-set settings. Systems compare fairly only with equal budgets (see Check these runs)."
)


def write_csv(path: Path, frame: pd.DataFrame) -> Path:
    return atomic_write_text(path, frame.to_csv(index=False) if not frame.empty else "")


def modality_suffix(modality: str) -> str:
    """File-name suffix of a modality's figures: none for speech (the first modality), ``_image``..."""
    return "" if modality == "speech" else f"_{modality}"


def _figures(out: Path, split_scores: pd.DataFrame, ladder: pd.DataFrame, items: pd.DataFrame) -> dict:
    """Every figure of the ``test`` split, by kind; one per modality (a system name may recur in another)."""
    figures: dict[str, list[str]] = {"ladder": [], "reliability": [], "heatmap": [], "protocol_averages": []}
    for (modality, group), part in ladder.groupby(["modality", "protocol"]) if not ladder.empty else []:
        name = f"ladder_{plots.safe_name(group)}{modality_suffix(modality)}"
        path = plots.ladder(part, f"{group} ({modality})", out / f"{name}.png")
        figures["ladder"] += [path.name] if path else []
    evaluated = items[items["split"] == "test"]
    for (modality, system), part in evaluated.groupby(["modality", "system"]):
        name = f"reliability_{plots.safe_name(system)}{modality_suffix(modality)}.png"
        path = plots.reliability_diagram(part, system, out / name)
        figures["reliability"] += [path.name] if path else []
    for modality, scores in split_scores.groupby("modality"):
        suffix = modality_suffix(modality)
        predicting = scores[scores["path"].isin(["e2e", "cascade"])]
        for system in tables.system_order(predicting):
            path = plots.heatmap(scores, system, out / f"heatmap_{plots.safe_name(system)}{suffix}.png")
            figures["heatmap"] += [path.name] if path else []
        averages = tables.protocol_averages(scores)
        chance = 1 / scores["n_classes"].max()
        name = f"protocol_averages{suffix}.png"
        path = plots.protocol_bars(averages, tables.system_order(scores), out / name, chance)
        figures["protocol_averages"] += [path.name] if path else []
    return figures


def build_report(root: str | Path, out: str | Path | None = None, run_dirs: list | None = None) -> Path:
    """Write the report of every finished run below ``root`` (or of ``run_dirs``); returns the report folder."""
    root = Path(root)
    out = Path(out) if out else root / "report"
    out.mkdir(parents=True, exist_ok=True)
    runs = load_runs(root, run_dirs)
    items, scores = runs.items, None
    if not items.empty:
        items = calibration.add_calibrated(items)
        hybrids = compare.hybrid_scores(items)
        scores = tables.scores(runs, pd.concat([items, hybrids], ignore_index=True) if len(hybrids) else items)
    warnings = checks.check_runs(runs, scores)
    write_csv(out / "warnings.csv", warnings)

    doc = Document(root, runs, warnings)
    budget = tables.tuning_budget(runs.runs)
    write_csv(out / "tuning.csv", budget)
    if budget["trials"].notna().any():  # some system was tuned: say how much each one was
        doc.add("", "## Tuning budget", "", TUNING_NOTE, "", tables.tuning_markdown(budget))
    summary: dict = {
        "warnings": warnings.to_dict("records"),
        "skipped": [{"run_dir": p, "reason": r} for p, r in runs.skipped],
        "figures": {},
        "splits": {},
    }
    if not items.empty:
        per_language, pooled, unpaired = compare.comparisons(items)
        calib = calibration.calibration_table(items)
        write_csv(out / "calibration.csv", calib)
        for split in runs.eval_splits():
            split_scores = scores[scores["split"] == split]
            table = tables.speechtaxi_tables(split_scores)
            ladder = tables.ladder(split_scores, runs)
            write_csv(out / f"table_{split}.csv", table)
            write_csv(out / f"ladder_{split}.csv", ladder)
            sig = per_language[per_language["split"] == split] if not per_language.empty else per_language
            pool = pooled[pooled["split"] == split] if not pooled.empty else pooled
            lost = unpaired[unpaired["split"] == split] if not unpaired.empty else unpaired
            write_csv(out / f"significance_{split}.csv", sig)
            agreement_keys = ["split", "modality", "protocol", "language", "e2e", "cascade", "n"]
            agreement = sig[[*agreement_keys, *compare.AGREEMENT]] if not sig.empty else sig
            write_csv(out / f"agreement_{split}.csv", agreement)
            write_csv(out / f"pooled_{split}.csv", pool)
            write_csv(out / f"unpaired_{split}.csv", lost)
            doc.split_section(split, table, ladder, sig, pool, lost)
            averages = tables.protocol_averages(split_scores, split)
            summary["splits"][split] = {"protocol_averages": averages.to_dict("records")}
            if split == "test":
                summary["figures"] = _figures(out, split_scores, ladder, items)
        doc.calibration_section(calib, items)
        lines, names = transfer.section(scores, runs, out)  # the zero-shot matrix, when the sweep has one
        doc.add(*lines)
        summary["figures"]["transfer"] = names
        lines, names = cost.section(scores, runs.runs, out)  # accuracy vs training cost, per protocol
        doc.add(*lines)
        summary["figures"]["cost"] = names
    doc.figures_section(summary["figures"])
    atomic_write_text(out / "report.md", doc.text())
    atomic_write_json(out / "summary.json", summary)
    return out
