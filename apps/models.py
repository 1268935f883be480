"""The demo's models: a run's predictor (:func:`workbench.predictor.load_run`) plus what only a UI needs.

What a run is comes from its record (``record.path`` x ``record.modality``); the models are
the packages' predictors (best checkpoint, ``weights_only=True``). This module adds the
demo's conveniences:

- :class:`CascadeModel`: the cascade predictor (speech or OCR), choosing the language by
  detection when the user gives none (:mod:`apps.langid`);
- :class:`VisionModel`: ``predict(image, language, script) -> (probabilities, prompts)``.
"""

from __future__ import annotations

from pathlib import Path

from apps.registry import demo_kind
from cascade.predict import CascadePredictor, CascadeResult
from vision.predict import VisionPredictor
from workbench.errors import ConfigError
from workbench.predictor import load_run
from workbench.runs import RunDir

__all__ = ["CascadeModel", "CascadeResult", "VisionModel", "demo_model"]


class CascadeModel(CascadePredictor):
    """A cascade run for the demo: the language is given, or detected among ``candidates``.

    Speech cascades take a 16 kHz wave; image cascades (OCR) a PIL image or an image path.
    """

    def predict(self, signal, language: str | None = None, candidates: list[str] | None = None):
        """Transcribe (or read), romanize and classify one clip or image -> :class:`CascadeResult`."""
        from apps.langid import detect_for_cascade

        self._need_recognizer()
        candidates = candidates or self.languages
        if language is not None:
            return self.run_cascade(signal, language, "given")
        if self.recognizer.uses_language and self.signal == "image":
            return self.read_any_language(signal, candidates)
        if self.recognizer.uses_language:
            language, note = detect_for_cascade(self.recognizer, signal, None, candidates)
            return self.run_cascade(signal, language, note)
        transcript = self.transcribe(signal, None)
        if self.recognizer.script == "romanized":
            note = "not needed: the recognizer is language-agnostic and writes romanized text"
            return self.run_cascade(signal, None, note, transcript)
        language, note = detect_for_cascade(self.recognizer, signal, transcript, candidates)
        return self.run_cascade(signal, language, note, transcript)

    def read_any_language(self, image, candidates: list[str]):
        """An OCR that needs the language, none given: read the image with every candidate's model at
        once (Tesseract's ``eng+rus+...``), take the language from the script of what was read, and
        read it again in that language alone (one language's model reads its script best)."""
        from apps.langid import language_from_script

        combined = getattr(self.recognizer, "combined_language", lambda languages: None)(candidates)
        if combined is None:
            fallback = candidates[0] if candidates else None
            return self.run_cascade(image, fallback, f"this recognizer cannot detect the language: using {fallback}")
        first = self.transcribe(image, combined)
        language, note = language_from_script(first, candidates)
        if language is None:
            return self.run_cascade(image, None, f"{note} (read with {combined})", first)
        return self.run_cascade(image, language, f"{note}, read with {combined} first")


class VisionModel(VisionPredictor):
    """A vision run for the demo: probabilities and the prompts used, in either script."""

    def predict(self, image, language: str, script: str | None = None) -> tuple[list[float], list[str]]:
        """PIL image -> (probabilities ``(C,)``, the prompts used) with ``script`` prompts."""
        probs = self.predict_images([image], [language], script)[0]
        return probs, self.prompts(language, script)


# the demo's own subclass of a run's predictor, by (path, modality); the other served runs as loaded
DEMO_MODELS = {("cascade", "speech"): CascadeModel, ("cascade", "image"): CascadeModel, ("e2e", "image"): VisionModel}


def demo_model(run_dir: str | Path):
    """The demo model of a run directory, by the path and modality its record states."""
    record = RunDir(run_dir).record()
    if demo_kind(record) is None:
        raise ConfigError(f"run '{run_dir}': a {record.path} run on {record.modality} has no place in the demo")
    model = DEMO_MODELS.get((record.path, record.modality))
    return model(run_dir, record) if model else load_run(run_dir)
