"""The predictor of an E2E speech run (path ``e2e``, modality ``speech``), from its checkpoint and config."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from speech.audio import load_audio
from speech.model import SpeechClassifier
from workbench.items import Item
from workbench.predictor import Predictor, build, instantiate, load_state, register
from workbench.record import RunRecord


@register("e2e", "speech")
class SpeechPredictor(Predictor):
    """16 kHz waveforms -> class probabilities, through the module's ``predict_step``."""

    def __init__(self, run_dir: str | Path, record: RunRecord | None = None):
        super().__init__(run_dir, record)
        config = self.run.config()["model"]
        state = load_state(self.checkpoint)
        hparams = {k: v for k, v in state["hyper_parameters"].items() if not k.startswith("_")}
        hparams["init_from"] = None  # the checkpoint's weights replace any initialisation
        hparams["cache_dir"] = None  # serving never reads or writes the frozen-encoder cache
        encoder, pooling = instantiate(config["encoder"]), instantiate(config.get("pooling"))
        self.model = build(self.run, SpeechClassifier, encoder=encoder, pooling=pooling, **hparams)
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
        return self.predict_waves([load_audio(i.audio, where=f"item '{i.id}'") for i in items])

    def predict(self, signal: np.ndarray, language: str | None = None) -> list[float]:
        return self.predict_waves([signal])[0]
