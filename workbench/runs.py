"""A run directory: the unit that sweeps create and reports read.

Layout (every path writes the same)::

    <run_dir>/config.yaml          resolved config (LightningCLI writes it)
    <run_dir>/checkpoints/         model checkpoints
    <run_dir>/predictions.jsonl    one Prediction per evaluated item (the protocol's eval splits)
    <run_dir>/dev_predictions.jsonl  the same for the dev split (``split: dev``), for calibration
    <run_dir>/metrics.json         written last: its presence marks the run finished

``metrics.json`` holds the run record (``record``, see :mod:`workbench.record`), and, for
older readers, ``system, protocol, sources, seed, label_names`` and
``splits.<split>.overall`` / ``splits.<split>.per_language.<lang>`` (accuracy,
macro_f1, n), plus any extra sections a path adds (e.g. the cascade's ``asr`` and
``gold_text`` upper bound).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from workbench.io import atomic_write_json, read_json
from workbench.predictions import Prediction, metrics_by_split, read_predictions, write_predictions
from workbench.protocols import Protocol
from workbench.record import RunRecord, read_record

PREDICTIONS = "predictions.jsonl"
DEV_PREDICTIONS = "dev_predictions.jsonl"
METRICS = "metrics.json"


@dataclass
class RunInfo:
    """What identifies a run in tables: the system, the protocol and the seed."""

    system: str
    protocol: Protocol
    seed: int
    label_names: list[str]


class RunDir:
    def __init__(self, path: str | Path):
        self.path = Path(path)

    @property
    def predictions_path(self) -> Path:
        return self.path / PREDICTIONS

    @property
    def dev_predictions_path(self) -> Path:
        return self.path / DEV_PREDICTIONS

    @property
    def metrics_path(self) -> Path:
        return self.path / METRICS

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    def is_finished(self) -> bool:
        return self.metrics_path.is_file()

    def write_results(
        self,
        records: Sequence[Prediction],
        info: RunInfo,
        extra: dict | None = None,
        record: RunRecord | None = None,
        dev: Sequence[Prediction] = (),
    ) -> dict:
        """Write predictions (and dev predictions), then metrics (last, atomically); return the metrics."""
        self.path.mkdir(parents=True, exist_ok=True)
        write_predictions(self.predictions_path, records)
        if dev:
            write_predictions(self.dev_predictions_path, dev)
        metrics = {
            **({"record": record.to_dict()} if record is not None else {}),
            "system": info.system,
            "protocol": info.protocol.name,
            "sources": info.protocol.sources,
            "protocol_tag": info.protocol.tag,
            "seed": info.seed,
            "label_names": info.label_names,
            **metrics_by_split(records, len(info.label_names)),
            **(extra or {}),
        }
        atomic_write_json(self.metrics_path, metrics)
        return metrics

    def write_metrics(self, record: RunRecord, extra: dict) -> dict:
        """metrics.json of a run without class predictions (a recognizer): the record + ``extra``."""
        metrics = {"record": record.to_dict(), **extra}
        atomic_write_json(self.metrics_path, metrics)
        return metrics

    def metrics(self) -> dict:
        return read_json(self.metrics_path)

    def predictions(self) -> list[dict]:
        return read_predictions(self.predictions_path)

    def dev_predictions(self) -> list[dict]:
        """The dev split's predictions (empty when the run had no dev split)."""
        path = self.dev_predictions_path
        return read_predictions(path) if path.is_file() else []

    def record(self) -> RunRecord:
        return read_record(self.path)
