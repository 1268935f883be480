"""``python -m vision.report RUN_DIR... [--split test]``: a per-language accuracy table of finished runs.

A view of the report's item table (:mod:`workbench.report.frame`) for a list of run
directories: each run is read by its run record, never by its name or tag. Runs that
differ only by seed are averaged and the number of seeds is shown; an in-language run counts
for its own language only. Unfinished run directories and runs without a record are listed
and left out. The full comparison (tests, ladder, calibration) is ``python -m workbench.report``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from workbench.report.frame import load_runs
from workbench.report.tables import scores
from workbench.runs import RunDir

IN_LANGUAGE = "in_language (each)"


def collect(run_dirs: list[str | Path], split: str = "test") -> tuple[pd.DataFrame, list[str], list[str]]:
    """(per-run language scores of ``split``, unfinished run dirs, skipped ``"dir (reason)"``)."""
    existing = [Path(p) for p in run_dirs if Path(p).is_dir()]
    unfinished = [str(p) for p in existing if not RunDir(p).is_finished()]
    finished = [p for p in existing if RunDir(p).is_finished()]
    runs = load_runs(".", finished)
    table = scores(runs, runs.items) if not runs.items.empty else pd.DataFrame()
    table = table[(table["split"] == split) & (table["path"] != "gold")] if not table.empty else table
    return table, unfinished, [f"{path} ({reason})" for path, reason in runs.skipped]


def markdown(table: pd.DataFrame, languages: list[str] | None = None) -> str:
    """Accuracy % (mean over seeds) per language; a system's training languages are marked ``*``."""
    if languages is None:
        languages = sorted(set(table["language"])) if not table.empty else []
    lines = [
        "| system | protocol | seeds | " + " | ".join(languages) + " |",
        "|---|---|---|" + "---|" * len(languages),
    ]
    if table.empty:
        return "\n".join(lines)
    for (system, group), part in table.groupby(["system", "group"]):
        in_language = part["protocol"].iloc[0] == "in_language"
        cells = []
        for lang in languages:
            values = part.loc[part["language"] == lang]
            cell = f"{100 * values['accuracy'].mean():.1f}" if len(values) else ""
            cells.append(f"{cell}*" if len(values) and (in_language or values["is_source"].any()) else cell)
        seeds = part.groupby("language")["seed"].nunique().max()
        lines.append(f"| {system} | {IN_LANGUAGE if in_language else group} | {seeds} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="run directories")
    parser.add_argument("--split", default="test", help="evaluated split to tabulate")
    args = parser.parse_args(argv)
    table, unfinished, skipped = collect(args.runs, args.split)
    text = markdown(table)
    if skipped:
        text += "\n\nskipped: " + ", ".join(skipped)
    if unfinished:
        text += "\n\nunfinished: " + ", ".join(unfinished)
    print(text)
    return text


if __name__ == "__main__":
    main()
