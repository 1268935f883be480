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
from workbench.distributed import program_scope
from workbench.program import Run, entry, evaluate, train

# speech data modules shard their own batches (speech.data's samplers)
TRAINER = {"use_distributed_sampler": False, "log_every_n_steps": 10}


@program_scope()
def main(args: list[str] | None = None) -> Run:
    """Run the program on ``args`` (default ``sys.argv[1:]``)."""
    run = train(SpeechClassifier, SpeechDataModule, args, fallback="speech", trainer_defaults=TRAINER)
    return evaluate(run, path="e2e", modality="speech", system=run.model.system, model=identity(run.model))


def identity(model: SpeechClassifier) -> dict:
    """What the run record says of the model."""
    return {
        "encoder": type(model.encoder).__name__,
        "mode": model.mode,
        "init_from": model.hparams.init_from,
        "parameters": sum(p.numel() for p in model.parameters()),
    }


if __name__ == "__main__":
    entry(main)
