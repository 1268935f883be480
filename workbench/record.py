"""The run record: what a run is, written into ``metrics.json`` under ``"record"``.

It is the contract between the training programs (which write it) and the sweep, the
report and the demo (which read it). Nothing downstream parses a protocol tag, guesses what
a run is from config keys, or decides E2E vs cascade from a system name: it reads this.
A run is its ``path`` (how the input becomes a prediction) on its ``modality`` (the input).
Where it is stored is :mod:`workbench.runs`' business.

``SCHEMA`` is bumped whenever a field changes meaning; a reader refuses any other schema
(a run written before is rerun, not translated).
"""

from __future__ import annotations

import subprocess
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

from workbench.errors import DataError

SCHEMA = 2  # 2: ``path`` x ``modality`` replaced ``kind``
# e2e: one model, input -> class; cascade: recognizer -> (romanizer) -> text classifier;
# recognizer: input -> text (the cascade's first stage, trained on its own)
PATHS = ("e2e", "cascade", "recognizer")
MODALITIES = ("speech", "image")
StoppedBy = Literal["early_stopping", "max_epochs", "max_steps", "max_time", "interrupted", "none"]


@dataclass
class ProtocolRecord:
    """The protocol as a structure: ``name``, training ``sources``, tested ``targets``."""

    name: str
    sources: list[str]
    targets: list[str]

    @property
    def tag(self) -> str:
        """Display label only (``zero_shot-eng``); never parsed back."""
        return (
            self.name if self.name == "all_languages" or not self.sources else f"{self.name}-{'+'.join(self.sources)}"
        )


@dataclass
class TrainingRecord:
    """How training went and why it ended (written by :mod:`workbench.program`).

    ``stopped_by``: ``early_stopping`` (an EarlyStopping callback stopped it), ``max_time``
    (Lightning's Timer), ``max_steps``, ``max_epochs``, ``interrupted`` (anything else: a
    callback, Ctrl-C) or ``none`` (not trained here, e.g. ``vision.fit --fit false``).
    ``steps``: optimizer steps (``trainer.global_step``); ``epochs``: epochs begun
    (``trainer.current_epoch`` at the end, = completed epochs after a full epoch);
    ``monitor`` / ``best_dev``: the dev metric ``best.ckpt`` was chosen by and its value
    (None when no validation ran); ``train_seconds``: wall time of the fit in this process.
    ``checks_since_best``: dev checks after the best one when the fit ended (0: the last check was
    the best, so a fit stopped by ``max_steps``/``max_epochs`` was still improving; None: no
    early-stopping callback counted them).
    ``device``: what trained it (``cuda: <GPU name>`` or ``cpu (<machine>, <n> threads)``);
    ``params_total`` / ``params_trainable``: the trained module's parameters (a cascade's text
    classifier only: its recognizer is a run of its own); ``predict_seconds_per_item``: wall
    seconds of the evaluation (evaluated splits and dev, best checkpoint loaded) per item predicted.
    """

    stopped_by: str = "none"
    steps: int = 0
    epochs: int = 0
    monitor: str | None = None
    best_dev: float | None = None
    train_seconds: float | None = None
    checks_since_best: int | None = None
    device: str | None = None
    params_total: int | None = None
    params_trainable: int | None = None
    predict_seconds_per_item: float | None = None


@dataclass
class RunRecord:
    """What one run is: its ``path`` (one of ``PATHS``) on its ``modality`` (one of ``MODALITIES``).

    The report pairs runs of the two predicting paths on the same modality, protocol and items.
    """

    path: str
    modality: str
    system: str
    protocol: ProtocolRecord
    seed: int
    label_names: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)  # {"source": ..., "digest": ...}
    model: dict[str, Any] = field(default_factory=dict)  # identity of the model (encoder, recognizer, ...)
    training: TrainingRecord = field(default_factory=TrainingRecord)
    # how this run's settings were chosen: None when hand-set; set by ``python -m workbench.tune``:
    # {"trials": finished trials, "search_space": {...}, "study": "<studies.db>#<name>",
    #  "best_trial": k, "best_params": {...}, "best_dev": dev score of the winning trial}
    tuning: dict[str, Any] | None = None
    version: str = ""
    commit: str | None = None
    schema: int = SCHEMA

    def __post_init__(self) -> None:
        if self.path not in PATHS:
            raise DataError("run record", "path", f"'{self.path}' is not one of {PATHS}")
        if self.modality not in MODALITIES:
            raise DataError("run record", "modality", f"'{self.modality}' is not one of {MODALITIES}")
        if isinstance(self.protocol, dict):
            self.protocol = ProtocolRecord(**self.protocol)
        if isinstance(self.training, dict):
            self.training = TrainingRecord(**self.training)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict, where: str = "run record") -> RunRecord:
        schema = data.get("schema")
        if schema != SCHEMA:
            newer = isinstance(schema, int) and schema > SCHEMA
            what = "newer than this code's; update it" if newer else "older than this code's; rerun the run"
            raise DataError(where, "record.schema", f"schema {schema} is {what} ({SCHEMA})")
        try:
            return cls(**data)
        except TypeError as error:
            raise DataError(where, "record", f"malformed run record ({error})") from None


def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("xling-workbench")
    except PackageNotFoundError:
        return "unknown"


@cache
def git_commit() -> str | None:
    """The checkout's commit (with ``+dirty`` for uncommitted changes), or None outside git."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "")
