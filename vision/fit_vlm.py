"""``python -m vision.fit_vlm -c configs/vision/qwen2_vl.yaml [--key value]``: a generative VLM
(:class:`vision.vlm.VisionVLM`, classes scored by likelihood) on :mod:`vision.fit`'s steps.

Its runs are vision runs like the others (same record kind, report and demo), with
``record.model.family`` ``vlm`` and the questions asked in ``metrics.json``.
"""

from __future__ import annotations

from vision.datamodule import ImageDataModule
from vision.fit import LINKS, evaluate_image_classifier
from vision.vlm import VisionVLM
from workbench.distributed import program_scope
from workbench.program import Run, entry, train


@program_scope()
def main(args: list[str] | None = None) -> Run:
    """Run the program on ``args`` (default ``sys.argv[1:]``)."""
    run = train(VisionVLM, ImageDataModule, args, fallback="vision", links=LINKS)
    model = run.model
    identity = {"family": "vlm", "name": model.hparams.model_id, "loss": model.loss_name}
    questions = {lang: model.question(lang) for lang in sorted(model.prompt_cfg.texts)}
    return evaluate_image_classifier(run, identity, questions=questions)


if __name__ == "__main__":
    entry(main)
