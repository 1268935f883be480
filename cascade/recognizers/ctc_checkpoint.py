"""The recognizer trained here (``python -m cascade.fit_asr``), loaded from its Lightning checkpoint."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from cascade.cache import file_digest
from cascade.recognizers.base import Recognizer, pick_device
from workbench.errors import ConfigError


class CTCCheckpointRecognizer(Recognizer):
    """Greedy CTC decoding with a :class:`cascade.ctc.CTCRecognizer` checkpoint.

    Args:
        checkpoint: path of the ``.ckpt`` (e.g. ``runs/asr/checkpoints/best.ckpt``).
        batch_size: clips per forward pass (length-sorted, so padding stays small).
        device: ``auto``, ``cpu``, ``cuda``...

    ``script`` (native / romanized) is read from the checkpoint: a romanized recognizer's
    output skips uroman downstream. The language is not given to the model.
    """

    uses_language = False

    def __init__(self, checkpoint: str, batch_size: int = 32, device: str | None = "auto"):
        self.checkpoint, self.batch_size, self.device = checkpoint, batch_size, device
        if not Path(checkpoint).is_file():
            raise ConfigError(f"recognizer.checkpoint: file not found ({checkpoint})")
        hparams = torch.load(checkpoint, map_location="cpu", weights_only=True).get("hyper_parameters", {})
        self.script = hparams.get("script") or "native"
        self._model = None
        self._digest: str | None = None

    def describe(self) -> dict:
        if self._digest is None:
            self._digest = file_digest(self.checkpoint)
        return {"recognizer": "ctc", "checkpoint_sha256": self._digest, "decoding": "greedy"}

    @property
    def model(self):
        if self._model is None:
            from cascade.ctc import CTCRecognizer

            self._model = CTCRecognizer.load_from_checkpoint(self.checkpoint, map_location="cpu", weights_only=True)
            self._model.to(pick_device(self.device)).eval()
        return self._model

    @torch.no_grad()
    def transcribe(self, waves: list[np.ndarray], languages: list[str | None]) -> list[str]:
        model = self.model
        order = sorted(range(len(waves)), key=lambda i: -len(waves[i]))
        texts = [""] * len(waves)
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            lengths = torch.tensor([len(waves[i]) for i in batch])
            padded = torch.zeros(len(batch), int(lengths.max()))
            for row, i in enumerate(batch):
                padded[row, : len(waves[i])] = torch.from_numpy(np.asarray(waves[i], dtype=np.float32))
            for i, text in zip(
                batch, model.transcribe_batch(padded.to(model.device), lengths.to(model.device)), strict=True
            ):
                texts[i] = text
        return texts
