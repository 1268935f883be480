"""workbench.early_stopping at its edges: ``min_epochs`` holds like ``min_steps``, a held stop leaves
no trace, ``stopped_by`` on the time limit and on a fit that reached no limit (issue 26)."""

from __future__ import annotations

from datetime import timedelta

import lightning as L
import pytest
from lightning.pytorch.callbacks import Timer

from tests.test_early_stopping import CURVE, fit
from workbench.early_stopping import EarlyStopping, checks_since_best, minimum_met, stopped_by


def patient() -> EarlyStopping:
    return EarlyStopping(monitor="val/cer", mode="min", patience=2)


def bare_trainer(**trainer_args) -> L.Trainer:
    return L.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False, **trainer_args)


@pytest.mark.parametrize(
    "script,checks",
    [
        # patience runs out at check 3; the stop waits for the end of epoch 5 (one check an epoch)
        ([1.0] * 20, 5),
        # as with min_steps: check 5 improves, so the fit learns on and stops 2 checks into the plateau
        (CURVE, 10),
    ],
)
def test_min_epochs_holds_the_stop_as_min_steps_does(script, checks):
    trainer, model = fit(script, patient(), min_epochs=5, max_steps=400)
    assert model.checks == checks and trainer.global_step == 4 * checks
    assert stopped_by(trainer) == "early_stopping"


def test_a_stop_held_back_by_the_minimum_is_not_reported_as_early_stopping():
    # patience runs out at check 3 (held: min_steps 20), check 5 improves, max_steps ends the fit
    trainer, model = fit(CURVE, patient(), min_steps=20, max_steps=28)
    assert model.checks == 7
    assert stopped_by(trainer) == "max_steps" and checks_since_best(trainer) == 0


def test_a_trainer_without_a_minimum_or_early_stopping():
    trainer = bare_trainer()
    assert minimum_met(trainer)  # no min_steps/min_epochs: met from the first step
    assert checks_since_best(trainer) is None


def test_stopped_by_max_time_in_a_fit():
    trainer, model = fit([1.0 - 0.05 * i for i in range(20)], patient(), max_time=timedelta(0), max_steps=400)
    assert trainer.global_step < 400
    assert stopped_by(trainer) == "max_time"


@pytest.mark.parametrize("elapsed,expected", [(10.0, "max_time"), (9.5, "interrupted")])
def test_max_time_means_no_time_left_as_the_timer_counts_it(elapsed, expected):
    """The Timer stops a fit once its elapsed time reaches the duration: exactly none left is
    max_time; half a second left is not (here the fit returned for no limit of its own)."""
    timer = Timer(duration=timedelta(seconds=10))
    timer.load_state_dict({"time_elapsed": {"train": elapsed}})  # as a resumed fit restores it
    assert stopped_by(bare_trainer(callbacks=[timer], max_epochs=3)) == expected


@pytest.mark.parametrize("max_epochs", [3, -1])
def test_a_fit_that_ended_before_any_limit_was_interrupted(max_epochs):
    """-1 is Lightning's 'no epoch limit'; a fit in epoch 0 of 3 has not reached its limit."""
    assert stopped_by(bare_trainer(max_epochs=max_epochs)) == "interrupted"
