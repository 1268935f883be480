"""The report's one item-level long table, assembled once from run directories.

Every finished run below a folder contributes one row per predicted item: the run record's
fields (``workbench.record``: path, modality, system, protocol name / sources /
targets, seed, why training stopped) next to the item's ``id, content_id, language, split,
label, pred, probs, correct`` (+ ``transcript``, ``romanized`` and the recognizer's
``asr_cer``, ``asr_wer`` in that language for cascades). Tables,
tests, calibration and plots are group-bys and pivots of it.

What a run is comes from its record only: nothing here parses a tag string or decides E2E
vs cascade from a system name. A run without a record (an older version) or with an
unreadable file is listed in ``skipped`` with its path and the reason, never guessed.
Runs are read through :class:`~workbench.runs.RunDir` alone.

Two companion tables come from the metrics' sections because no item-level data exists for
them: ``gold`` (the cascade's classifier on the gold transcript, per language: the upper
bound) and ``asr`` (the recognizer's CER/WER per split and language, from the ``asr`` section
of cascade and recognizer runs).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from workbench.errors import DataError
from workbench.record import RunRecord
from workbench.runs import RunDir, finished_run_dirs

log = logging.getLogger(__name__)
ITEM_FIELDS = ("id", "content_id", "language", "split", "label", "pred", "probs")
ITEM_COLUMNS = [*ITEM_FIELDS, "transcript", "romanized", "correct", "confidence", "is_source"]
NOT_EVALUATED = ("train", "dev")  # dev predictions fit calibration; they are not results
RUN_COLUMNS = [
    "run_dir",
    "path",
    "modality",
    "system",
    "protocol",
    "sources",
    "targets",
    "group",
    "seed",
    "stopped_by",
    "steps",
    "epochs",
    "best_dev",
    "checks_since_best",
    "tuning_trials",
    "tuning_space",
    "n_classes",
    "text",
]


@dataclass
class Runs:
    """Everything the report knows, as tables.

    Attributes:
        items: one row per (run, predicted item); see the module docstring.
        runs: one row per run read (including recognizer runs, which have no items).
        gold: ``run_dir, system, split, language, accuracy, n`` of the gold-text upper bound.
        asr: ``run_dir, system, path, split, language, cer, wer, n`` of recognizers.
        skipped: ``(path, reason)`` of every ``metrics.json`` that could not be used.
    """

    items: pd.DataFrame
    runs: pd.DataFrame
    gold: pd.DataFrame
    asr: pd.DataFrame
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def eval_splits(self) -> list[str]:
        """Evaluated splits, ``test`` first (``dev`` is for calibration, not a result)."""
        splits = set(self.items["split"]) - set(NOT_EVALUATED) if len(self.items) else set()
        return sorted(splits, key=lambda s: (s != "test", s))


def group_of(record: RunRecord) -> str:
    """The table a run belongs to: every ``in_language`` run shares one table (each is the
    in-language result of its own source); other protocols are split by their sources."""
    return "in_language" if record.protocol.name == "in_language" else record.protocol.tag


def _run_row(run_dir: Path, record: RunRecord) -> dict:
    sources = list(record.protocol.sources or [])
    n_classes = len(record.label_names)
    return {
        "run_dir": str(run_dir),
        "path": record.path,
        "modality": record.modality,
        "system": record.system,
        "protocol": record.protocol.name,
        "sources": "+".join(sources),
        "targets": "+".join(record.protocol.targets or []),
        "group": group_of(record),
        "seed": int(record.seed),
        "stopped_by": record.training.stopped_by,
        "steps": record.training.steps,
        "epochs": record.training.epochs,
        "best_dev": record.training.best_dev,
        "checks_since_best": record.training.checks_since_best,
        # the tuning budget (workbench.tune): trials and searched keys; None / "" when hand-set
        "tuning_trials": record.tuning["trials"] if record.tuning else None,
        "tuning_space": ", ".join(sorted(record.tuning["search_space"])) if record.tuning else "",
        "n_classes": n_classes,
        # the cascade's input text (native / romanized / translated to English) orders the ladder's rungs
        "text": "translated" if record.model.get("translator") else record.model.get("script") or "",
    }


def _item_rows(run: dict, source: RunDir, sources: list[str]) -> pd.DataFrame:
    rows = source.predictions() + [{**row, "split": "dev"} for row in source.dev_predictions()]
    frame = pd.DataFrame(rows)
    for name in ITEM_FIELDS:
        if name not in frame.columns:
            raise DataError(str(source.predictions_path), name, "missing from the prediction records")
    for name in ("transcript", "romanized"):
        if name not in frame.columns:
            frame[name] = None
    frame = frame[[*ITEM_FIELDS, "transcript", "romanized"]].copy()
    frame["id"] = frame["id"].astype(str)
    frame["content_id"] = frame["content_id"].astype(str)
    if run["protocol"] == "in_language" and sources:
        # an in-language run is the in-language result of its own source languages only
        frame = frame[frame["language"].isin(sources)]
    frame["correct"] = frame["pred"] == frame["label"]
    frame["confidence"] = frame["probs"].map(max)
    frame["is_source"] = frame["language"].isin(sources)
    for key, value in run.items():
        frame[key] = value
    if not run["n_classes"]:
        frame["n_classes"] = frame["probs"].map(len).max()
    return frame


def _section_rows(run: dict, section: dict, metric_keys: tuple[str, ...]) -> list[dict]:
    """``{split: {"per_language": {lang: {...}}}}`` -> flat rows (bad shapes are left out)."""
    rows = []
    for split, part in (section or {}).items():
        per_language = part.get("per_language", {}) if isinstance(part, dict) else {}
        for language, scores in per_language.items():
            if isinstance(scores, dict) and all(k in scores for k in metric_keys):
                rows.append(
                    {
                        "run_dir": run["run_dir"],
                        "system": run["system"],
                        "path": run["path"],
                        "split": split,
                        "language": language,
                        **{k: scores[k] for k in metric_keys},
                        "n": scores.get("n"),
                    }
                )
    return rows


def read_run(run_dir: Path) -> tuple[dict, pd.DataFrame | None, list[dict], list[dict]]:
    """One run: its row, its items (None for a recognizer), gold rows and ASR rows.

    Raises DataError (naming the file) for a run the report cannot use.
    """
    source = RunDir(run_dir)
    try:
        record = source.record()
    except (TypeError, ValueError) as error:
        raise DataError(str(source.metrics_path), "record", f"malformed run record ({error})") from None
    sections = source.sections()
    run = _run_row(run_dir, record)
    asr = _section_rows(run, sections.get("asr"), ("cer", "wer"))
    if record.path == "recognizer":
        return run, None, [], asr
    if not source.predictions_path.is_file():
        raise DataError(str(source.predictions_path), "(file)", "missing: the run has a record but no predictions")
    try:
        items = _item_rows(run, source, list(record.protocol.sources or []))
    except (ValueError, TypeError, KeyError) as error:  # bad JSON or a malformed record
        raise DataError(str(source.predictions_path), "(records)", f"unreadable ({error})") from None
    gold_section = sections.get("gold_text") or {}
    gold = _section_rows(run, gold_section.get("splits", {}), ("accuracy",)) if record.path == "cascade" else []
    return run, items, gold, asr


def load_runs(root: str | Path, run_dirs: list[str | Path] | None = None) -> Runs:
    """Read every finished run below ``root`` (or exactly ``run_dirs``) into :class:`Runs`."""
    if run_dirs is None:
        candidates = finished_run_dirs(root)
    else:
        candidates = [Path(p) for p in run_dirs]
    runs, items, gold, asr, skipped = [], [], [], [], []
    for run_dir in candidates:
        try:
            run, run_items, run_gold, run_asr = read_run(run_dir)
        except (DataError, OSError) as error:
            # one bad run must not sink the report: name it, leave it out, and list it in the report
            log.warning("report: skipped %s", error)
            skipped.append((str(run_dir), str(error)))
            continue
        runs.append(run)
        gold += run_gold
        asr += run_asr
        if run_items is not None:
            items.append(run_items)
    asr_table = pd.DataFrame(asr, columns=["run_dir", "system", "path", "split", "language", "cer", "wer", "n"])
    if items:
        # each cascade item carries its recognizer's CER/WER in its language and split (NaN elsewhere)
        errors = asr_table[["run_dir", "split", "language", "cer", "wer"]].drop_duplicates(
            ["run_dir", "split", "language"]
        )
        errors = errors.rename(columns={"cer": "asr_cer", "wer": "asr_wer"})
        table = pd.concat(items, ignore_index=True).merge(errors, on=["run_dir", "split", "language"], how="left")
    else:
        table = pd.DataFrame(columns=[*ITEM_COLUMNS, *RUN_COLUMNS, "asr_cer", "asr_wer"])
    return Runs(
        items=table,
        runs=pd.DataFrame(runs, columns=RUN_COLUMNS),
        gold=pd.DataFrame(gold, columns=["run_dir", "system", "path", "split", "language", "accuracy", "n"]),
        asr=asr_table,
        skipped=skipped,
    )
