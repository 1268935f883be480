"""The demo's view of run directories: :func:`workbench.predictor.load_run` plus what only a UI needs.

What a run is comes from its record (``metrics.json`` -> ``record.kind``); the models are
loaded and run by :mod:`workbench.predictor` (``best.ckpt``, ``weights_only=True``). This
module adds the demo's conveniences and imports no model internals:

- :class:`CascadeModel`: the cascade predictor, choosing the language by detection when the
  user gives none (:mod:`apps.langid`);
- :class:`VisionModel`: ``predict(image, language, script) -> (probabilities, prompts)``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from workbench.errors import ConfigError
from workbench.predictor import (
    CascadePredictor,
    CascadeResult,
    SpeechPredictor,
    VisionPredictor,
    best_checkpoint,
    find_runs,
    instantiate,
    read_config,
)
from workbench.record import read_record

__all__ = [
    "CascadeModel",
    "CascadeResult",
    "E2EModel",
    "VisionModel",
    "best_checkpoint",
    "discover_runs",
    "instantiate",
    "load_run",
    "read_config",
]

E2EModel = SpeechPredictor  # one 16 kHz waveform -> probabilities: ``predict(wave)``


class CascadeModel(CascadePredictor):
    """A cascade run for the demo: the language is given, or detected among ``candidates``."""

    def predict(self, wave: np.ndarray, language: str | None = None, candidates: list[str] | None = None):
        """Transcribe, romanize and classify one clip -> :class:`CascadeResult`."""
        from apps.langid import detect_for_cascade

        self._need_recognizer()
        candidates = candidates or self.languages
        if language is not None:
            return self.run_cascade(wave, language, "given")
        if self.recognizer.uses_language:
            language, note = detect_for_cascade(self.recognizer, wave, None, candidates)
            return self.run_cascade(wave, language, note)
        transcript = self.recognizer.transcribe([wave], [None])[0]
        if self.recognizer.script == "romanized":
            note = "not needed: the recognizer is language-agnostic and writes romanized text"
            return self.run_cascade(wave, None, note, transcript)
        language, note = detect_for_cascade(self.recognizer, wave, transcript, candidates)
        return self.run_cascade(wave, language, note, transcript)


class VisionModel(VisionPredictor):
    """A vision run for the demo: probabilities and the prompts used, in either script."""

    def predict(self, image, language: str, script: str | None = None) -> tuple[list[float], list[str]]:
        """PIL image -> (probabilities ``(C,)``, the prompts used) with ``script`` prompts."""
        probs = self.predict_images([image], [language], script)[0]
        return probs, self.prompts(language, script)


LOADERS = {"e2e": E2EModel, "cascade": CascadeModel, "vision": VisionModel}


def load_run(run_dir: str | Path):
    """The demo model of a run directory, by the kind its record states."""
    record = read_record(run_dir)
    if record.kind not in LOADERS:
        raise ConfigError(f"run '{run_dir}': a {record.kind} run has no place in the demo")
    return LOADERS[record.kind](run_dir, record)


def discover_runs(paths: list[str | Path]) -> dict[str, list[Path]]:
    """``{kind: [run dirs]}`` (E2E, cascade, vision) of the finished runs under ``paths``."""
    found: dict[str, list[Path]] = {kind: [] for kind in LOADERS}
    for run, record in find_runs(paths):
        if record.kind in found:
            found[record.kind].append(run)
    return found
