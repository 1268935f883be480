"""Train and evaluate an E2E speech classifier: ``python -m speech.fit -c CONFIG [-c OVERLAY ...]``.

LightningCLI parses (``--print_config`` shows the resolved config, ``--help`` every argument);
:func:`main` then runs the steps of :mod:`workbench.program` in order: it fits, keeps
``checkpoints/best.ckpt`` (best ``--monitor`` on dev, default ``val/acc``) and ``last.ckpt``,
predicts every evaluated split and dev with ``best.ckpt`` and writes the run directory
(``--run_dir``, default ``runs/<config stems>``): ``config.yaml``, TensorBoard and CSV logs,
``predictions.jsonl``, ``dev_predictions.jsonl`` and ``metrics.json`` (with the run record).
``--ckpt_path`` resumes an interrupted run exactly, mid-epoch included.
"""

from __future__ import annotations

from speech.data import SpeechDataModule
from speech.model import SpeechClassifier
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


def main(args: list[str] | None = None) -> Run:
    """Run the program on ``args`` (default ``sys.argv[1:]``)."""
    return train_speech_classifier(args, SpeechClassifier, identity, fallback="speech")


def identity(model: SpeechClassifier, fitted: bool) -> tuple[str, dict]:
    """The run's system and what its record says of the model."""
    return model.system, {
        "encoder": type(model.encoder).__name__,
        "mode": model.mode,
        "init_from": model.hparams.init_from,
        "parameters": sum(p.numel() for p in model.parameters()),
    }


def train_speech_classifier(
    args: list[str] | None,
    model_class: type,
    describe,
    *,
    fallback: str,
    links: tuple = (("data.num_classes", "model.num_classes"),),
    sections=lambda model: {},
) -> Run:
    """Fit, predict and write a speech E2E run of ``model_class`` on :class:`SpeechDataModule`;
    ``describe(model, fitted)`` gives the system and the record's ``model``, ``sections(model)`` what
    the metrics add."""
    with program_scope():
        parsed = parse(
            model_class,
            SpeechDataModule,
            args,
            fallback=fallback,
            links=links,
            trainer_defaults={"use_distributed_sampler": False, "log_every_n_steps": 10},
        )
        trainer, best = build_trainer(parsed, mode="max")
        fitted = fit(trainer, parsed, best)
        if not parsed.config["test"]:
            return Run(parsed, trainer, None)
        model = parsed.model
        system, model_record = describe(model, bool(parsed.config["fit"]))
        records = class_predictions(parsed, predict_splits(trainer, parsed, fitted), system)
        record = run_record(parsed, fitted, path="e2e", modality="speech", system=system, model=model_record)
        metrics = write_run(trainer, parsed, record, records, sections(model))
        report_accuracy(parsed.run_dir, metrics)
        return Run(parsed, trainer, metrics)


if __name__ == "__main__":
    entry(main)
