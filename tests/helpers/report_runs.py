"""Hand-made run directories for tests of the report (and of anything that reads runs).

A run written here has exactly what a training program writes, through the same
:meth:`workbench.runs.RunDir.write`: predictions, dev predictions (split ``dev``, when given
dev rows) and metrics with the run record (:class:`workbench.record.RunRecord`), the per-split
scores, and for a cascade the ``asr`` and ``gold_text`` sections.
"""

from __future__ import annotations

from pathlib import Path

from workbench.predictions import Prediction
from workbench.record import ProtocolRecord, RunRecord, TrainingRecord
from workbench.runs import RunDir


def probs_for(label: int, right: bool, confidence: float, classes: int = 3) -> list[float]:
    """A distribution with ``confidence`` on the label (right) or on the next class (wrong)."""
    pred = label if right else (label + 1) % classes
    rest = (1 - confidence) / (classes - 1)
    return [confidence if k == pred else rest for k in range(classes)]


def item_rows(
    language: str,
    correct: list[bool],
    split: str = "test",
    confidence: float = 0.8,
    classes: int = 3,
    transcript: str | None = None,
) -> list[dict]:
    """Prediction rows ``<language>-<k>`` (content ``c<k>``, label ``k % classes``), right where ``correct``."""
    rows = []
    for k, right in enumerate(correct):
        label = k % classes
        probs = probs_for(label, right, confidence, classes)
        row = {
            "id": f"{language}-{split}-{k}" if split == "dev" else f"{language}-{k}",
            "content_id": f"{split}-c{k}" if split == "dev" else f"c{k}",
            "language": language,
            "split": split,
            "label": label,
            "pred": max(range(classes), key=probs.__getitem__),
            "probs": probs,
        }
        if transcript is not None:
            row["transcript"] = transcript
        rows.append(row)
    return rows


def write_run(
    run_dir: str | Path,
    rows: list[dict],
    *,
    path: str = "e2e",
    system: str = "e2e-conv",
    protocol: str = "zero_shot",
    sources: list[str] | None = None,
    targets: list[str] | None = None,
    seed: int = 0,
    modality: str = "speech",
    classes: int = 3,
    stopped_by: str = "early_stopping",
    training: dict | None = None,
    script: str | None = None,
    asr: dict | None = None,
    gold: dict | None = None,
    tuning: dict | None = None,
) -> Path:
    """Write one finished run. ``asr``: ``{split: {lang: (cer, wer)}}``; ``gold``: ``{split: {lang: accuracy}}``."""
    run_dir = Path(run_dir)
    record = RunRecord(
        path=path,
        modality=modality,
        system=system,
        protocol=ProtocolRecord(protocol, list(sources or []), list(targets or sorted({r["language"] for r in rows}))),
        seed=seed,
        label_names=[f"class{k}" for k in range(classes)],
        data={"source": "hand-made", "digest": "0"},
        model={"script": script} if script else {},
        training=TrainingRecord(
            **{"stopped_by": stopped_by, "steps": 100, "epochs": 3, "monitor": "val/acc", "best_dev": 0.9}
            | (training or {})
        ),
        tuning=tuning,
        version="test",
    )
    full = [{**r, "system": system, "protocol": record.protocol.tag, "seed": seed} for r in rows]
    evaluated = [r for r in full if r["split"] != "dev"]
    dev = [r for r in full if r["split"] == "dev"]  # as the program base writes them: a file of their own
    sections = {}
    if asr is not None:
        sections["asr"] = {
            split: {"per_language": {lang: {"cer": c, "wer": w, "n": 10} for lang, (c, w) in by_lang.items()}}
            for split, by_lang in asr.items()
        }
    if gold is not None:
        sections["gold_text"] = {
            "splits": {
                split: {"per_language": {lang: {"accuracy": a, "macro_f1": a, "n": 10} for lang, a in by_lang.items()}}
                for split, by_lang in gold.items()
            }
        }
    as_predictions = [Prediction(**r) for r in evaluated] if rows else None
    RunDir(run_dir).write(record, as_predictions, [Prediction(**r) for r in dev], sections)
    return run_dir
