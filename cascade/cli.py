"""What ``cascade.fit`` and ``cascade.fit_asr`` share: the run directory and its CLI arguments."""

from __future__ import annotations

from pathlib import Path

from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningCLI, SaveConfigCallback
from lightning.pytorch.loggers import CSVLogger


def default_run_dir(config_paths: list | None, fallback: str) -> str:
    """``runs/<stem of the first config>[-<stem of each overlay>]``."""
    stems = [Path(str(p)).stem for p in config_paths or []]
    return str(Path("runs") / ("-".join(stems) if stems else fallback))


class RunDirConfig(SaveConfigCallback):
    """Writes the resolved config to ``<run_dir>/config.yaml`` (overwriting on resume)."""

    def __init__(self, parser, config, **kwargs):
        super().__init__(parser, config, overwrite=True, save_to_log_dir=False)

    def save_config(self, trainer, pl_module, stage: str) -> None:
        run_dir = Path(self.config["run_dir"])
        run_dir.mkdir(parents=True, exist_ok=True)
        self.parser.save(self.config, str(run_dir / "config.yaml"), overwrite=True)


class RunDirCLI(LightningCLI):
    """LightningCLI with ``--run_dir``, ``--ckpt_path``, ``--test`` and a best-checkpoint callback.

    Subclasses set ``fallback_name`` (run dir name without configs), ``monitor`` and ``mode``.
    """

    fallback_name = "cascade"
    monitor = "val/acc"
    mode = "max"

    def add_arguments_to_parser(self, parser) -> None:
        parser.add_argument("--run_dir", type=str | None, default=None, help="run directory (default runs/<configs>)")
        parser.add_argument("--ckpt_path", type=str | None, default=None, help="checkpoint to resume training from")
        parser.add_argument("--test", type=bool, default=True, help="evaluate the best checkpoint after fitting")
        parser.add_argument(
            "--torch_threads",
            type=int | None,
            default=None,
            help="torch CPU threads (None: torch's default). 1 is several times faster on an oversubscribed CPU",
        )

    def before_instantiate_classes(self) -> None:
        if self.config.get("torch_threads"):
            import torch

            torch.set_num_threads(int(self.config["torch_threads"]))
        if not self.config.get("run_dir"):
            self.config["run_dir"] = default_run_dir(self.config.get("config"), self.fallback_name)

    def instantiate_trainer(self, **kwargs):
        run_dir = Path(self.config["run_dir"])
        trainer = self._get(self.config_init, "trainer", default={})
        callbacks = trainer.get("callbacks") or []
        callbacks = list(callbacks) if isinstance(callbacks, list) else [callbacks]
        self.best = ModelCheckpoint(
            dirpath=run_dir / "checkpoints", filename="best", monitor=self.monitor, mode=self.mode, save_last=True
        )
        extra = {"callbacks": [*callbacks, self.best], "default_root_dir": str(run_dir)}
        if trainer.get("logger") in (None, True):
            extra["logger"] = CSVLogger(str(run_dir), name="csv", version="")
        return super().instantiate_trainer(**extra, **kwargs)

    def best_checkpoint(self) -> str | None:
        return self.best.best_model_path or None
