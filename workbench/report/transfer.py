"""The transfer matrix: zero-shot accuracy from every source language to every target, per system.

Built from the report's score table (one row per run, split and language) when a system has
zero-shot runs from at least two single sources (``configs/sweeps/embedded_matrix.yaml``):

- one matrix per E2E system, cascade and gold-text ceiling (rows: the source trained on,
  columns: the test language; the diagonal is the source tested on itself, i.e. in-language);
- romanized cascade minus E2E, cell by cell, for every such pair;
- each source's average transfer: the mean of its row over the other languages.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from workbench.report import plots, regression, tables

MATRIX_PATHS = ("e2e", "cascade", "gold")  # hybrids mix two systems: not a transfer result of their own
MIN_SOURCES = 2  # fewer single-source zero-shot runs make a row, not a matrix


def matrices(scores: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """``{system: source x target accuracy}`` on ``test`` for every system with a matrix, in report order."""
    test = scores[(scores["split"] == "test") & scores["path"].isin(MATRIX_PATHS)]
    out = {}
    for system in tables.system_order(test):
        matrix = plots.transfer_matrix(test, system)
        zero_shot = test[(test["system"] == system) & (test["protocol"] == "zero_shot")]
        if zero_shot["sources"].nunique() >= MIN_SOURCES and not matrix.empty:
            out[system] = matrix
    return out


def off_diagonal(matrix: pd.DataFrame) -> pd.DataFrame:
    """The matrix with each source's own column (its in-language cell) blanked: transfer only."""
    mask = np.equal.outer(matrix.index.to_numpy(str), matrix.columns.to_numpy(str))
    return matrix.mask(mask)


def source_averages(found: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per source (rows) and system (columns): the mean accuracy over the other languages."""
    return pd.DataFrame({system: off_diagonal(m).mean(axis=1) for system, m in found.items()})


def differences(found: dict[str, pd.DataFrame], paths: dict[str, str], texts: dict[str, str]) -> dict:
    """``{"<romanized cascade> − <e2e>": matrix}``: romanized cascade minus E2E for every such pair.

    ``paths``: each system's path (``e2e``, ``cascade``, ``gold``); ``texts``: a cascade's input
    text (``native`` / ``romanized``), both from the run records."""
    e2e = [s for s in found if paths.get(s) == "e2e"]
    romanized = [s for s in found if paths.get(s) == "cascade" and texts.get(s) == "romanized"]
    return {f"{c} − {e}": found[c] - found[e] for c in romanized for e in e2e}


def figure(found: dict[str, pd.DataFrame], diffs: dict[str, pd.DataFrame], chance: float, path: Path) -> Path:
    """One panel per system on one shared 0-100 % colour scale, then the difference panels
    (diverging scale, symmetric about 0); every cell labelled with its value."""
    panels = [(s, m, False) for s, m in found.items()] + [(s, m, True) for s, m in diffs.items()]
    columns = min(4, len(panels))
    rows = math.ceil(len(panels) / columns)
    size = max(m.shape[1] for _, m, _ in panels)
    fig, grid = plots.plt.subplots(
        rows, columns, figsize=((1.2 + 0.55 * size) * columns, (1.0 + 0.5 * size) * rows), squeeze=False
    )
    axes = list(grid.ravel())
    fig.subplots_adjust(wspace=0.55)  # room for a colour scale between the systems and the differences
    spread = max([np.nanmax(np.abs(m.to_numpy(float))) for _, m, d in panels if d] + [0.01])
    images = {}
    for ax, (name, matrix, is_diff) in zip(axes, panels, strict=False):
        values = 100 * matrix.to_numpy(float)
        style = dict(vmin=-100 * spread, vmax=100 * spread, cmap="RdBu") if is_diff else dict(vmin=0, vmax=100)
        images[is_diff] = ax.imshow(values, aspect="auto", **({"cmap": "viridis"} | style))
        ax.set_xticks(range(matrix.shape[1]), matrix.columns, fontsize=7, rotation=90)
        ax.set_yticks(range(matrix.shape[0]), matrix.index, fontsize=7)
        ax.set_title(f"{name}{' (points)' if is_diff else ''}", fontsize=8)
        for (i, j), value in np.ndenumerate(values):
            if not math.isnan(value):
                dark = abs(value) > 60 * spread if is_diff else value < 60  # white on the dark end of each scale
                label = f"{value:+.0f}" if is_diff else f"{value:.0f}"
                ax.text(j, i, label, ha="center", va="center", fontsize=6, color="w" if dark else "k")
    for ax in axes[len(panels) :]:
        ax.axis("off")
    axes[0].set_ylabel("trained on")
    # each scale beside its own panels: accuracy after the systems, points after the differences
    bar = fig.colorbar(images[False], ax=axes[: len(found)], fraction=0.02, pad=0.02, label="accuracy (%)")
    bar.ax.axhline(100 * chance, color="r", linewidth=2)  # chance on the shared scale
    if True in images:
        fig.colorbar(images[True], ax=axes[len(found) :], fraction=0.04, pad=0.02, label="difference (points)")
    fig.suptitle("zero-shot transfer: trained on (rows) → tested on (columns), test split", fontsize=9, y=1.06)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plots.plt.close(fig)
    return path


def markdown(matrix: pd.DataFrame, signed: bool = False) -> str:
    cell = (lambda v: f"{100 * v:+.1f}") if signed else (lambda v: f"{100 * v:.1f}")
    rows = [[source, *[cell(v) if v == v else "–" for v in row]] for source, row in matrix.iterrows()]
    return tables.markdown(["trained on ↓ / tested on →", *matrix.columns], rows)


def section(scores: pd.DataFrame, runs, out: Path) -> tuple[list[str], list[str]]:
    """report.md lines and figure names of the transfer matrix and its regression (nothing when no
    system has a matrix). ``runs``: the report's :class:`~workbench.report.frame.Runs`."""
    found = matrices(scores)
    if not found:
        return [], []
    texts = runs.runs.drop_duplicates("system").set_index("system")["text"].to_dict()
    paths = scores.drop_duplicates("system").set_index("system")["path"].to_dict()
    diffs = differences(found, paths, texts)
    averages = source_averages(found)
    chance = 1 / scores["n_classes"].max()
    name = "transfer_matrix.png"
    figure(found, diffs, chance, out / name)
    averages.rename_axis("source").reset_index().to_csv(out / "transfer_sources.csv", index=False)
    lines = [
        "",
        "## Transfer matrix on `test` (zero-shot, accuracy %)",
        "",
        "Rows: the single language trained on; columns: the language tested; the diagonal is the source "
        f"tested on itself (in-language). One seed per cell unless the sweep ran more (mean). Chance: "
        f"{100 * chance:.1f} %. `:gold` classifies the gold transcript (the cascade's ceiling).",
    ]
    for system, matrix in found.items():
        lines += ["", f"### {system}", "", markdown(matrix)]
    for label, matrix in diffs.items():
        lines += ["", f"### {label} (points)", "", markdown(matrix, signed=True)]
    rows = [[source, *[f"{100 * v:.1f}" if v == v else "–" for v in row]] for source, row in averages.iterrows()]
    lines += ["", "### Average transfer per source (mean over the other languages, %)", ""]
    lines += [tables.markdown(["source", *averages.columns], rows), "", f"![transfer matrix]({name})"]
    coefficients, fitted = regression.regressions(found, runs)
    coefficients.to_csv(out / "transfer_regression.csv", index=False)
    lines += ["", "## What explains transfer (OLS per system, standard errors clustered by target)", ""]
    lines += [
        "Each off-diagonal cell of a matrix is one pair. Features: `same_script` (0/1); `genetic`, `syntactic`, "
        "`phonological`: cosine distance of the languages' URIEL vectors (lang2vec: fam, syntax_knn, "
        "phonology_knn); `asr_cer`: the cascade's recognizer's CER on the target; `char3_overlap`: share of the "
        "target's character 3-grams found in the source's romanized texts (the cascades' romanized transcripts "
        f"of the test items). {regression.LEVEL:.0%} t intervals on (targets − 1) degrees of freedom."
    ]
    lines += regression.markdown_lines(coefficients)
    scatter = regression.scatter(fitted, out / "transfer_regression.png")
    if scatter:
        lines += ["", f"![predicted vs observed]({scatter.name})"]
    return lines, [name, *([scatter.name] if scatter else [])]
