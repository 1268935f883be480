"""The predictor of an image E2E run (path ``e2e``, modality ``image``): open_clip or a generative VLM."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import torch

from vision.datamodule import open_image
from vision.module import VisionCLIP
from vision.vlm import VisionVLM
from workbench.errors import ConfigError
from workbench.items import Item
from workbench.predictor import Predictor, register
from workbench.record import RunRecord


@contextmanager
def in_script(model, script: str | None):
    """``model``'s prompts (or questions and answers) in ``script`` for a while (None: the run's own)."""
    saved = model.script
    model.script = script or saved
    try:
        yield
    finally:
        model.script = saved


@register("e2e", "image")
class VisionPredictor(Predictor):
    """Image + language -> probabilities, native or romanized prompts (an open_clip model's class
    prompts, or a generative VLM's question and class names)."""

    def __init__(self, run_dir: str | Path, record: RunRecord | None = None):
        super().__init__(run_dir, record)
        # a generative VLM scoring class names (record.model.family "vlm"), else open_clip
        module = VisionVLM if self.record.model.get("family") == "vlm" else VisionCLIP
        self.model = module.load_from_checkpoint(str(self.checkpoint), map_location="cpu", weights_only=True)
        self.model.eval()
        self.languages = sorted(self.model.class_names)

    def prompts(self, language: str, script: str | None = None) -> list[str]:
        """The class prompts of ``language`` in ``script`` (default: the run's own)."""
        with in_script(self.model, script):
            return self.model.prompt_texts(language)

    @torch.no_grad()
    def predict_images(self, images: list, languages: list[str], script: str | None = None) -> list[list[float]]:
        """PIL images with their languages -> probabilities ``(n, C)``."""
        for language in set(languages):
            if language not in self.model.class_names:
                raise ConfigError(f"language '{language}': this vision run knows {self.languages}")
        pixels = torch.stack([self.model.preprocess_val(image.convert("RGB")) for image in images])
        with in_script(self.model, script):
            logits = self.model.logits(pixels, languages, cached=False)
        return torch.softmax(logits.float(), dim=-1).tolist()

    def predict_items(self, items: list[Item]) -> list[list[float]]:
        size = getattr(self.model, "input_size", None)  # decoded as in training (vision.datamodule)
        images = [open_image(i.image, f"item '{i.id}'", size) for i in items]
        return self.predict_images(images, [i.language for i in items])

    def predict(self, signal, language: str | None = None, script: str | None = None) -> list[float]:
        if language is None:
            raise ConfigError(f"run '{self.run_dir}': a vision prediction needs the image's language")
        return self.predict_images([signal], [language], script)[0]
