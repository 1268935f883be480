"""The Results tab's data: the latest sweep report (``python -m workbench.report <sweep dir>``)."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

SWEEPS = Path("sweeps")


@dataclass
class Report:
    """A report folder's contents for display.

    Attributes:
        folder: the ``report/`` folder (None: no report found).
        markdown: ``report.md``'s text, or a hint on how to make one.
        header, rows: ``table_test.csv``.
        plots: the PNGs, sorted by name.
    """

    folder: Path | None
    markdown: str
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    plots: list[str] = field(default_factory=list)


def find_report(report: str | Path | None = None, sweeps: str | Path = SWEEPS) -> Path | None:
    """The report folder to show: ``report`` (a report folder or a sweep dir holding ``report/``),
    else the newest ``<sweeps>/*/report/report.md``."""
    if report:
        report = Path(report)
        for folder in (report, report / "report"):
            if (folder / "report.md").is_file():
                return folder
        return None
    found = sorted(Path(sweeps).glob("*/report/report.md"), key=lambda p: p.stat().st_mtime)
    return found[-1].parent if found else None


def load_report(report: str | Path | None = None, sweeps: str | Path = SWEEPS) -> Report:
    """Read the report to show (see :func:`find_report`); a hint when there is none."""
    folder = find_report(report, sweeps)
    if folder is None:
        where = report or f"{sweeps}/*/report/"
        return Report(
            None,
            f"No sweep report found in `{where}`. Run a sweep (`python -m workbench.sweep ...`), then "
            "`python -m workbench.report <sweep dir>`, and press *Refresh*.",
        )
    header, rows = [], []
    table = folder / "table_test.csv"
    if table.is_file():
        with table.open(newline="") as handle:
            lines = list(csv.reader(handle))
        header, rows = (lines[0], lines[1:]) if lines else ([], [])
    markdown = f"**Report:** `{folder}`\n\n" + (folder / "report.md").read_text()
    return Report(folder, markdown, header, rows, [str(p) for p in sorted(folder.glob("*.png"))])
