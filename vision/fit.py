"""``python -m vision.fit -c configs/vision/<experiment>.yaml [-c overlay.yaml] [--key value]``.

A LightningCLI program on the shared program layer (:mod:`workbench.program`): fits the
model (unless ``--fit false``: evaluate as loaded, e.g. pretrained zero-shot), then
predicts the protocol's evaluation splits and dev with the best checkpoint (by ``val/acc``)
and writes the run directory (its layout: :mod:`workbench.runs`).

``--run_dir`` defaults to ``runs/<config stems>``; ``--ckpt_path`` resumes a fit.

``python -m vision.fit vlm -c configs/vision/qwen2_vl.yaml``: the same program with a generative
VLM (:class:`vision.vlm.VisionVLM`, classes scored by likelihood) as the model; its runs are
image E2E runs like the others (same record, report and demo), ``record.model.family`` ``vlm``.
"""

from __future__ import annotations

from vision.datamodule import ImageDataModule
from vision.module import VisionCLIP
from vision.vlm import VisionVLM
from workbench.program import Program, entry


class VisionProgram(Program):
    """open_clip classification by prompts or a head: path ``e2e``, modality ``image``."""

    path, modality, fallback_name = "e2e", "image", "vision"
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
        return {
            "name": model.hparams.model_name,
            "pretrained": model.hparams.pretrained,
            "loss": model.loss_name,
            "script": model.prompt_cfg.script,
        }

    def evaluate(self):
        records, _ = super().evaluate()
        model = self.model
        sections = {
            "prompts": {lang: model.prompt_texts(lang) for lang in sorted(model.class_names)},
            "dropped_for_leakage": self.datamodule.selection.dropped_for_leakage,
        }
        return records, sections


class VLMProgram(VisionProgram):
    """A generative VLM scoring class names (``python -m vision.fit vlm ...``)."""

    model_class = VisionVLM

    def model_identity(self) -> dict:
        model = self.model
        return {
            "family": "vlm",
            "name": model.hparams.model_id,
            "loss": model.loss_name,
            "script": model.prompt_cfg.script,
        }

    def evaluate(self):
        records, extra = super().evaluate()
        questions = self.model.prompt_cfg.texts
        return records, {**extra, "questions": {lang: self.model.question(lang) for lang in sorted(questions)}}


PROGRAMS = {"vlm": VLMProgram}


def main(args: list[str] | None = None) -> dict:
    """Run the CLI on ``args`` (default ``sys.argv[1:]``; a first ``vlm`` picks the VLM program);
    returns the metrics written."""
    import sys

    args = list(sys.argv[1:] if args is None else args)
    program = PROGRAMS.get(args[0], VisionProgram) if args else VisionProgram
    if program is not VisionProgram:
        args = args[1:]
    return program.main(args, subclass_mode_data=False).metrics


if __name__ == "__main__":
    entry(main)
