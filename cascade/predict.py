"""The predictors of cascade runs (recognize -> romanize -> classify) and of recognizer runs.

Each loads from the run's best checkpoint and config alone; speech cascades take 16 kHz
waves, image cascades (an OCR recognizer) PIL images or image paths.
"""

from __future__ import annotations

import contextlib
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cascade.classifier import TextClassifier
from cascade.recognizers import CTCCheckpointRecognizer
from speech.audio import load_audio
from workbench.errors import ConfigError, DataError
from workbench.items import Item
from workbench.predictor import Predictor, build, instantiate, load_state, register
from workbench.record import RunRecord
from workbench.romanize import romanize


@dataclass
class CascadeResult:
    """What the cascade made of one clip: ``transcript`` (as written), ``romanized``, the ``text``
    the classifier read, ``probs``, the ``language`` used and how it was chosen (``language_note``)."""

    transcript: str
    romanized: str
    text: str
    probs: list[float]
    language: str | None
    language_note: str


@contextlib.contextmanager
def image_input(recognizer, image, where: str = "image"):
    """What an image recognizer's ``transcribe`` takes for one image (a path or a PIL image).

    OCR recognizers read their inputs through ``read(path, where)`` (Tesseract reads the file
    itself), so a PIL image is written to a temporary PNG that lives until the block ends.
    """
    if isinstance(image, (str, Path)):
        yield recognizer.read(str(image), where)
        return
    with tempfile.TemporaryDirectory(prefix="wb-image-") as folder:
        path = Path(folder) / "image.png"
        image.convert("RGB").save(path)  # PNG: lossless, Tesseract reads what the person gave
        yield recognizer.read(str(path), where)


@register("cascade", "speech", "image")
class CascadePredictor(Predictor):
    """A cascade run: recognize -> romanize (if the run did) -> classify.

    Speech cascades take 16 kHz waves; image cascades (an OCR recognizer, ``signal = "image"``,
    ``record.modality`` ``image``) take PIL images or image paths, items by their ``image``.
    """

    def __init__(self, run_dir: str | Path, record: RunRecord | None = None):
        super().__init__(run_dir, record)
        config = self.run.config()
        data = config.get("data") or {}
        self.script = data.get("script") or "native"
        self.recognizer = instantiate(data.get("recognizer"))
        state = load_state(self.checkpoint)
        model_cfg = dict(config["model"])
        text_model = instantiate(model_cfg.pop("model"))
        hparams = {k: v for k, v in state["hyper_parameters"].items() if not k.startswith("_") and k != "model"}
        self.classifier = build(self.run, TextClassifier, model=text_model, **hparams)
        self.classifier.load_state_dict(state["state_dict"])
        self.classifier.eval()

    @property
    def recognizer_name(self) -> str:
        return type(self.recognizer).__name__

    @property
    def signal(self) -> str:
        """``image`` for an OCR recognizer, else ``audio`` (the item field it reads)."""
        return getattr(self.recognizer, "signal", "audio")

    def _need_recognizer(self) -> None:
        if self.recognizer is None:
            raise ConfigError(
                f"run '{self.run_dir}': a text-only cascade run (no recognizer) cannot take speech or images"
            )

    def classify(self, texts: list[str], languages: list[str | None] | None = None) -> list[list[float]]:
        """Class probabilities of texts (already native or romanized, as the run classifies), in their
        ``languages`` (None where unknown; read by models with per-language parts)."""
        return self.classifier.predict_texts(texts, languages).tolist()

    def texts(self, transcripts: list[str], languages: list[str | None]) -> list[str]:
        """What the classifier reads: the transcripts, romanized when the run classifies romanized
        text and the recognizer writes native script."""
        if self.script != "romanized" or self.recognizer.script == "romanized":
            return transcripts
        return [romanize(t, lang) if t.strip() else "" for t, lang in zip(transcripts, languages, strict=True)]

    def read_items(self, items: list[Item]) -> list:
        """The recognizer's inputs of ``items``: waves, or what an OCR recognizer reads from ``item.image``."""
        if self.signal != "image":
            return [load_audio(i.audio, where=f"item '{i.id}'") for i in items]
        for item in items:
            if not item.image:
                raise DataError(f"item '{item.id}'", "image", "an image cascade needs the item's image")
        return [self.recognizer.read(i.image, f"item '{i.id}'") for i in items]

    def predict_items(self, items: list[Item]) -> list[list[float]]:
        self._need_recognizer()
        languages = [i.language for i in items]
        texts = self.texts(self.recognizer.transcribe(self.read_items(items), languages), languages)
        return self.classify(texts, languages)

    def transcribe(self, signal, language: str | None) -> str:
        """The recognizer's text of one input: a 16 kHz wave, or (image cascade) a PIL image or path."""
        self._need_recognizer()
        if self.signal != "image":
            return self.recognizer.transcribe([signal], [language])[0]
        with image_input(self.recognizer, signal) as image:
            return self.recognizer.transcribe([image], [language])[0]

    def run_cascade(
        self, signal, language: str | None, note: str = "given", transcript: str | None = None
    ) -> CascadeResult:
        """Transcribe (unless ``transcript`` is given), romanize and classify one clip (or image, see
        :meth:`transcribe`) in a known language (or none, when the recognizer needs none)."""
        self._need_recognizer()
        if transcript is None:
            transcript = self.transcribe(signal, language)
        romanized = transcript
        if self.recognizer.script == "native" and language is not None:
            romanized = romanize(transcript, language) if transcript.strip() else ""
        text = romanized if self.script == "romanized" else transcript
        return CascadeResult(transcript, romanized, text, self.classify([text], [language])[0], language, note)

    def predict(self, signal, language: str | None = None) -> list[float]:
        return self.run_cascade(signal, language).probs


@register("recognizer", "speech", "image")
class RecognizerPredictor(Predictor):
    """A recognizer run: waveforms -> transcripts (``predict`` returns text)."""

    def __init__(self, run_dir: str | Path, record: RunRecord | None = None):
        super().__init__(run_dir, record)
        self.recognizer = CTCCheckpointRecognizer(str(self.checkpoint), device="cpu")

    def predict_items(self, items: list[Item]) -> list[str]:
        waves = [load_audio(i.audio, where=f"item '{i.id}'") for i in items]
        return self.recognizer.transcribe(waves, [i.language for i in items])

    def predict(self, signal: np.ndarray, language: str | None = None) -> str:
        return self.recognizer.transcribe([signal], [language])[0]
