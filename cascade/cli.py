"""What ``cascade.fit`` and ``cascade.fit_asr`` share: the run directory and its CLI arguments."""

from __future__ import annotations

from pathlib import Path

from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger

from workbench.cli import RunDirCLI as BaseRunDirCLI
from workbench.cli import RunDirConfig, default_run_dir

__all__ = ["RunDirCLI", "RunDirConfig", "default_run_dir"]


class RunDirCLI(BaseRunDirCLI):
    """The shared run-directory CLI plus ``--test`` and a best-checkpoint callback.

    Subclasses set ``fallback_name`` (run dir name without configs), ``monitor`` and ``mode``.
    """

    fallback_name = "cascade"
    monitor = "val/acc"
    mode = "max"

    def add_arguments_to_parser(self, parser) -> None:
        super().add_arguments_to_parser(parser)
        parser.add_argument("--test", type=bool, default=True, help="evaluate the best checkpoint after fitting")

    def instantiate_trainer(self, **kwargs):
        run_dir = Path(self.config["run_dir"])
        trainer = self._get(self.config_init, "trainer", default={})
        callbacks = self.configured_callbacks()
        self.best = ModelCheckpoint(
            dirpath=run_dir / "checkpoints", filename="best", monitor=self.monitor, mode=self.mode, save_last=True
        )
        extra = {"callbacks": [*callbacks, self.best], "default_root_dir": str(run_dir)}
        if trainer.get("logger") in (None, True):
            extra["logger"] = CSVLogger(str(run_dir), name="csv", version="")
        return super().instantiate_trainer(**extra, **kwargs)

    def best_checkpoint(self) -> str | None:
        return self.best.best_model_path or None
