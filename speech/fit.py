"""Train and evaluate an E2E speech classifier: ``python -m speech.fit -c CONFIG [-c OVERLAY ...]``.

A LightningCLI program (``--print_config`` shows the resolved config, ``--help`` every
argument) on the shared program layer (:mod:`workbench.program`): it fits, keeps
``checkpoints/best.ckpt`` (best ``--monitor`` on dev, default ``val/acc``) and ``last.ckpt``,
predicts every evaluated split and dev with ``best.ckpt`` and writes the run directory
(``--run_dir``, default ``runs/<config stems>``): ``config.yaml``, TensorBoard and CSV logs,
``predictions.jsonl``, ``dev_predictions.jsonl`` and ``metrics.json`` (with the run record).
``--ckpt_path`` resumes an interrupted run exactly, mid-epoch included.
"""

from __future__ import annotations

from speech.data import SpeechDataModule
from speech.model import SpeechClassifier
from workbench.program import Program, entry


class SpeechProgram(Program):
    """E2E speech classification: ``kind`` ``e2e``, records the encoder and the training mode."""

    kind, modality, fallback_name = "e2e", "speech", "speech"
    model_class, data_class = SpeechClassifier, SpeechDataModule
    trainer_defaults = {"use_distributed_sampler": False, "log_every_n_steps": 10}

    def add_arguments_to_parser(self, parser) -> None:
        super().add_arguments_to_parser(parser)
        parser.add_argument(
            "--monitor", type=str, default="val/acc", help="metric the best checkpoint is chosen by (maximised)"
        )
        parser.link_arguments("data.num_classes", "model.num_classes", apply_on="instantiate")

    def monitored(self) -> str:
        return self.config["monitor"]

    def model_identity(self) -> dict:
        model = self.model
        return {
            "encoder": type(model.encoder).__name__,
            "mode": model.mode,
            "init_from": model.hparams.init_from,
            "parameters": sum(p.numel() for p in model.parameters()),
        }

    def write(self, records, extra: dict) -> dict:
        score = self.best.best_model_score
        extra = {
            "mode": self.model.mode,
            "encoder": type(self.model.encoder).__name__,
            "checkpoint": self.best_checkpoint() or "",
            "best_dev": float(score) if score is not None else None,
            "global_step": int(self.trainer.global_step),
            **extra,
        }
        return super().write(records, extra)


def main(args: list[str] | None = None) -> SpeechProgram:
    """Run the program on ``args`` (default ``sys.argv[1:]``); returns the CLI object."""
    return SpeechProgram.main(args)


if __name__ == "__main__":
    entry(main)
