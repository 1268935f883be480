"""What a program prints while it trains: only what the user can act on.

- :class:`StepProgressBar`: Lightning's tqdm bar, described as ``epoch e · step s/budget``
  (and the early-stopping patience left), not ``Epoch 16/-2`` (an epoch count the step budget
  makes meaningless);
- :func:`quiet_lightning`: silences the messages nobody running this project can act on.
"""

from __future__ import annotations

import logging
import warnings

from lightning.pytorch.callbacks import TQDMProgressBar

# message (a regular expression, matched at the start) -> why nobody running a program here can act on it
UNACTIONABLE_WARNINGS = {
    # scripts/setup.sh installs SLURM for the sweep's submitit engine; a program started by hand is
    # meant to run outside it (the sweep submits through submitit, which sets up srun itself)
    "The `srun` command is available on your system but is not used": "SLURM installed, not used here",
    # Lightning 2.6's own utilities/_pytree.py asks torch >= 2.10 for the deprecated LeafSpec
    r"`isinstance\(treespec, LeafSpec\)` is deprecated": "inside Lightning",
    # Lightning cannot tell that a batch sampler of its own kind predicts every item: this one
    # does, and workbench.program.probs_in_order fails the run if an item was not predicted
    "You are using a custom batch sampler `LengthBucketBatchSampler` for prediction": "checked by the program",
}
ADVERTISEMENT = "💡 Tip:"  # Lightning's suggestion to install its cloud logger, at every trainer


class _NoAdvertisement(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(ADVERTISEMENT)


def quiet_lightning() -> None:
    """Drop the warnings of :data:`UNACTIONABLE_WARNINGS` and Lightning's logger advertisement."""
    for message in UNACTIONABLE_WARNINGS:
        warnings.filterwarnings("ignore", message=message)
    # rank_zero_info's logger: lightning.pytorch's when it is imported, else lightning.fabric's
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero"):
        lightning_log = logging.getLogger(name)
        if not any(isinstance(f, _NoAdvertisement) for f in lightning_log.filters):
            lightning_log.addFilter(_NoAdvertisement())


def describe_progress(trainer) -> str:
    """``epoch 3 · step 120/900 · patience 6/8``: where training stands against its step budget
    (``step 120`` without one) and how many dev checks without improvement early stopping still allows."""
    text = f"epoch {trainer.current_epoch} · step {trainer.global_step}"
    if trainer.max_steps not in (None, -1):
        text += f"/{trainer.max_steps}"
    stopping = trainer.early_stopping_callbacks
    if stopping:
        left = stopping[0].patience - stopping[0].wait_count
        text += f" · patience {left}/{stopping[0].patience}"
    return text


class StepProgressBar(TQDMProgressBar):
    """Lightning's tqdm progress bar, its training bar described by :func:`describe_progress`."""

    def on_train_epoch_start(self, trainer, *args) -> None:
        super().on_train_epoch_start(trainer, *args)
        self.train_progress_bar.set_description(describe_progress(trainer))

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        self.train_progress_bar.set_description(describe_progress(trainer), refresh=False)
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
