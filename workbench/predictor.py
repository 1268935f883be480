"""``load_run(path) -> Predictor``: the one door from a finished run directory to predictions.

What a run is comes from its record (``record.path`` x ``record.modality``), never from config
keys or names. Each package registers the predictor of its runs when its ``predict`` module
is imported (:func:`register`); :func:`load_run` imports the module :data:`PACKAGES` names
for the record and builds its predictor. Every predictor loads the run's best checkpoint
with ``weights_only=True`` (tensors and plain containers only: a run directory may come
from anyone) and predicts through the same code as the program's test step.

API (every run)::

    predictor = load_run("runs/x")
    predictor.system, .record, .label_names, .languages, .checkpoint, .run_dir
    predictor.predict_items(items)      # -> probabilities (n, C); transcripts for a recognizer
    predictor.predict(signal, language) # one 16 kHz waveform (speech) or PIL image (image runs)
"""

from __future__ import annotations

import importlib
from pathlib import Path

import torch

from workbench.errors import ConfigError
from workbench.items import Item
from workbench.record import RunRecord
from workbench.runs import RunDir

# the package whose ``predict`` module registers the predictor of each (path, modality)
PACKAGES = {
    ("e2e", "speech"): "speech",
    ("e2e", "image"): "vision",
    ("cascade", "speech"): "cascade",
    ("cascade", "image"): "cascade",
    ("recognizer", "speech"): "cascade",
    ("recognizer", "image"): "cascade",
}
PREDICTORS: dict[tuple[str, str], type[Predictor]] = {}  # filled by the packages' register calls


def instantiate(spec: dict | str | None):
    """A component from its config (``{"class_path": ..., "init_args": {...}}``); None stays None."""
    if spec is None:
        return None
    from lightning.pytorch.cli import instantiate_class

    return instantiate_class((), {"class_path": spec} if isinstance(spec, str) else spec)


def load_state(checkpoint: Path) -> dict:
    # weights_only: tensors and plain containers only, never arbitrary pickled objects
    return torch.load(checkpoint, map_location="cpu", weights_only=True)


def build(run: RunDir, module_class: type, **kwargs):
    """``module_class(**kwargs)``; a ConfigError naming the run when the checkpoint's
    hyper-parameters do not fit this code (a run written by an older version is rerun)."""
    try:
        return module_class(**kwargs)
    except TypeError as error:
        where = f"run '{run.path}': {run.best.name}"
        raise ConfigError(f"{where} does not fit {module_class.__name__} ({error}); rerun it") from None


class Predictor:
    """A finished run, ready to predict. Subclasses load the model and implement the predictions."""

    def __init__(self, run_dir: str | Path, record: RunRecord | None = None):
        self.run = RunDir(run_dir)
        self.run_dir = self.run.path
        self.record = record or self.run.record()
        self.system = self.record.system
        self.label_names = list(self.record.label_names)
        self.languages = list(self.record.protocol.targets)
        self.checkpoint = self.run.best_checkpoint()

    def predict_items(self, items: list[Item]) -> list[list[float]]:
        """Class probabilities ``(len(items), C)`` in item order."""
        raise NotImplementedError

    def predict(self, signal, language: str | None = None) -> list[float]:
        """Class probabilities ``(C,)`` of one input."""
        raise NotImplementedError


def register(path: str, *modalities: str):
    """Class decorator: the predictor of runs of ``path`` on each of ``modalities``."""

    def add(predictor: type[Predictor]) -> type[Predictor]:
        for modality in modalities:
            PREDICTORS[(path, modality)] = predictor
        return predictor

    return add


def predictor_class(record: RunRecord) -> type[Predictor]:
    """The predictor class of a run, registered by the package :data:`PACKAGES` names for it."""
    key = (record.path, record.modality)
    importlib.import_module(f"{PACKAGES[key]}.predict")
    return PREDICTORS[key]


def load_run(run_dir: str | Path) -> Predictor:
    """The predictor of a finished run, chosen by its record's path and modality."""
    record = RunDir(run_dir).record()
    return predictor_class(record)(run_dir, record)
