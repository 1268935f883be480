"""Train and evaluate an E2E speech classifier: ``python -m speech.fit -c CONFIG [-c OVERLAY ...]``.

A LightningCLI program (``--print_config`` shows the resolved config, ``--help`` every
argument) on the shared program layer (:mod:`workbench.program`): it fits, keeps the best
checkpoint (best ``--monitor`` on dev, default ``val/acc``) and the last, predicts every
evaluated split and dev with the best and writes the run directory (``--run_dir``, default
``runs/<config stems>``; its layout: :mod:`workbench.runs`) with TensorBoard and CSV logs.
``--ckpt_path`` resumes an interrupted run exactly, mid-epoch included.
"""

from __future__ import annotations

from speech.data import SpeechDataModule
from speech.model import SpeechClassifier
from workbench.program import Program, entry


class SpeechProgram(Program):
    """E2E speech classification: path ``e2e``, modality ``speech``; records the encoder and the training mode."""

    path, modality, fallback_name = "e2e", "speech", "speech"
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


def main(args: list[str] | None = None) -> SpeechProgram:
    """Run the program on ``args`` (default ``sys.argv[1:]``); returns the CLI object."""
    return SpeechProgram.main(args)


if __name__ == "__main__":
    entry(main)
