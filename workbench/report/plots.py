"""Figures: a source -> target transfer heatmap per system, and protocol averages as bars."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: the report runs on headless machines
import matplotlib.pyplot as plt  # noqa: E402


def transfer_matrix(scores: dict, system: str) -> tuple[list[str], list[str], list[list[float]]]:
    """Rows: training source; columns: test language; cell: mean accuracy over seeds.

    Single-source zero-shot runs give the rows; the in-language runs fill the diagonal
    where zero-shot runs did not (both are the same training language on itself).
    """
    rows: dict[str, dict[str, float]] = {}
    for group, by_system in scores.items():
        if not group.startswith("zero_shot-") or "+" in group or system not in by_system:
            continue
        source = group.split("-", 1)[1]
        rows[source] = {lang: sum(v) / len(v) for lang, v in by_system[system].items() if v}
    for lang, values in scores.get("in_language", {}).get(system, {}).items():
        if values:
            rows.setdefault(lang, {}).setdefault(lang, sum(values) / len(values))
    sources = sorted(rows)
    targets = sorted({t for r in rows.values() for t in r})
    matrix = [[rows[s].get(t, math.nan) for t in targets] for s in sources]
    return sources, targets, matrix


def heatmap(scores: dict, system: str, path: Path) -> Path | None:
    sources, targets, matrix = transfer_matrix(scores, system)
    if not sources:
        return None
    fig, ax = plt.subplots(figsize=(1.0 + 0.8 * len(targets), 1.2 + 0.6 * len(sources)))
    image = ax.imshow([[100 * v for v in row] for row in matrix], vmin=0, vmax=100, cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(targets)), targets)
    ax.set_yticks(range(len(sources)), sources)
    ax.set_xlabel("test language")
    ax.set_ylabel("trained on")
    ax.set_title(f"{system}: accuracy (%)")
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            if value == value:
                ax.text(j, i, f"{100 * value:.0f}", ha="center", va="center", color="w" if value < 0.6 else "k")
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def protocol_bars(averages: dict[str, dict[str, tuple[float, float]]], path: Path) -> Path | None:
    """``averages[protocol][system] = (mean, std)`` -> grouped bar chart."""
    protocols = [p for p in ("in_language", "all_languages", "zero_shot") if p in averages]
    if not protocols:
        return None
    from workbench.report.tables import system_order

    systems = system_order({s for p in protocols for s in averages[p]})
    width = 0.8 / max(1, len(systems))
    fig, ax = plt.subplots(figsize=(2.5 + 1.8 * len(protocols) + 0.2 * len(systems), 4.8))
    for k, system in enumerate(systems):
        xs = [i + (k - (len(systems) - 1) / 2) * width for i in range(len(protocols))]
        means = [100 * averages[p].get(system, (math.nan, 0))[0] for p in protocols]
        stds = [100 * averages[p].get(system, (0, 0))[1] for p in protocols]
        ax.bar(xs, means, width, yerr=stds, label=system, capsize=2)
    ax.set_xticks(range(len(protocols)), [p.replace("_", " ") for p in protocols])
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_title("protocol averages (zero-shot: targets only)")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncols=3, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
