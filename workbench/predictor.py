"""``load_run(path) -> Predictor``: the one door from a finished run directory to predictions.

The run's kind comes from its record (``metrics.json`` -> ``record.kind``), never from
config keys or names. Every predictor loads ``checkpoints/best.ckpt`` with
``weights_only=True`` (tensors and plain containers only: a run directory may come from
anyone) and predicts through the same code as the program's test step (the module's
``predict_step`` for E2E speech, ``predict_texts`` for the cascade's classifier,
``logits`` for vision).

API (every kind)::

    predictor = load_run("runs/x")
    predictor.kind, .system, .record, .label_names, .languages, .checkpoint, .run_dir
    predictor.predict_items(items)      # -> probabilities (n, C); transcripts for a recognizer
    predictor.predict(signal, language) # one 16 kHz waveform (speech) or PIL image (vision, OCR cascade)
"""

from __future__ import annotations

import contextlib
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from workbench.errors import ConfigError, DataError, WorkbenchError
from workbench.items import Item
from workbench.record import RunRecord, read_record
from workbench.runs import RunDir

BEST_CHECKPOINT = Path("checkpoints") / "best.ckpt"


def read_config(run_dir: str | Path) -> dict:
    """The resolved config a run saved (``<run_dir>/config.yaml``)."""
    import yaml

    path = Path(run_dir) / "config.yaml"
    if not path.is_file():
        raise ConfigError(f"run '{run_dir}': no config.yaml (not a run directory, or the run never started)")
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def instantiate(spec: dict | str | None):
    """A component from its config (``{"class_path": ..., "init_args": {...}}``); None stays None."""
    if spec is None:
        return None
    from lightning.pytorch.cli import instantiate_class

    return instantiate_class((), {"class_path": spec} if isinstance(spec, str) else spec)


def best_checkpoint(run_dir: str | Path) -> Path:
    """``<run_dir>/checkpoints/best.ckpt`` (every program writes it); ConfigError when absent."""
    path = Path(run_dir) / BEST_CHECKPOINT
    if not path.is_file():
        raise ConfigError(f"run '{run_dir}': no {BEST_CHECKPOINT}")
    return path


def load_state(checkpoint: Path) -> dict:
    # weights_only: tensors and plain containers only, never arbitrary pickled objects
    return torch.load(checkpoint, map_location="cpu", weights_only=True)


def tested_languages(record: RunRecord) -> list[str]:
    return list(record.protocol.targets)


class Predictor:
    """A finished run, ready to predict. Subclasses load the model and implement the predictions."""

    kind = ""

    def __init__(self, run_dir: str | Path, record: RunRecord | None = None):
        self.run_dir = Path(run_dir)
        self.record = record or read_record(self.run_dir)
        self.system = self.record.system
        self.label_names = list(self.record.label_names)
        self.languages = tested_languages(self.record)
        self.checkpoint = best_checkpoint(self.run_dir)

    def predict_items(self, items: list[Item]) -> list[list[float]]:
        """Class probabilities ``(len(items), C)`` in item order."""
        raise NotImplementedError

    def predict(self, signal, language: str | None = None) -> list[float]:
        """Class probabilities ``(C,)`` of one input."""
        raise NotImplementedError


class SpeechPredictor(Predictor):
    """An E2E speech run (``kind`` ``e2e``): 16 kHz waveforms -> class probabilities."""

    kind = "e2e"

    def __init__(self, run_dir: str | Path, record: RunRecord | None = None):
        super().__init__(run_dir, record)
        from speech.model import SpeechClassifier

        config = read_config(self.run_dir)["model"]
        state = load_state(self.checkpoint)
        hparams = {k: v for k, v in state["hyper_parameters"].items() if not k.startswith("_")}
        hparams = SpeechClassifier.current_hparams(hparams)
        hparams["init_from"] = None  # the checkpoint's weights replace any initialisation
        hparams["cache_dir"] = None  # serving never reads or writes the frozen-encoder cache
        encoder, pooling = instantiate(config["encoder"]), instantiate(config.get("pooling"))
        self.model = SpeechClassifier(encoder=encoder, pooling=pooling, **hparams)
        self.model.load_state_dict(state["state_dict"])
        self.model.eval()

    @torch.no_grad()
    def predict_waves(self, waves: list[np.ndarray]) -> list[list[float]]:
        """Probabilities of each ``(samples,)`` float32 wave, one clip per forward pass (no padding)."""
        out = []
        for wave in waves:
            tensor = torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32))[None]
            batch = {
                "waves": tensor,
                "lengths": torch.tensor([tensor.shape[1]]),
                "keys": [""],
                "index": torch.tensor([0]),
            }
            out.append(self.model.predict_step(batch, 0)[1][0].tolist())
        return out

    def predict_items(self, items: list[Item]) -> list[list[float]]:
        from speech.audio import load_audio

        return self.predict_waves([load_audio(i.audio, where=f"item '{i.id}'") for i in items])

    def predict(self, signal: np.ndarray, language: str | None = None) -> list[float]:
        return self.predict_waves([signal])[0]


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


class CascadePredictor(Predictor):
    """A cascade run (``kind`` ``cascade``): recognize -> romanize (if the run did) -> classify.

    Speech cascades take 16 kHz waves; image cascades (an OCR recognizer, ``signal = "image"``,
    ``record.modality`` ``image``) take PIL images or image paths, items by their ``image``.
    """

    kind = "cascade"

    def __init__(self, run_dir: str | Path, record: RunRecord | None = None):
        super().__init__(run_dir, record)
        from cascade.classifier import TextClassifier

        config = read_config(self.run_dir)
        data = config.get("data") or {}
        self.script = data.get("script") or data.get("text") or "native"  # data.text: runs before data.script
        self.recognizer = instantiate(data.get("recognizer"))
        state = load_state(self.checkpoint)
        model_cfg = dict(config["model"])
        text_model = instantiate(model_cfg.pop("model"))
        hparams = {k: v for k, v in state["hyper_parameters"].items() if not k.startswith("_") and k != "model"}
        self.classifier = TextClassifier(model=text_model, **hparams)
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

    def classify(self, texts: list[str]) -> list[list[float]]:
        """Class probabilities of texts (already native or romanized, as the run classifies)."""
        return self.classifier.predict_texts(texts).tolist()

    def texts(self, transcripts: list[str], languages: list[str | None]) -> list[str]:
        """What the classifier reads: the transcripts, romanized when the run classifies romanized
        text and the recognizer writes native script."""
        if self.script != "romanized" or self.recognizer.script == "romanized":
            return transcripts
        from workbench.romanize import romanize

        return [romanize(t, lang) if t.strip() else "" for t, lang in zip(transcripts, languages, strict=True)]

    def read_items(self, items: list[Item]) -> list:
        """The recognizer's inputs of ``items``: waves, or what an OCR recognizer reads from ``item.image``."""
        from speech.audio import load_audio

        if self.signal != "image":
            return [load_audio(i.audio, where=f"item '{i.id}'") for i in items]
        for item in items:
            if not item.image:
                raise DataError(f"item '{item.id}'", "image", "an image cascade needs the item's image")
        return [self.recognizer.read(i.image, f"item '{i.id}'") for i in items]

    def predict_items(self, items: list[Item]) -> list[list[float]]:
        self._need_recognizer()
        languages = [i.language for i in items]
        return self.classify(self.texts(self.recognizer.transcribe(self.read_items(items), languages), languages))

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
            from workbench.romanize import romanize

            romanized = romanize(transcript, language) if transcript.strip() else ""
        text = romanized if self.script == "romanized" else transcript
        return CascadeResult(transcript, romanized, text, self.classify([text])[0], language, note)

    def predict(self, signal, language: str | None = None) -> list[float]:
        return self.run_cascade(signal, language).probs


class VisionPredictor(Predictor):
    """A vision run (``kind`` ``vision``): image + language -> probabilities, native or romanized prompts
    (an open_clip model's class prompts, or a generative VLM's question and class names)."""

    kind = "vision"

    def __init__(self, run_dir: str | Path, record: RunRecord | None = None):
        super().__init__(run_dir, record)
        from vision.module import VisionCLIP
        from vision.vlm import VisionVLM

        # a generative VLM scoring class names (record.model.family "vlm"), else open_clip
        module = VisionVLM if self.record.model.get("family") == "vlm" else VisionCLIP
        self.model = module.load_from_checkpoint(str(self.checkpoint), map_location="cpu", weights_only=True)
        self.model.eval()
        self.languages = sorted(self.model.class_names)

    def prompts(self, language: str, script: str | None = None) -> list[str]:
        """The class prompts of ``language`` in ``script`` (default: the run's own)."""
        saved = self.model.prompt_cfg
        self.model.prompt_cfg = replace(saved, script=script or saved.script)
        try:
            return self.model.prompt_texts(language)
        finally:
            self.model.prompt_cfg = saved

    @torch.no_grad()
    def predict_images(self, images: list, languages: list[str], script: str | None = None) -> list[list[float]]:
        """PIL images with their languages -> probabilities ``(n, C)``."""
        for language in set(languages):
            if language not in self.model.class_names:
                raise ConfigError(f"language '{language}': this vision run knows {self.languages}")
        pixels = torch.stack([self.model.preprocess_val(image.convert("RGB")) for image in images])
        saved = self.model.prompt_cfg
        self.model.prompt_cfg = replace(saved, script=script or saved.script)
        try:
            logits = self.model.logits(pixels, languages, cached=False)
        finally:
            self.model.prompt_cfg = saved
        return torch.softmax(logits.float(), dim=-1).tolist()

    def predict_items(self, items: list[Item]) -> list[list[float]]:
        from vision.datamodule import open_image

        size = getattr(self.model, "input_size", None)  # decoded as in training (vision.datamodule)
        images = [open_image(i.image, f"item '{i.id}'", size) for i in items]
        return self.predict_images(images, [i.language for i in items])

    def predict(self, signal, language: str | None = None, script: str | None = None) -> list[float]:
        if language is None:
            raise ConfigError(f"run '{self.run_dir}': a vision prediction needs the image's language")
        return self.predict_images([signal], [language], script)[0]


class RecognizerPredictor(Predictor):
    """A recognizer run (``kind`` ``recognizer``): waveforms -> transcripts (``predict`` returns text)."""

    kind = "recognizer"

    def __init__(self, run_dir: str | Path, record: RunRecord | None = None):
        super().__init__(run_dir, record)
        from cascade.recognizers import CTCCheckpointRecognizer

        self.recognizer = CTCCheckpointRecognizer(str(self.checkpoint), device="cpu")

    def predict_items(self, items: list[Item]) -> list[str]:
        from speech.audio import load_audio

        waves = [load_audio(i.audio, where=f"item '{i.id}'") for i in items]
        return self.recognizer.transcribe(waves, [i.language for i in items])

    def predict(self, signal: np.ndarray, language: str | None = None) -> str:
        return self.recognizer.transcribe([signal], [language])[0]


PREDICTORS: dict[str, type[Predictor]] = {
    "e2e": SpeechPredictor,
    "cascade": CascadePredictor,
    "vision": VisionPredictor,
    "recognizer": RecognizerPredictor,
}


def load_run(run_dir: str | Path) -> Predictor:
    """The predictor of a finished run, chosen by its record's ``kind``."""
    record = read_record(run_dir)
    return PREDICTORS[record.kind](run_dir, record)


def find_runs(paths: list[str | Path], depth: int = 4) -> list[tuple[Path, RunRecord]]:
    """Finished runs (a ``metrics.json`` with a record, and ``best.ckpt``) under ``paths``
    (each a run directory or a folder of runs, searched ``depth`` levels deep), sorted."""
    found: dict[Path, RunRecord] = {}
    patterns = ["metrics.json"] + ["/".join(["*"] * d) + "/metrics.json" for d in range(1, depth)]
    for root in map(Path, paths):
        for metrics in (m for pattern in patterns for m in root.glob(pattern)):
            run = metrics.parent.resolve()
            if run in found or not (run / BEST_CHECKPOINT).is_file():
                continue
            try:
                found[run] = RunDir(run).record()
            except (
                WorkbenchError,
                ValueError,
                OSError,
            ):  # an older run without a record, or a half-written one: not servable
                continue
    return sorted(found.items())
