"""``python -m vision.fit -c configs/vision/<experiment>.yaml [-c overlay.yaml] [--key value]``.

A LightningCLI program on the shared program layer (:mod:`workbench.program`): fits the
model (unless ``--fit false``: evaluate as loaded, e.g. pretrained zero-shot), then
predicts the protocol's evaluation splits and dev with ``checkpoints/best.ckpt`` (by
``val/acc``) and writes the run directory::

    <run_dir>/config.yaml  checkpoints/  predictions.jsonl  dev_predictions.jsonl  metrics.json (last)

``--run_dir`` defaults to ``runs/<config stems>``; ``--ckpt_path`` resumes a fit.
"""

from __future__ import annotations

from vision.datamodule import ImageDataModule
from vision.module import VisionCLIP
from workbench.program import Program, entry


class VisionProgram(Program):
    """open_clip classification by prompts or a head: ``kind`` ``vision``, modality ``image``."""

    kind, modality, fallback_name = "vision", "image", "vision"
    model_class, data_class = VisionCLIP, ImageDataModule

    def add_arguments_to_parser(self, parser) -> None:
        super().add_arguments_to_parser(parser)
        parser.add_argument("--fit", type=bool, default=True, help="false: only evaluate the model as loaded")
        parser.link_arguments("data.num_classes", "model.num_classes", apply_on="instantiate")
        parser.link_arguments("data.class_names", "model.class_names", apply_on="instantiate")

    def system(self) -> str:
        return self.model.system_name(self.fitted)

    def model_identity(self) -> dict:
        model = self.model
        return {"name": model.hparams.model_name, "pretrained": model.hparams.pretrained, "loss": model.loss_name}

    def evaluate(self):
        records, _ = super().evaluate()
        model = self.model
        extra = {
            "model": self.model_identity(),
            "prompts": {lang: model.prompt_texts(lang) for lang in sorted(model.class_names)},
            "script": model.prompt_cfg.script,
            "best_checkpoint": self.best_checkpoint(),
            "dropped_for_leakage": self.datamodule.selection.dropped_for_leakage,
        }
        return records, extra


def main(args: list[str] | None = None) -> dict:
    """Run the CLI on ``args`` (default ``sys.argv[1:]``); returns the metrics written."""
    return VisionProgram.main(args, subclass_mode_data=False).metrics


if __name__ == "__main__":
    entry(main)
