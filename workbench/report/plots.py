"""Figures, each with the chance level drawn in: the headroom ladder per protocol group, a
reliability diagram per system, a source -> target heatmap per system, protocol averages."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd

matplotlib.use("Agg")  # files only: the report runs on headless machines
import matplotlib.pyplot as plt  # noqa: E402

from workbench.report.calibration import reliability  # noqa: E402

CHANCE_STYLE = {"color": "0.3", "linestyle": "--", "linewidth": 1}


def safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def ladder(table: pd.DataFrame, title: str, path: Path) -> Path | None:
    """Grouped bars per language, one per rung (gold -> native ASR -> romanized ASR -> E2E),
    the recognizer's CER written on each cascade bar, and the chance line."""
    if table.empty:
        return None
    rungs = table.drop_duplicates("system").sort_values("rung")
    languages = sorted(table["language"].unique())
    width = 0.8 / len(rungs)
    fig, ax = plt.subplots(figsize=(2.0 + 0.9 * len(languages) * max(1, len(rungs) / 3), 4.2))
    for k, rung in enumerate(rungs.itertuples()):
        rows = table[table["system"] == rung.system].set_index("language").reindex(languages)
        xs = np.arange(len(languages)) + (k - (len(rungs) - 1) / 2) * width
        heights = 100 * rows["accuracy"].astype(float).fillna(0).to_numpy()
        hatch = "//" if rung.path == "gold" else None
        ax.bar(xs, heights, width, label=rung.system, hatch=hatch)
        if rung.path == "cascade":
            for x, h, cer in zip(xs, heights, rows["cer"], strict=True):
                if cer is not None and cer == cer:
                    ax.text(x, h + 1, f"{cer:.2f}", ha="center", va="bottom", fontsize=6, rotation=90)
    ax.axhline(100 * table["chance"].iloc[0], label="chance", **CHANCE_STYLE)
    ax.set_xticks(range(len(languages)), languages)
    ax.set_ylim(0, 112)
    ax.set_ylabel("accuracy (%)")
    ax.set_title(f"{title}: headroom ladder (numbers on cascade bars: CER)", fontsize=9)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncols=3, frameon=False)
    return _save(fig, path)


def reliability_diagram(items: pd.DataFrame, system: str, path: Path) -> Path | None:
    """Accuracy per confidence bin, raw and (where fitted on dev) temperature-scaled, vs the diagonal."""
    if items.empty:
        return None
    chance = 1 / items["n_classes"].max()
    fig, ax = plt.subplots(figsize=(4.2, 4.2))
    ax.plot([0, 1], [0, 1], color="0.6", linewidth=1, label="perfect calibration")
    variants = [("raw", items["confidence"])]
    if items["confidence_cal"].notna().all():
        variants.append((f"calibrated (T={items['temperature'].mean():.2f})", items["confidence_cal"]))
    for label, confidence in variants:
        bins = reliability(confidence, items["correct"])
        ax.plot(bins["confidence"], bins["accuracy"], marker="o", label=label)
    ax.axhline(chance, label="chance", **CHANCE_STYLE)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("confidence (max probability)")
    ax.set_ylabel("accuracy")
    ax.set_title(f"{system}: reliability", fontsize=9)
    ax.legend(fontsize=7)
    return _save(fig, path)


def transfer_matrix(frame: pd.DataFrame, system: str) -> pd.DataFrame:
    """Rows: training source; columns: test language; cell: mean accuracy over seeds.

    Single-source zero-shot runs give the rows; in-language runs fill the diagonal where
    zero-shot runs did not (both are the training language tested on itself).
    """
    part = frame[(frame["system"] == system) & (frame["split"] == "test")]
    zero_shot = part[(part["protocol"] == "zero_shot") & (part["sources"].str.count(r"\+") == 0)]
    in_language = part[part["protocol"] == "in_language"].assign(sources=lambda f: f["language"])
    cells = pd.concat([zero_shot, in_language]).groupby(["sources", "language", "protocol"])["accuracy"].mean()
    matrix = cells.unstack("language")
    # zero-shot rows first, so an in-language cell only fills what zero-shot left empty
    matrix = matrix.sort_index(level="protocol", ascending=False).groupby(level="sources").first()
    return matrix


def heatmap(frame: pd.DataFrame, system: str, path: Path) -> Path | None:
    matrix = transfer_matrix(frame, system)
    if matrix.empty:
        return None
    chance = 1 / frame.loc[frame["system"] == system, "n_classes"].max()
    fig, ax = plt.subplots(figsize=(1.6 + 0.8 * matrix.shape[1], 1.4 + 0.6 * matrix.shape[0]))
    image = ax.imshow(100 * matrix.to_numpy(float), vmin=0, vmax=100, cmap="viridis", aspect="auto")
    ax.set_xticks(range(matrix.shape[1]), matrix.columns)
    ax.set_yticks(range(matrix.shape[0]), matrix.index)
    ax.set_xlabel("test language")
    ax.set_ylabel("trained on")
    ax.set_title(f"{system}: accuracy (%)")
    for (i, j), value in np.ndenumerate(matrix.to_numpy(float)):
        if not math.isnan(value):
            ax.text(j, i, f"{100 * value:.0f}", ha="center", va="center", color="w" if value < 0.6 else "k")
    bar = fig.colorbar(image, ax=ax, fraction=0.046)
    bar.ax.axhline(100 * chance, color="r", linewidth=2)  # the chance level on the colour scale
    bar.ax.text(1.1, 100 * chance, "chance", va="center", fontsize=7, transform=bar.ax.get_yaxis_transform())
    return _save(fig, path)


def protocol_bars(averages: pd.DataFrame, order: list[str], path: Path, chance: float) -> Path | None:
    """Grouped bars of the protocol averages (mean ± std over runs; zero-shot: targets only)."""
    protocols = [p for p in ("in_language", "all_languages", "zero_shot") if p in set(averages["protocol"])]
    if not protocols:
        return None
    systems = [s for s in order if s in set(averages["system"])]
    width = 0.8 / max(1, len(systems))
    fig, ax = plt.subplots(figsize=(2.5 + 1.8 * len(protocols) + 0.2 * len(systems), 4.8))
    table = averages.set_index(["protocol", "system"])
    for k, system in enumerate(systems):
        xs = [i + (k - (len(systems) - 1) / 2) * width for i in range(len(protocols))]
        means = [100 * table["mean"].get((p, system), math.nan) for p in protocols]
        stds = [100 * table["std"].get((p, system), 0.0) for p in protocols]
        ax.bar(xs, means, width, yerr=stds, label=system, capsize=2)
    ax.axhline(100 * chance, label="chance", **CHANCE_STYLE)
    ax.set_xticks(range(len(protocols)), [p.replace("_", " ") for p in protocols])
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_title("protocol averages (zero-shot: targets only)")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncols=3, frameon=False)
    return _save(fig, path)
