"""Inference over run directories: the thin adapters the demo needs, built on the paths' own modules.

Each path saves a run directory (``config.yaml``, ``checkpoints/``, ``metrics.json``); none
ships a "load a run, predict one input" entry point except the cascade classifier's
``predict_texts`` and the recognizers' ``transcribe``, so this module rebuilds each model from
the run's resolved ``config.yaml`` (components by ``class_path``) and loads its best
checkpoint's weights:

- :class:`E2EModel`: ``speech.model.SpeechClassifier`` -> class probabilities of one waveform;
- :class:`CascadeModel`: recognizer (``data.recognizer`` of the run) -> uroman (when the
  run classifies romanized text and the recognizer writes native script) ->
  ``cascade.classifier.TextClassifier``;
- :class:`VisionModel`: ``vision.module.VisionCLIP`` with native or romanized class prompts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import yaml

from workbench.errors import ConfigError

log = logging.getLogger(__name__)


def read_config(run_dir: str | Path) -> dict:
    """The resolved LightningCLI config a run saved (``<run_dir>/config.yaml``)."""
    path = Path(run_dir) / "config.yaml"
    if not path.is_file():
        raise ConfigError(f"run '{run_dir}': no config.yaml (not a run directory, or the run never started)")
    return yaml.safe_load(path.read_text()) or {}


def run_kind(run_dir: str | Path) -> str | None:
    """``e2e``, ``cascade``, ``asr`` or ``vision`` from the run's config; None when unknown."""
    try:
        config = read_config(run_dir)
    except ConfigError:
        return None
    model, data = config.get("model") or {}, config.get("data") or {}
    if "model_name" in model:
        return "vision"
    if "target" in data:
        return "asr"
    if "recognizer" in data or "train_on" in data:
        return "cascade"
    if "encoder" in model and "pooling" in model:
        return "e2e"
    return None


def best_checkpoint(run_dir: str | Path) -> Path:
    """The checkpoint to serve: ``best*.ckpt`` (newest), else ``last.ckpt``.

    Raises:
        ConfigError: the run has no checkpoint.
    """
    folder = Path(run_dir) / "checkpoints"
    best = sorted(folder.glob("best*.ckpt"), key=lambda p: p.stat().st_mtime)
    if best:
        return best[-1]
    if (folder / "last.ckpt").is_file():
        return folder / "last.ckpt"
    raise ConfigError(f"run '{run_dir}': no checkpoint in {folder}")


def instantiate(spec: dict | None):
    """A component from its config (``{"class_path": ..., "init_args": {...}}``); None stays None."""
    if spec is None:
        return None
    from lightning.pytorch.cli import instantiate_class

    if isinstance(spec, str):
        spec = {"class_path": spec}
    return instantiate_class((), spec)


def _state_dict(checkpoint: Path) -> dict:
    # tensors and plain containers only: a run directory may come from anyone (--runs DIR)
    return torch.load(checkpoint, map_location="cpu", weights_only=True)


def run_label_names(run_dir: Path, fallback: int) -> list[str]:
    """Class names from ``metrics.json`` (finished runs), else ``class 0 .. n-1``."""
    metrics = Path(run_dir) / "metrics.json"
    if metrics.is_file():
        import json

        names = json.loads(metrics.read_text()).get("label_names")
        if names:
            return list(names)
    return [f"class {i}" for i in range(fallback)]


def run_languages(run_dir: Path) -> list[str]:
    """Languages a run was evaluated on (``metrics.json`` per-language keys), sorted."""
    metrics = Path(run_dir) / "metrics.json"
    if not metrics.is_file():
        return []
    import json

    found: set[str] = set()
    data = json.loads(metrics.read_text())
    for scores in (data.get("splits") or {}).values():
        found.update((scores.get("per_language") or {}).keys())
    return sorted(found)


class E2EModel:
    """An E2E speech classifier run: one 16 kHz waveform -> class probabilities.

    Args:
        run_dir: a ``python -m speech.fit`` run directory.
    """

    kind = "e2e"

    def __init__(self, run_dir: str | Path):
        from speech.model import SpeechClassifier

        self.run_dir = Path(run_dir)
        config = read_config(run_dir)["model"]
        self.checkpoint = best_checkpoint(run_dir)
        ckpt = _state_dict(self.checkpoint)
        hparams = {k: v for k, v in ckpt["hyper_parameters"].items() if not k.startswith("_")}
        hparams["init_from"] = None  # the checkpoint's weights replace any initialisation
        hparams["cache_dir"] = None  # never read or write the frozen-encoder cache when serving
        self.model = SpeechClassifier(
            encoder=instantiate(config["encoder"]), pooling=instantiate(config.get("pooling")), **hparams
        )
        self.model.load_state_dict(ckpt["state_dict"])
        self.model.eval()
        self.label_names = run_label_names(self.run_dir, self.model.hparams.num_classes)
        self.languages = run_languages(self.run_dir)
        self.system = self.model.system

    @torch.no_grad()
    def predict(self, wave: np.ndarray) -> list[float]:
        """``(samples,)`` float32 16 kHz -> probabilities ``(num_classes,)``."""
        waves = torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32))[None]
        batch = {"waves": waves, "lengths": torch.tensor([waves.shape[1]]), "keys": ["demo"]}
        if self.model.mode == "frozen":  # frozen mode reads a cache keyed by content; serve uncached
            out = self.model.encoder(batch["waves"], batch["lengths"])
            frames = self.model.mix(out.layers) if self.model.mix is not None else out.hidden
            logits = self.model.head(self.model.pooling(frames.float(), out.lengths))
        else:
            logits = self.model(batch)
        return torch.softmax(logits.float(), dim=-1)[0].tolist()


@dataclass
class CascadeResult:
    """What the cascade made of one clip.

    Attributes:
        transcript: the recognizer's output as written.
        romanized: the romanized transcript (the recognizer's own when it writes romanized text).
        text: what the classifier read.
        probs: class probabilities.
        language: the language used (given or detected), None when nothing needed one.
        language_note: how the language was chosen, for the UI.
    """

    transcript: str
    romanized: str
    text: str
    probs: list[float]
    language: str | None
    language_note: str


class CascadeModel:
    """A cascade run: recognize -> romanize -> classify one waveform.

    Args:
        run_dir: a ``python -m cascade.fit`` run directory (its ``data.recognizer`` config
            names the recognizer, e.g. the ``fit_asr`` checkpoint or a Whisper model).
    """

    kind = "cascade"

    def __init__(self, run_dir: str | Path):
        from cascade.classifier import TextClassifier

        self.run_dir = Path(run_dir)
        config = read_config(run_dir)
        data = config.get("data") or {}
        self.text_kind = data.get("text", "native")
        self.recognizer = instantiate(data.get("recognizer"))
        if self.recognizer is None:
            raise ConfigError(f"run '{run_dir}': a text-only cascade run (no recognizer) cannot take speech")
        self.checkpoint = best_checkpoint(run_dir)
        ckpt = _state_dict(self.checkpoint)
        num_classes = int(ckpt["hyper_parameters"].get("num_classes", 0))
        model_cfg = dict(config["model"])
        text_model = instantiate(model_cfg.pop("model"))
        kwargs = {k: v for k, v in model_cfg.items() if k in ("lr", "weight_decay", "warmup_steps", "label_smoothing")}
        self.classifier = TextClassifier(model=text_model, num_classes=num_classes, **kwargs)
        self.classifier.load_state_dict(ckpt["state_dict"])
        self.classifier.eval()
        self.label_names = run_label_names(self.run_dir, num_classes)
        self.languages = run_languages(self.run_dir)
        self.system = (read_json_or_empty(self.run_dir / "metrics.json").get("system")) or f"ca-{self.text_kind}"

    @property
    def recognizer_name(self) -> str:
        return type(self.recognizer).__name__

    def predict(self, wave: np.ndarray, language: str | None, candidates: list[str] | None = None) -> CascadeResult:
        """Transcribe, romanize and classify; ``language`` None means detect it (see :mod:`apps.langid`)."""
        from apps.langid import detect_for_cascade

        candidates = candidates or self.languages
        note = "given"
        if language is None and self.recognizer.uses_language:
            language, note = detect_for_cascade(self.recognizer, wave, None, candidates)
        transcript = self.recognizer.transcribe([wave], [language])[0]
        if self.recognizer.script == "romanized":
            romanized = transcript
            if language is None:
                note = "not needed: the recognizer is language-agnostic and writes romanized text"
        else:
            if language is None:
                language, note = detect_for_cascade(self.recognizer, wave, transcript, candidates)
            from workbench.romanize import romanize

            romanized = romanize(transcript, language) if transcript.strip() else ""
        text = romanized if self.text_kind == "romanized" else transcript
        probs = self.classifier.predict_texts([text])[0].tolist()
        return CascadeResult(transcript, romanized, text, probs, language, note)


def read_json_or_empty(path: Path) -> dict:
    import json

    return json.loads(path.read_text()) if path.is_file() else {}


class VisionModel:
    """A vision run: image + language -> class probabilities with native or romanized prompts.

    Args:
        run_dir: a ``python -m vision.fit`` run directory.
    """

    kind = "vision"

    def __init__(self, run_dir: str | Path):
        from vision.module import VisionCLIP

        self.run_dir = Path(run_dir)
        self.checkpoint = best_checkpoint(run_dir)
        self.model = VisionCLIP.load_from_checkpoint(str(self.checkpoint), map_location="cpu", weights_only=False)
        self.model.eval()
        self.languages = sorted(self.model.class_names)
        self.label_names = run_label_names(self.run_dir, self.model.num_classes)
        if self.label_names[0] == "class 0" and "eng" in self.model.class_names:
            self.label_names = list(self.model.class_names["eng"])

    def prompts(self, language: str, script: str) -> list[str]:
        from dataclasses import replace

        saved = self.model.prompt_cfg
        self.model.prompt_cfg = replace(saved, script=script)
        try:
            return self.model.prompt_texts(language)
        finally:
            self.model.prompt_cfg = saved

    @torch.no_grad()
    def predict(self, image, language: str, script: str) -> tuple[list[float], list[str]]:
        """PIL image -> (probabilities ``(num_classes,)``, the prompts used) in ``script``."""
        from dataclasses import replace

        if language not in self.model.class_names:
            raise ConfigError(f"language '{language}': this vision run knows {self.languages}")
        pixels = self.model.preprocess_val(image.convert("RGB"))[None]
        saved = self.model.prompt_cfg
        self.model.prompt_cfg = replace(saved, script=script)
        try:
            logits = self.model.logits(pixels, [language], cached=False)
            prompts = self.model.prompt_texts(language)
        finally:
            self.model.prompt_cfg = saved
        return torch.softmax(logits.float(), dim=-1)[0].tolist(), prompts


LOADERS = {"e2e": E2EModel, "cascade": CascadeModel, "vision": VisionModel}


def load_run(run_dir: str | Path):
    """The model of a run directory, by its kind (E2E, cascade, vision)."""
    kind = run_kind(run_dir)
    if kind not in LOADERS:
        raise ConfigError(f"run '{run_dir}': not an E2E, cascade or vision run (kind {kind})")
    return LOADERS[kind](run_dir)


def discover_runs(paths: list[str | Path]) -> dict[str, list[Path]]:
    """``{kind: [run dirs]}`` under ``paths`` (each a run directory or a folder of runs, searched
    3 levels deep), keeping only runs with a checkpoint."""
    found: dict[str, list[Path]] = {"e2e": [], "cascade": [], "vision": []}
    seen: set[Path] = set()
    for root in map(Path, paths):
        candidates = [root] + [p.parent for depth in ("*", "*/*", "*/*/*") for p in root.glob(f"{depth}/config.yaml")]
        for run in candidates:
            run = run.resolve()
            if run in seen or not (run / "config.yaml").is_file():
                continue
            seen.add(run)
            kind = run_kind(run)
            if kind in found and any((run / "checkpoints").glob("*.ckpt")):
                found[kind].append(run)
    return {kind: sorted(runs) for kind, runs in found.items()}
