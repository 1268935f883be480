"""Early stopping that waits for the trainer's minimum budget, and why a fit stopped.

Lightning's own :class:`~lightning.pytorch.callbacks.EarlyStopping` sets ``trainer.should_stop``
as soon as patience runs out, and that flag is never cleared: under ``min_steps`` the fit goes
on to ``min_steps`` and then stops there, even if the dev score improved in between. A CTC
recognizer sits on a plateau (CER ~1, blanks only) for its first hundreds of steps, so the
stock callback would decide the run during the plateau. :class:`EarlyStopping` keeps counting
checks without improvement before the minimum is met (an improvement still resets the count)
but only signals a stop once ``min_steps`` and ``min_epochs`` are met.
"""

from __future__ import annotations

from lightning.pytorch.callbacks import EarlyStopping as LightningEarlyStopping
from lightning.pytorch.callbacks import Timer
from lightning.pytorch.callbacks.early_stopping import EarlyStoppingReason

STOPPED_BY = ("early_stopping", "max_epochs", "max_steps", "max_time")


def minimum_met(trainer) -> bool:
    """Whether the fit has run its ``min_steps`` and ``min_epochs`` (checked at validation end)."""
    loop = trainer.fit_loop
    steps_met = trainer.global_step >= (loop.min_steps or 0)
    # validation ends before the epoch is counted: this epoch is complete once it returns
    epochs_met = trainer.current_epoch + 1 >= (loop.min_epochs or 0)
    return steps_met and epochs_met


class EarlyStopping(LightningEarlyStopping):
    """:class:`lightning.pytorch.callbacks.EarlyStopping` that never stops before the trainer's
    ``min_steps``/``min_epochs`` and then judges patience over every check, early ones included.

    Same arguments as Lightning's (``monitor``, ``mode``, ``patience``, ``min_delta`` ...).
    """

    _hold = False

    def _run_early_stopping_check(self, trainer) -> None:
        self._hold = not minimum_met(trainer)
        super()._run_early_stopping_check(trainer)

    def _evaluate_stopping_criteria(self, current):
        should_stop, reason = super()._evaluate_stopping_criteria(current)
        if should_stop and self._hold and self.stopping_reason is EarlyStoppingReason.PATIENCE_EXHAUSTED:
            self.stopping_reason = EarlyStoppingReason.NOT_STOPPED
            return False, f"{self.monitor}: no improvement in {self.wait_count} checks; minimum budget not met yet"
        return should_stop, reason


def stopped_by(trainer) -> str:
    """Why ``trainer.fit`` returned: one of :data:`STOPPED_BY`, or ``"interrupted"``.

    Early stopping counts only when the callback signalled it (any EarlyStopping subclass,
    found as ``trainer.early_stopping_callbacks``); then ``max_time`` when a
    :class:`~lightning.pytorch.callbacks.Timer` (which ``max_time`` installs) ran out; then the
    step and epoch limits.
    """
    for callback in trainer.early_stopping_callbacks:
        if callback.stopping_reason is not EarlyStoppingReason.NOT_STOPPED:
            return "early_stopping"
    for callback in trainer.callbacks:
        remaining = callback.time_remaining("train") if isinstance(callback, Timer) else None
        if remaining is not None and remaining <= 0:
            return "max_time"
    if trainer.max_steps not in (None, -1) and trainer.global_step >= trainer.max_steps:
        return "max_steps"
    if trainer.max_epochs not in (None, -1) and trainer.current_epoch >= trainer.max_epochs:
        return "max_epochs"
    return "interrupted"


def checks_since_best(trainer) -> int | None:
    """Dev checks since the best score of the first early-stopping callback (None without one)."""
    callbacks = trainer.early_stopping_callbacks
    return int(callbacks[0].wait_count) if callbacks else None
