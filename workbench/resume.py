"""Callbacks that make a run resumable to the exact same result.

:class:`ExactResume`:

- reseeds torch (and numpy / random) from ``(seed, global_step, rank)`` at every training
  batch start, so dropout and SpecAugment masks depend on the step alone, not on how many
  random numbers were drawn before a restart;
- on restore, tells the data module how many batches of the current epoch the checkpoint
  already trained on, so the length-bucketed sampler skips exactly those.

A checkpoint saved in ``on_train_batch_end`` records ``processed = n`` and ``completed = n - 1``
(Lightning increments ``completed`` after the callbacks run and fixes it up on restart), so
the batches already trained on are ``processed``; a checkpoint saved at the end of an
epoch has ``processed`` equal to the epoch length, which the data module ignores.
"""

from __future__ import annotations

import hashlib
import os
import random

import lightning as L
import numpy as np
import torch


def step_seed(seed: int, step: int, rank: int) -> int:
    """A 63-bit seed from ``(seed, step, rank)``."""
    digest = hashlib.sha256(f"{seed}:{step}:{rank}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


class ExactResume(L.Callback):
    """Step-keyed reseeding and mid-epoch sampler skipping (see the module docstring).

    Args:
        seed: base seed; None follows ``seed_everything`` (``PL_GLOBAL_SEED``).
    """

    def __init__(self, seed: int | None = None):
        self.seed = seed

    def _base_seed(self) -> int:
        return self.seed if self.seed is not None else int(os.environ.get("PL_GLOBAL_SEED", 0))

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        value = step_seed(self._base_seed(), trainer.global_step, trainer.global_rank)
        torch.manual_seed(value)
        np.random.seed(value % 2**32)
        random.seed(value)

    def on_load_checkpoint(self, trainer, pl_module, checkpoint: dict) -> None:
        try:
            progress = checkpoint["loops"]["fit_loop"]["epoch_loop.batch_progress"]["current"]
        except KeyError:
            return
        datamodule = trainer.datamodule
        if datamodule is not None and hasattr(datamodule, "resume_batches"):
            datamodule.resume_batches = int(progress["processed"])
