"""Pruning a trial from inside its own process: Optuna's Lightning callback on the study's storage.

A trial runs as a sweep point does (its own process, one LightningCLI program), so the trial
object cannot be handed over: the program gets this callback through its command line
(``--trainer.callbacks+=...``) with the study's storage URL and the trial's number, and
rebuilds the trial from the shared SQLite file. At each dev check it reports the monitored dev
score (``val/acc``; never a test score) to Optuna's pruner through
``optuna_integration.PyTorchLightningPruningCallback``.

That callback raises ``optuna.TrialPruned`` inside ``fit``, which would end the program without
a run directory; here a pruned trial instead stops training (``trainer.should_stop``), marks
itself pruned (user attribute :data:`PRUNED_AT`, the epoch) and still writes its run
directory, so the tuner tells Optuna "pruned" with its last dev score.
"""

from __future__ import annotations

import optuna
from optuna_integration import PyTorchLightningPruningCallback

PRUNED_AT = "pruned_at_epoch"  # user attribute of a trial its pruner stopped (the epoch)


def load_trial(storage: str, study_name: str, number: int, pruner: dict) -> optuna.trial.Trial:
    """The live trial ``number`` of a study in ``storage`` (an RDB URL), judged by a MedianPruner(``pruner``)."""
    # the storage keeps trials, not the pruner: the tuner's pruner settings come with the arguments
    study = optuna.load_study(study_name=study_name, storage=storage, pruner=optuna.pruners.MedianPruner(**pruner))
    frozen = next((t for t in study.get_trials(deepcopy=False) if t.number == number), None)
    if frozen is None:
        raise ValueError(f"study '{study_name}' in {storage} has no trial {number}")
    return optuna.trial.Trial(study, frozen._trial_id)


class TrialPruning(PyTorchLightningPruningCallback):
    """Report ``monitor`` at every dev check to trial ``trial`` of ``study`` in ``storage``; stop when pruned.

    Args:
        storage: the study's RDB URL (``sqlite:///<sweep>/tune/studies.db``).
        study: the study's name (``<system>/<protocol tag>``).
        trial: the trial's number in that study.
        monitor: the dev metric reported (as logged: ``val/acc``).
        pruner: keyword arguments of the study's ``optuna.pruners.MedianPruner`` (the sweep file's
            ``tune.pruner``).
    """

    def __init__(self, storage: str, study: str, trial: int, monitor: str = "val/acc", pruner: dict | None = None):
        super().__init__(load_trial(storage, study, trial, pruner or {}), monitor)

    def on_validation_end(self, trainer, pl_module) -> None:
        try:
            super().on_validation_end(trainer, pl_module)
        except optuna.TrialPruned:
            if PRUNED_AT not in self._trial.user_attrs:  # noqa: SIM102 - the first pruning epoch is the one kept
                self._trial.set_user_attr(PRUNED_AT, int(pl_module.current_epoch))
            trainer.should_stop = True  # after min_steps: Lightning keeps training until then
