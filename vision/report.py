"""``python -m vision.report RUN_DIR... [--split test]``: a per-language accuracy table of finished runs.

Reads ``metrics.json`` only (never the models). Runs that differ only by seed are averaged,
and the number of seeds is shown; unfinished run directories are listed and skipped.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

from workbench.runs import RunDir

IN_LANGUAGE = "in_language (each)"


def collect(run_dirs: list[str | Path], split: str = "test") -> tuple[dict, list[str]]:
    """``({(system, protocol_tag): {language: [accuracy per seed]}}, unfinished run dirs)``."""
    table: dict[tuple[str, str], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    unfinished = []
    for path in run_dirs:
        run = RunDir(path)
        if not run.path.is_dir():
            continue
        if not run.is_finished():
            unfinished.append(str(path))
            continue
        metrics = run.metrics()
        tag = metrics["protocol_tag"]
        if metrics["protocol"] == "in_language" and len(metrics.get("sources") or []) == 1:
            tag = IN_LANGUAGE  # one row for the runs that each train and test one language
        for language, scores in metrics["splits"].get(split, {}).get("per_language", {}).items():
            table[(metrics["system"], tag)][language].append(scores["accuracy"])
    return table, unfinished


def markdown(table: dict, languages: list[str] | None = None) -> str:
    """Accuracy % (mean over seeds) per language; source languages are marked with ``*``."""
    languages = languages or sorted({lang for row in table.values() for lang in row})
    lines = [
        "| system | protocol | seeds | " + " | ".join(languages) + " |",
        "|---|---|---|" + "---|" * len(languages),
    ]
    for (system, tag), row in sorted(table.items()):
        sources = (
            set(languages) if tag == IN_LANGUAGE else set(tag.split("-", 1)[1].split("+")) if "-" in tag else set()
        )
        seeds = max(len(v) for v in row.values())
        cells = []
        for lang in languages:
            values = row.get(lang)
            cell = f"{100 * sum(values) / len(values):.1f}" if values else ""
            cells.append(f"{cell}*" if values and lang in sources else cell)
        lines.append(f"| {system} | {tag} | {seeds} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="run directories")
    parser.add_argument("--split", default="test", help="evaluated split to tabulate")
    args = parser.parse_args(argv)
    table, unfinished = collect(args.runs, args.split)
    text = markdown(table)
    if unfinished:
        text += "\n\nunfinished: " + ", ".join(unfinished)
    print(text)
    return text


if __name__ == "__main__":
    main()
