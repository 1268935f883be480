"""Train a CTC recognizer on the corpus' transcripts: ``python -m cascade.fit_asr -c CONFIG [-c OVERLAY]``.

A LightningCLI program (``--print_config``, ``--help``) on the shared program layer
(:mod:`workbench.program`). Trains :class:`~cascade.ctc.CTCRecognizer` on every training
language (protocol ``all_languages``) with native-script or romanized targets
(``data.script``), keeps the best checkpoint (lowest dev CER; a Lightning checkpoint
whose ``encoder.*`` weights initialise the E2E encoder, and which
``cascade.recognizers.CTCCheckpointRecognizer`` loads), then transcribes every evaluated
split with it and writes the run directory (``--run_dir``, default ``runs/<config stems>``;
layout: :mod:`workbench.runs`): the transcripts and the metrics, whose section ``asr``
holds ``<split>.overall|per_language.<lang>`` = cer, wer, n.
"""

from __future__ import annotations

import logging

import torch

from cascade.asr_data import ASRDataModule, target_text
from cascade.asr_text import error_rates_by_language
from cascade.ctc import CTCRecognizer
from workbench.program import Program, entry
from workbench.runs import RunDir

log = logging.getLogger(__name__)


@torch.no_grad()
def transcribe_split(model: CTCRecognizer, data: ASRDataModule, split: str) -> list[str]:
    """Greedy transcripts of one split, in the split's item order."""
    model.eval()
    items = data.eval_items(split)
    texts = [""] * len(items)
    for batch in data.split_loader(split):
        batch_texts = model.transcribe_batch(batch["waves"].to(model.device), batch["lengths"].to(model.device))
        for index, text in zip(batch["index"].tolist(), batch_texts, strict=True):
            texts[index] = text
    return texts


class RecognizerProgram(Program):
    """A CTC recognizer: path ``recognizer``; best checkpoint by lowest ``val/cer``."""

    path, modality, fallback_name = "recognizer", "speech", "asr"
    renamed = {"data.target": "data.script"}
    monitor, mode = "val/cer", "min"
    model_class, data_class = CTCRecognizer, ASRDataModule
    trainer_defaults = {"use_distributed_sampler": False, "log_every_n_steps": 10}

    def system(self) -> str:
        return f"ctc-{self.datamodule.script}"

    def model_identity(self) -> dict:
        return {
            "encoder": type(self.model.encoder).__name__,
            "script": self.datamodule.script,
            "symbols": len(self.model.vocabulary),
        }

    def evaluate(self):
        """Transcribe the evaluated splits with the best checkpoint; write the run's transcripts."""
        data = self.datamodule
        best = self.best_checkpoint()
        model = CTCRecognizer.load_from_checkpoint(best, encoder=self.model.encoder, weights_only=True)
        rows, scores = [], {}
        for split in data.eval_splits:
            items = data.eval_items(split)
            hyps = transcribe_split(model, data, split)
            refs = [target_text(item, data.script) for item in items]
            scores[split] = error_rates_by_language(refs, hyps, [item.language for item in items])
            rows += [
                {"id": i.id, "language": i.language, "split": split, "reference": r, "transcript": h}
                for i, r, h in zip(items, refs, hyps, strict=True)
            ]
        if self.trainer.is_global_zero:
            RunDir(self.run_dir).write_transcripts(rows)
        return None, {"asr": scores}

    def report(self, metrics: dict) -> None:
        for split, part in metrics["sections"]["asr"].items():
            per = ", ".join(f"{lang} {s['cer']:.3f}" for lang, s in part["per_language"].items())
            log.warning("%s CER %s: %s (fit %.0f s)", self.run_dir, split, per, self.train_seconds)


def main(args: list[str] | None = None) -> RecognizerProgram:
    """Run the program on ``args`` (default ``sys.argv[1:]``); returns the CLI object."""
    return RecognizerProgram.main(args)


if __name__ == "__main__":
    entry(main)
