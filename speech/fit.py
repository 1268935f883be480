"""Train and evaluate an E2E speech classifier: ``python -m speech.fit -c CONFIG [-c OVERLAY ...]``.

A LightningCLI program: ``--print_config`` shows the resolved config, ``--help`` every
argument. It fits, then tests the best checkpoint (``ModelCheckpoint`` on ``val/acc``)
on every evaluated split and writes the run directory (``--run_dir``, default
``runs/<config stems>``): ``config.yaml``, ``checkpoints/``, TensorBoard and CSV logs,
``predictions.jsonl`` and ``metrics.json`` (through :class:`workbench.runs.RunDir`).
``--ckpt_path`` resumes an interrupted run exactly, mid-epoch included.
"""

from __future__ import annotations

import logging
from pathlib import Path

from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

from speech.callbacks import ExactResume
from speech.data import SpeechDataModule
from speech.model import SpeechClassifier
from workbench.cli import RunDirCLI, RunDirConfig
from workbench.predictions import make_predictions
from workbench.runs import RunDir, RunInfo

log = logging.getLogger(__name__)


class SpeechCLI(RunDirCLI):
    """The shared run-directory CLI plus test-after-fit and the checkpoint metric."""

    fallback_name = "speech"

    def add_arguments_to_parser(self, parser) -> None:
        super().add_arguments_to_parser(parser)
        parser.add_argument("--test", type=bool, default=True, help="test the best checkpoint after fitting")
        parser.add_argument(
            "--monitor", type=str, default="val/acc", help="metric the best checkpoint is chosen by (maximised)"
        )
        parser.link_arguments("data.num_classes", "model.num_classes", apply_on="instantiate")

    def instantiate_trainer(self, **kwargs):
        run_dir = Path(self.config["run_dir"])
        trainer = self._get(self.config_init, "trainer", default={})
        callbacks = self.configured_callbacks()
        self.best = ModelCheckpoint(
            dirpath=run_dir / "checkpoints",
            filename="best-{epoch}-{step}",
            monitor=self.config["monitor"],
            mode="max",
            save_last=True,
        )
        callbacks += [self.best, ExactResume()]
        extra = {"callbacks": callbacks, "default_root_dir": str(run_dir)}
        if trainer.get("logger") in (None, True):
            extra["logger"] = [
                TensorBoardLogger(str(run_dir), name="tensorboard", version=""),
                CSVLogger(str(run_dir), name="csv", version=""),
            ]
        return super().instantiate_trainer(**extra, **kwargs)


def write_results(cli: SpeechCLI) -> dict | None:
    """Predictions and metrics of every evaluated split (rank 0)."""
    model, data, trainer = cli.model, cli.datamodule, cli.trainer
    records = []
    for index, split in enumerate(data.eval_splits):
        items = data.eval_items(split)
        probs = model.split_probs(index, len(items))
        records += make_predictions(items, probs, split, model.system, data.protocol.tag, cli.config["seed_everything"])
    if not trainer.is_global_zero:
        return None
    info = RunInfo(model.system, data.protocol, int(cli.config["seed_everything"]), data.label_names)
    extra = {
        "mode": model.mode,
        "encoder": type(model.encoder).__name__,
        "checkpoint": str(cli.best.best_model_path or ""),
        "best_dev": float(cli.best.best_model_score) if cli.best.best_model_score is not None else None,
        "global_step": int(trainer.global_step),
    }
    return RunDir(cli.config["run_dir"]).write_results(records, info, extra)


def main(args=None) -> SpeechCLI:
    cli = SpeechCLI(
        SpeechClassifier,
        SpeechDataModule,
        run=False,
        args=args,
        save_config_callback=RunDirConfig,
        seed_everything_default=0,
        trainer_defaults={"use_distributed_sampler": False, "log_every_n_steps": 10},
        auto_configure_optimizers=False,
    )
    cli.trainer.fit(cli.model, datamodule=cli.datamodule, ckpt_path=cli.config["ckpt_path"])
    if cli.config["test"]:
        best = "best" if cli.best.best_model_path else None
        cli.trainer.test(cli.model, datamodule=cli.datamodule, ckpt_path=best)
        metrics = write_results(cli)
        if metrics:
            for split, scores in metrics["splits"].items():
                log.warning("%s %s: accuracy %.3f", cli.config["run_dir"], split, scores["overall"]["accuracy"])
    return cli


if __name__ == "__main__":
    main()
