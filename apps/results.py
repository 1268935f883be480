"""The Results tab's data: the newest report (``python -m workbench.report <dir>`` writes ``<dir>/report/``).

Shown: ``report.md`` as written (its "Check these runs" warnings first, when the report has
any), ``table_test.csv`` when there is one, and every PNG beside ``report.md`` whatever its name
(the headroom ladder, heatmaps, bar charts). Image links inside ``report.md`` are relative to its
folder, which the page cannot follow, so they point to the gallery instead.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

SWEEPS = Path("sweeps")
IMAGE_LINK = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)[^)]*\)")


@dataclass
class Report:
    """A report folder's contents for display.

    Attributes:
        folder: the ``report/`` folder (None: no report found).
        markdown: ``report.md``'s text (image links pointing to the gallery), or a hint on how to make one.
        header, rows: ``table_test.csv``.
        plots: the PNGs, sorted by name.
    """

    folder: Path | None
    markdown: str
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    plots: list[str] = field(default_factory=list)

    def gallery(self) -> list[tuple[str, str]]:
        """``(path, file name)`` of each plot, for ``gr.Gallery``."""
        return [(plot, Path(plot).name) for plot in self.plots]


def find_report(report: str | Path | None = None, sweeps: str | Path = SWEEPS) -> Path | None:
    """The report folder to show: ``report`` (a report folder or a dir holding ``report/``),
    else the newest ``<sweeps>/*/report/report.md``."""
    if report:
        report = Path(report)
        for folder in (report, report / "report"):
            if (folder / "report.md").is_file():
                return folder
        return None
    found = sorted(Path(sweeps).glob("*/report/report.md"), key=lambda p: p.stat().st_mtime)
    return found[-1].parent if found else None


def point_images_to_gallery(markdown: str) -> str:
    """``![ladder](ladder.png)`` -> ``*(plot: ladder.png, in the gallery below)*``."""
    return IMAGE_LINK.sub(lambda m: f"*(plot: {Path(m.group(2)).name}, in the gallery below)*", markdown)


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
    text = point_images_to_gallery((folder / "report.md").read_text(errors="replace"))
    markdown = f"**Report:** `{folder}`\n\n" + text
    return Report(folder, markdown, header, rows, [str(p) for p in sorted(folder.glob("*.png"))])
