"""What each system costs beside what it scores: training seconds (and on what device), parameters,
inference seconds per item, per protocol, with the accuracy-vs-cost Pareto front.

Every figure comes from the run records (``record.training``: ``train_seconds``, ``device``,
``params_total``, ``params_trainable``, ``predict_seconds_per_item``). A cascade's cost includes
its recognizer's: the recognizer run whose ``best.ckpt`` the cascade read (matched by the
checkpoint's digest, the one ``describe()`` puts in the cascade's record; in the report's folder, or
the folder of the checkpoint the cascade's saved config names) is trained once for all
the cascade runs of the report that read it, so each is charged ``train_seconds / runs sharing it``;
its inference seconds per item are added in full (each clip is transcribed). A pretrained
recognizer (Whisper, MMS) has no training cost here.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from workbench.errors import DataError
from workbench.report import plots, tables
from workbench.runs import CONFIG, RunDir, read_record

COST_NOTE = (
    "Training seconds are wall seconds of the fit on the named device (mean over the system's runs); a cascade "
    "adds its recognizer's training divided by the number of cascade runs here that share it (`shared by`), and "
    "the recognizer's inference seconds per clip to its own. Accuracy: mean over the protocol's runs (zero-shot: "
    "over the targets). The Pareto front (`front`): no other system is at least as accurate for at most the "
    "training cost, and better in one of the two."
)


def pareto_front(cost: np.ndarray, accuracy: np.ndarray) -> np.ndarray:
    """Boolean mask of the points no other point dominates (cost ≤ and accuracy ≥, one of them strictly)."""
    cost, accuracy = np.asarray(cost, float), np.asarray(accuracy, float)
    front = np.ones(len(cost), dtype=bool)
    for k in range(len(cost)):
        better_or_equal = (cost <= cost[k]) & (accuracy >= accuracy[k])
        strictly = (cost < cost[k]) | (accuracy > accuracy[k])
        front[k] = not (better_or_equal & strictly).any()
    return front


def _recognizers(run_dirs) -> dict[str, dict]:
    """Recognizer runs by the digest of their ``best.ckpt``: their training and inference seconds."""
    out = {}
    for run_dir in run_dirs:
        checkpoint = RunDir(run_dir).best
        if checkpoint.is_file():
            try:
                training = read_record(run_dir).training
            except (DataError, OSError):
                continue
            with checkpoint.open("rb") as handle:  # sha256 of the file, as the cascade's describe() records it
                digest = hashlib.file_digest(handle, "sha256").hexdigest()
            out[digest] = {
                "run_dir": run_dir,
                "train_seconds": training.train_seconds or 0.0,
                "predict_seconds_per_item": training.predict_seconds_per_item or 0.0,
            }
    return out


def _recognizer_dir_read_by(run_dir) -> Path | None:
    """The run folder of the recognizer checkpoint a cascade run's saved config names: one outside the
    report's folder (another sweep's setup step, shared through ``setup_from``)."""
    try:
        config = yaml.safe_load((Path(run_dir) / CONFIG).read_text(encoding="utf-8"))
        checkpoint = Path(config["data"]["recognizer"]["init_args"]["checkpoint"])
    except (OSError, KeyError, TypeError, yaml.YAMLError):
        return None
    return checkpoint.parent.parent


def run_costs(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per predicting run: its own cost and its recognizer's share."""
    recognizers = _recognizers(runs[runs["path"] == "recognizer"]["run_dir"])
    elsewhere = [_recognizer_dir_read_by(d) for d in runs[runs["path"] == "cascade"]["run_dir"]]
    outside = {d for d in elsewhere if d is not None} - {Path(d) for d in runs["run_dir"]}
    recognizers = {**_recognizers(sorted(outside)), **recognizers}
    rows = []
    for row in runs[runs["path"] != "recognizer"].itertuples():
        try:
            record = read_record(row.run_dir)
        except (DataError, OSError):
            continue  # the report lists unreadable runs already
        training = record.training
        digest = (record.model.get("recognizer") or {}).get("checkpoint_sha256") if record.path == "cascade" else None
        rows.append(
            {
                "run_dir": row.run_dir,
                "system": record.system,
                "modality": record.modality,
                "protocol": record.protocol.name,
                "train_seconds": training.train_seconds,
                "device": training.device,
                "params_total": training.params_total,
                "params_trainable": training.params_trainable,
                "predict_seconds_per_item": training.predict_seconds_per_item,
                "recognizer": recognizers.get(digest, {}).get("run_dir"),
                "recognizer_digest": digest if digest in recognizers else None,
            }
        )
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    shared = frame.groupby("recognizer_digest")["run_dir"].transform("size")  # NaN: no recognizer run here
    frame["shared_by"] = shared
    found = [recognizers.get(d, {}) for d in frame["recognizer_digest"]]
    frame["recognizer_seconds"] = [
        r.get("train_seconds", 0.0) / n if r else 0.0 for r, n in zip(found, shared, strict=True)
    ]
    frame["seconds_per_item"] = frame["predict_seconds_per_item"] + [
        r.get("predict_seconds_per_item", 0.0) for r in found
    ]
    frame["total_train_seconds"] = frame["train_seconds"] + frame["recognizer_seconds"]
    return frame


def run_accuracy(scores: pd.DataFrame) -> pd.Series:
    """Per run: mean accuracy on ``test`` over its languages (zero-shot: over its targets)."""
    test = scores[(scores["split"] == "test") & scores["path"].isin(["e2e", "cascade"])]
    targets = test[(test["protocol"] != "zero_shot") | ~test["is_source"]]
    return targets.groupby("run_dir")["accuracy"].mean().rename("accuracy")


def cost_table(scores: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """Per modality, protocol and system: accuracy, cost, parameters, device, and the Pareto front."""
    costs = run_costs(runs)
    if costs.empty:
        return costs
    costs = costs.join(run_accuracy(scores), on="run_dir").dropna(subset=["accuracy", "total_train_seconds"])
    keys = ["modality", "protocol", "system"]
    table = (
        costs.groupby(keys)
        .agg(
            runs=("run_dir", "size"),
            accuracy=("accuracy", "mean"),
            train_seconds=("train_seconds", "mean"),
            recognizer_seconds=("recognizer_seconds", "mean"),
            total_train_seconds=("total_train_seconds", "mean"),
            shared_by=("shared_by", "max"),
            seconds_per_item=("seconds_per_item", "mean"),
            params_total=("params_total", "max"),
            params_trainable=("params_trainable", "max"),
            device=("device", lambda d: ", ".join(sorted({str(x) for x in d.dropna()})) or "–"),
        )
        .reset_index()
    )
    table["front"] = False
    for _, part in table.groupby(["modality", "protocol"]):
        table.loc[part.index, "front"] = pareto_front(part["total_train_seconds"], part["accuracy"])
    return table


def figure(part: pd.DataFrame, title: str, path: Path) -> Path:
    """Accuracy vs training seconds (log scale), each system labelled, the Pareto front joined."""
    fig, ax = plots.plt.subplots(figsize=(5.2, 3.8))
    ax.scatter(part["total_train_seconds"], 100 * part["accuracy"], c=np.where(part["front"], "C3", "C0"))
    for row in part.itertuples():
        ax.annotate(
            row.system,
            (row.total_train_seconds, 100 * row.accuracy),
            fontsize=7,
            xytext=(3, 3),
            textcoords="offset points",
        )
    front = part[part["front"]].sort_values("total_train_seconds")
    ax.plot(front["total_train_seconds"], 100 * front["accuracy"], color="C3", label="Pareto front")
    ax.set_xscale("log")
    ax.set_xlabel("training seconds per run (cascades: + recognizer share)")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    return plots._save(fig, path)


def section(scores: pd.DataFrame, runs: pd.DataFrame, out: Path) -> tuple[list[str], list[str]]:
    """report.md lines and figure names of the cost section (nothing when no run recorded its cost)."""
    table = cost_table(scores, runs)
    if table.empty:
        return [], []
    table.to_csv(out / "cost.csv", index=False)
    lines, names = ["", "## What each system costs (test)", "", COST_NOTE], []
    header = ["system", "runs", "accuracy %", "train s", "recognizer s (shared by)", "total s", "s / item"]
    header += ["params (trainable / total)", "device", "front"]
    for (modality, protocol), part in table.groupby(["modality", "protocol"]):
        rows = [
            [r.system, r.runs, f"{100 * r.accuracy:.1f}", f"{r.train_seconds:.0f}"]
            + [f"{r.recognizer_seconds:.0f} ({r.shared_by:.0f})" if r.recognizer_seconds else "–"]
            + [
                f"{r.total_train_seconds:.0f}",
                "–" if r.seconds_per_item != r.seconds_per_item else f"{r.seconds_per_item:.4f}",
            ]
            + [f"{_count(r.params_trainable)} / {_count(r.params_total)}", r.device, "●" if r.front else ""]
            for r in part.itertuples()
        ]
        name = f"cost_{plots.safe_name(protocol)}{'' if modality == 'speech' else '_' + modality}.png"
        figure(part, f"{protocol} ({modality}): accuracy vs training cost", out / name)
        lines += ["", f"### {protocol} ({modality})", "", tables.markdown(header, rows), "", f"![cost]({name})"]
        names.append(name)
    return lines, names


def _count(value) -> str:
    return "–" if value is None or value != value else f"{value / 1e6:.2f} M"
