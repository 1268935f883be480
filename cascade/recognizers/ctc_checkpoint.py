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
        checkpoint: path of the ``.ckpt`` (a recognizer run's best checkpoint, :class:`workbench.runs.RunDir`).
        batch_size: clips per forward pass (length-sorted, so padding stays small).
        device: ``auto``, ``cpu``, ``cuda``...

    ``script`` (native / romanized) is read from the checkpoint: a romanized recognizer's
    output skips uroman downstream. The language is not given to the model. So is ``signal``:
    a line recognizer (``python -m cascade.fit_ocr``) reads ``item.image``, prepared by its
    own encoder (:meth:`read`), a speech one ``item.audio``.
    """

    uses_language = False

    def __init__(self, checkpoint: str, batch_size: int = 32, device: str | None = "auto"):
        self.checkpoint, self.batch_size, self.device = checkpoint, batch_size, device
        if not Path(checkpoint).is_file():
            raise ConfigError(f"recognizer.checkpoint: file not found ({checkpoint})")
        hparams = torch.load(checkpoint, map_location="cpu", weights_only=True).get("hyper_parameters", {})
        self.script = hparams.get("script") or "native"
        self.signal = hparams.get("signal") or "audio"  # checkpoints from before images: speech
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

    def read(self, path: str, where: str) -> np.ndarray:
        """An image as the encoder's input (a line strip ``(H, W)``), prepared by the encoder itself."""
        from vision.lines import load_grey

        return self.model.encoder.prepare(load_grey(path, where))

    @torch.no_grad()
    def transcribe(self, waves: list[np.ndarray], languages: list[str | None]) -> list[str]:
        """Transcripts of ``waves`` (16 kHz clips ``(T,)``, or line strips ``(H, W)`` from :meth:`read`)."""
        model = self.model
        width = [np.shape(w)[-1] for w in waves]  # samples or columns: padding goes on the last axis
        order = sorted(range(len(waves)), key=lambda i: -width[i])
        texts = [""] * len(waves)
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            lengths = torch.tensor([width[i] for i in batch])
            padded = torch.zeros(len(batch), *np.shape(waves[batch[0]])[:-1], int(lengths.max()))
            for row, i in enumerate(batch):
                padded[row, ..., : width[i]] = torch.from_numpy(np.asarray(waves[i], dtype=np.float32))
            for i, text in zip(
                batch, model.transcribe_batch(padded.to(model.device), lengths.to(model.device)), strict=True
            ):
                texts[i] = text
        return texts
