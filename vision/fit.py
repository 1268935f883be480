"""``python -m vision.fit -c configs/vision/<experiment>.yaml [-c overlay.yaml] [--key value]``.

LightningCLI parses; :func:`main` runs the steps of :mod:`workbench.program` in order: fits
the model (unless ``--fit false``: evaluate as loaded, e.g. pretrained zero-shot), then
predicts the protocol's evaluation splits and dev with ``checkpoints/best.ckpt`` (by
``--monitor``, default ``val/acc``) and writes the run directory::

    <run_dir>/config.yaml  checkpoints/  predictions.jsonl  dev_predictions.jsonl  metrics.json (last)

``data.script`` (native | romanized) sets the prompts' and captions' script. ``--run_dir``
defaults to ``runs/<config stems>``; ``--ckpt_path`` resumes a fit. A generative
VLM is its own program on the same steps: :mod:`vision.fit_vlm`.
"""

from __future__ import annotations

from vision.datamodule import ImageDataModule
from vision.module import VisionCLIP
from workbench.distributed import program_scope
from workbench.program import Run, entry, evaluate, train

# the model reads what the data says: its classes, their names and the script of its texts
LINKS = (
    ("data.num_classes", "model.num_classes"),
    ("data.class_names", "model.class_names"),
    ("data.script", "model.script"),
)


@program_scope()
def main(args: list[str] | None = None) -> Run:
    """Run the program on ``args`` (default ``sys.argv[1:]``)."""
    run = train(VisionCLIP, ImageDataModule, args, fallback="vision", links=LINKS)
    return evaluate_image_classifier(run, identity(run.model))


def identity(model: VisionCLIP) -> dict:
    """What the run record says of an open_clip model."""
    return {
        "name": model.hparams.model_name,
        "pretrained": model.hparams.pretrained,
        "loss": model.loss_name,
        "script": model.script,
    }


def evaluate_image_classifier(run: Run, model_record: dict, **sections) -> Run:
    """:func:`~workbench.program.evaluate` for an image classifier (a ``vision.module.ClassScorer``):
    its system name, and its prompts and the items dropped for leakage beside ``sections``."""
    model = run.model
    sections = {
        "prompts": {lang: model.prompt_texts(lang) for lang in sorted(model.class_names)},
        "dropped_for_leakage": run.datamodule.selection.dropped_for_leakage,
        **sections,
    }
    system = model.system_name(run.parsed.config["fit"])
    return evaluate(run, path="e2e", modality="image", system=system, model=model_record, sections=sections)


if __name__ == "__main__":
    entry(main)
