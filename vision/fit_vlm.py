"""``python -m vision.fit_vlm -c configs/vision/qwen2_vl.yaml [--key value]``: a generative VLM
(:class:`vision.vlm.VisionVLM`, classes scored by likelihood) on :mod:`vision.fit`'s steps.

Its runs are vision runs like the others (same record kind, report and demo), with
``record.model.family`` ``vlm`` and the questions asked in ``metrics.json``.
"""

from __future__ import annotations

from vision.fit import train_image_classifier
from vision.vlm import VisionVLM
from workbench.program import Run, entry


def identity(model) -> dict:
    """What the run record says of a VLM."""
    return {"family": "vlm", "name": model.hparams.model_id, "loss": model.loss_name}


def questions(model) -> dict:
    return {lang: model.question(lang) for lang in sorted(model.prompt_cfg.texts)}


def main(args: list[str] | None = None) -> Run:
    """Run the program on ``args`` (default ``sys.argv[1:]``)."""
    return train_image_classifier(args, VisionVLM, identity, questions=questions)


if __name__ == "__main__":
    entry(main)
