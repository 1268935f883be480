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
from workbench.cli import parse
from workbench.distributed import program_scope
from workbench.program import (
    Run,
    build_trainer,
    class_predictions,
    entry,
    fit,
    predict_splits,
    report_accuracy,
    run_record,
    write_run,
)

# the model reads what the data says: its classes, their names and the script of its texts
LINKS = (
    ("data.num_classes", "model.num_classes"),
    ("data.class_names", "model.class_names"),
    ("data.script", "model.script"),
)


def main(args: list[str] | None = None) -> Run:
    """Run the program on ``args`` (default ``sys.argv[1:]``)."""
    return train_image_classifier(args, VisionCLIP, identity)


def identity(model) -> dict:
    """What the run record says of an open_clip model."""
    return {
        "name": model.hparams.model_name,
        "pretrained": model.hparams.pretrained,
        "loss": model.loss_name,
        "script": model.prompt_cfg.script,
    }


def train_image_classifier(args: list[str] | None, model_class: type, describe, **more) -> Run:
    """Fit, predict and write an image classifier's run; ``describe(model)`` is the record's
    ``model``; ``more``: extra metrics sections, each a function of the model."""
    with program_scope():
        parsed = parse(model_class, ImageDataModule, args, fallback="vision", links=LINKS)
        trainer, best = build_trainer(parsed, mode="max")
        fitted = fit(trainer, parsed, best)
        if not parsed.config["test"]:
            return Run(parsed, trainer, None)
        model = parsed.model
        system = model.system_name(parsed.config["fit"])
        records = class_predictions(parsed, predict_splits(trainer, parsed, fitted), system)
        record = run_record(parsed, fitted, path="e2e", modality="image", system=system, model=describe(model))
        sections = {
            "prompts": {lang: model.prompt_texts(lang) for lang in sorted(model.class_names)},
            "dropped_for_leakage": parsed.datamodule.selection.dropped_for_leakage,
            **{name: section(model) for name, section in more.items()},
        }
        metrics = write_run(trainer, parsed, record, records, sections)
        report_accuracy(parsed.run_dir, metrics)
        return Run(parsed, trainer, metrics)


if __name__ == "__main__":
    entry(main)
