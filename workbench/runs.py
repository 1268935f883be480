"""A run directory: the unit that programs write and the sweep, the report, the tuner and the demo read.

This module is the one place the layout is spelled; everything else goes through :class:`RunDir`::

    <run_dir>/config.yaml              resolved config (LightningCLI writes it at the fit's start)
    <run_dir>/checkpoints/best.ckpt    the weights evaluated and served (best monitored dev score)
    <run_dir>/checkpoints/last.ckpt    the resumable end state (``--ckpt_path``)
    <run_dir>/predictions.jsonl        one Prediction per evaluated item (the protocol's eval splits)
    <run_dir>/dev_predictions.jsonl    the same for the dev split (``split: dev``), for calibration
    <run_dir>/transcripts.jsonl        a recognizer's transcripts of its evaluated splits
    <run_dir>/metrics.json             written last, atomically: its presence marks the run finished

``metrics.json`` states each fact once::

    {"record": {...RunRecord...},                      what the run is (workbench.record)
     "splits": {"<split>": {"overall": {accuracy, macro_f1, n},
                            "per_language": {"<lang>": {...}}}},   scores of predictions.jsonl
     "sections": {...}}                                what a program adds (the cascade's "asr" and
                                                       "gold_text", a vision run's "prompts", ...)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from workbench.errors import ConfigError, DataError, WorkbenchError
from workbench.io import atomic_write_json, atomic_write_jsonl, read_json
from workbench.predictions import Prediction, metrics_by_split, read_predictions, write_predictions
from workbench.record import RunRecord

CONFIG = "config.yaml"
CHECKPOINTS = "checkpoints"
BEST, LAST = "best", "last"  # checkpoints/<name>.ckpt: ModelCheckpoint's filename
PREDICTIONS = "predictions.jsonl"
DEV_PREDICTIONS = "dev_predictions.jsonl"
TRANSCRIPTS = "transcripts.jsonl"
METRICS = "metrics.json"


class RunDir:
    """One run directory at ``path`` (it need not exist yet)."""

    def __init__(self, path: str | Path):
        # where each part lives
        self.path = Path(path)
        self.config_path = self.path / CONFIG
        self.checkpoints = self.path / CHECKPOINTS
        self.best = self.checkpoints / f"{BEST}.ckpt"
        self.last = self.checkpoints / f"{LAST}.ckpt"
        self.predictions_path = self.path / PREDICTIONS
        self.dev_predictions_path = self.path / DEV_PREDICTIONS
        self.transcripts_path = self.path / TRANSCRIPTS
        self.metrics_path = self.path / METRICS

    def is_finished(self) -> bool:
        return self.metrics_path.is_file()

    # -- writing ---------------------------------------------------------------------------
    def write(
        self,
        record: RunRecord,
        predictions: Sequence[Prediction] | None,
        dev: Sequence[Prediction] = (),
        sections: dict | None = None,
    ) -> dict:
        """Write predictions (and dev predictions), then metrics.json (last, atomically); return it.

        ``predictions`` is None for a run without class predictions (a recognizer): ``splits`` is empty.
        """
        self.path.mkdir(parents=True, exist_ok=True)
        splits = {}
        if predictions is not None:
            write_predictions(self.predictions_path, predictions)
            splits = metrics_by_split(predictions, len(record.label_names))["splits"]
        if dev:
            write_predictions(self.dev_predictions_path, dev)
        metrics = {"record": record.to_dict(), "splits": splits, "sections": dict(sections or {})}
        atomic_write_json(self.metrics_path, metrics)
        return metrics

    def write_transcripts(self, rows: Sequence[dict]) -> Path:
        return atomic_write_jsonl(self.transcripts_path, rows)

    # -- reading ---------------------------------------------------------------------------
    def metrics(self) -> dict:
        """metrics.json; a DataError naming the file when it is not a JSON object."""
        try:
            metrics = read_json(self.metrics_path)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise DataError(str(self.metrics_path), "(file)", f"unreadable JSON ({error})") from None
        if not isinstance(metrics, dict):
            raise DataError(str(self.metrics_path), "(file)", "not a JSON object")
        return metrics

    def record(self) -> RunRecord:
        """The record of a finished run; a DataError naming the file when it has none."""
        metrics = self.metrics()
        if "record" not in metrics:
            raise DataError(str(self.metrics_path), "record", "no run record (written by an older version?); rerun it")
        return RunRecord.from_dict(metrics["record"], where=str(self.metrics_path))

    def sections(self) -> dict:
        """What the program added to metrics.json (``asr``, ``gold_text``, ...)."""
        return self.metrics().get("sections") or {}

    def predictions(self) -> list[dict]:
        return read_predictions(self.predictions_path)

    def dev_predictions(self) -> list[dict]:
        """The dev split's predictions (empty when the run had no dev split)."""
        path = self.dev_predictions_path
        return read_predictions(path) if path.is_file() else []

    def config(self) -> dict:
        """The resolved config the run saved; a ConfigError when there is none."""
        import yaml

        if not self.config_path.is_file():
            raise ConfigError(f"run '{self.path}': no {CONFIG} (not a run directory, or the run never started)")
        return yaml.safe_load(self.config_path.read_text(encoding="utf-8")) or {}

    def best_checkpoint(self) -> Path:
        """``best.ckpt`` (every program writes it); a ConfigError when absent."""
        if not self.best.is_file():
            raise ConfigError(f"run '{self.path}': no {self.best.relative_to(self.path)}")
        return self.best


def read_record(run_dir: str | Path) -> RunRecord:
    """The record of the finished run in ``run_dir`` (:meth:`RunDir.record`)."""
    return RunDir(run_dir).record()


def finished_run_dirs(root: str | Path, depth: int | None = None) -> list[Path]:
    """Every directory at or below ``root`` holding a metrics.json (``depth`` levels at most; None: any), sorted."""
    root = Path(root)
    if depth is None:
        return sorted(p.parent for p in root.rglob(METRICS))
    patterns = [METRICS] + ["/".join(["*"] * d) + "/" + METRICS for d in range(1, depth)]
    return sorted({m.parent for pattern in patterns for m in root.glob(pattern)})


def find_runs(paths: Sequence[str | Path], depth: int = 4) -> list[tuple[Path, RunRecord]]:
    """Servable runs (a metrics.json with a record, and ``best.ckpt``) under ``paths`` (each a run
    directory or a folder of runs, searched ``depth`` levels deep), sorted by path."""
    found: dict[Path, RunRecord] = {}
    for root in paths:
        for run_dir in finished_run_dirs(root, depth):
            run = RunDir(run_dir.resolve())
            if run.path in found or not run.best.is_file():
                continue
            try:
                found[run.path] = run.record()
            except (WorkbenchError, ValueError, OSError):  # a run without a record, or a half-written one
                continue
    return sorted(found.items())
