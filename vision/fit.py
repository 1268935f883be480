"""``python -m vision.fit -c configs/vision/<experiment>.yaml [-c overlay.yaml] [--key value]``.

Fits the model (unless ``--fit false``: evaluate as loaded, e.g. pretrained zero-shot),
then tests the best checkpoint (by ``val/acc``) on the protocol's evaluation splits and
writes the run directory through :class:`workbench.runs.RunDir`::

    <run_dir>/config.yaml  checkpoints/  predictions.jsonl  metrics.json (last)

``--run_dir`` defaults to ``runs/<config stems>``; ``--ckpt_path`` resumes a fit.
"""

from __future__ import annotations

import logging
import sys

import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger

from vision.datamodule import ImageDataModule
from vision.module import VisionCLIP
from workbench.cli import RunDirCLI
from workbench.io import atomic_write_text
from workbench.predictions import make_predictions
from workbench.runs import RunDir, RunInfo

log = logging.getLogger(__name__)


class VisionCLI(RunDirCLI):
    """The shared run-directory CLI plus fit-then-test on the best checkpoint (or test only)."""

    fallback_name = "vision"

    def add_arguments_to_parser(self, parser) -> None:
        super().add_arguments_to_parser(parser)
        parser.add_argument("--fit", type=bool, default=True, help="false: only evaluate the model as loaded")
        parser.link_arguments("data.num_classes", "model.num_classes", apply_on="instantiate")
        parser.link_arguments("data.class_names", "model.class_names", apply_on="instantiate")

    def instantiate_trainer(self, **kwargs):
        run_dir = self.run_dir
        self.checkpoint = ModelCheckpoint(
            dirpath=run_dir / "checkpoints",
            filename="best",
            monitor="val/acc",
            mode="max",
            save_last=True,
            enable_version_counter=False,
        )
        trainer_config = self.config_init.get("trainer", {})
        kwargs.setdefault("default_root_dir", str(run_dir))
        if trainer_config.get("logger") in (None, True):
            kwargs.setdefault("logger", CSVLogger(str(run_dir), name="logs"))
        trainer = super().instantiate_trainer(**kwargs)
        trainer.callbacks.append(self.checkpoint)
        return trainer


def write_results(cli: VisionCLI, fitted: bool) -> dict:
    """Predictions of every evaluated split -> the run directory (metrics.json last)."""
    model, data = cli.model, cli.datamodule
    records = []
    for index, split in enumerate(data.eval_splits):
        probs = torch.cat(model.test_probs.get(index, [])).tolist() if model.test_probs.get(index) else []
        records += make_predictions(
            data.eval_items(split), probs, split, model.system_name(fitted), data.protocol.tag, cli.seed
        )
    info = RunInfo(model.system_name(fitted), data.protocol, cli.seed, data.label_names)
    extra = {
        "model": {"name": model.hparams.model_name, "pretrained": model.hparams.pretrained, "loss": model.loss_name},
        "prompts": {lang: model.prompt_texts(lang) for lang in sorted(model.class_names)},
        "script": model.prompt_cfg.script,
        "best_checkpoint": cli.checkpoint.best_model_path or None,
        "dropped_for_leakage": data.selection.dropped_for_leakage,
    }
    return RunDir(cli.run_dir).write_results(records, info, extra)


def main(args: list[str] | None = None) -> dict:
    """Run the CLI on ``args`` (default ``sys.argv[1:]``); returns the metrics written."""
    cli = VisionCLI(
        VisionCLIP,
        ImageDataModule,
        subclass_mode_data=False,
        run=False,
        args=args,
        seed_everything_default=0,
        save_config_callback=None,
    )
    cli.seed = int(cli.config.get("seed_everything") or 0)
    run_dir = cli.run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / "config.yaml", cli.parser.dump(cli.config, skip_none=False))
    fitted = bool(cli.config.get("fit"))
    if fitted:
        cli.trainer.fit(cli.model, datamodule=cli.datamodule, ckpt_path=cli.config.get("ckpt_path"))
    best = cli.checkpoint.best_model_path if fitted else ""
    cli.trainer.test(cli.model, datamodule=cli.datamodule, ckpt_path=best or None, weights_only=False)
    metrics = write_results(cli, fitted)
    log.info("wrote %s", run_dir / "metrics.json")
    return metrics


if __name__ == "__main__":
    main(sys.argv[1:])
