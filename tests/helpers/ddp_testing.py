"""Witnesses for the multi-process tests (tests/test_ddp_real.py), given to the real programs by class path.

Each writes what its process did into a folder (one file per process, so concurrent ranks
never share a file): the weights each rank ended training with, the items each rank
predicted, the clips a recognizer actually transcribed.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import lightning as L
import numpy as np
import torch

from cascade.recognizers.hf_ctc import HFCTCRecognizer


class RankWitness(L.Callback):
    """Saves each rank's trained weights (``weights-<rank>.pt``) and the items it predicted
    (``predicted-<rank>.jsonl``: one ``[dataloader_idx, item index]`` per line).

    Args:
        folder: where the files go.
    """

    def __init__(self, folder: str):
        self.folder = Path(folder)

    def on_train_end(self, trainer, pl_module) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu() for k, v in pl_module.state_dict().items()}
        torch.save(state, self.folder / f"weights-{trainer.global_rank}.pt")

    def on_predict_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        rows = "".join(json.dumps([dataloader_idx, int(i)]) + "\n" for i in batch["index"])
        with (self.folder / f"predicted-{trainer.global_rank}.jsonl").open("a") as handle:
            handle.write(rows)


def clip_digest(wave: np.ndarray) -> str:
    """The identity of a decoded clip (what the recognizer was given)."""
    return hashlib.sha1(np.ascontiguousarray(wave, dtype=np.float32).tobytes()).hexdigest()


class CountingRecognizer(HFCTCRecognizer):
    """A real CTC recognizer that also appends the digest of every clip it transcribes to
    ``<counts>/<pid>.txt``.

    Args:
        counts: the folder of count files.
        model, adapters, device: as :class:`~cascade.recognizers.hf_ctc.HFCTCRecognizer`'s.
    """

    def __init__(self, counts: str, model: str, adapters: str = "never", device: str = "cpu"):
        super().__init__(model=model, adapters=adapters, device=device)
        self.counts = Path(counts)

    def transcribe(self, waves, languages):
        texts = super().transcribe(waves, languages)
        self.counts.mkdir(parents=True, exist_ok=True)
        with (self.counts / f"{os.getpid()}.txt").open("a") as handle:
            handle.write("".join(clip_digest(w) + "\n" for w in waves))
        return texts
