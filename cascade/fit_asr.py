"""Train a CTC recognizer on the corpus' transcripts: ``python -m cascade.fit_asr -c CONFIG [-c OVERLAY]``.

LightningCLI parses (``--print_config``, ``--help``); :func:`main` runs the steps of
:mod:`workbench.program` in order. Trains :class:`~cascade.ctc.CTCRecognizer` on every training
language (protocol ``all_languages``) with native-script or romanized targets
(``data.script``), keeps ``checkpoints/best.ckpt`` (lowest dev CER; a Lightning checkpoint
whose ``encoder.*`` weights initialise the E2E encoder, and which
``cascade.recognizers.CTCCheckpointRecognizer`` loads), then transcribes every evaluated
split with it and writes the run directory (``--run_dir``, default ``runs/<config stems>``):
``config.yaml``, ``transcripts.jsonl`` and ``metrics.json`` (written last: the run record,
``asr.<split>.overall|per_language.<lang>`` = cer, wer, n).
"""

from __future__ import annotations

import logging
from dataclasses import replace

import torch

from cascade.asr_data import ASRDataModule, target_text
from cascade.asr_text import error_rates_by_language
from cascade.ctc import CTCRecognizer
from workbench.distributed import program_scope
from workbench.program import Run, best_checkpoint, entry, run_record, train, write_run
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


# a recognizer is best by its lowest dev CER; its data modules shard their own batches
RECOGNIZER = {
    "mode": "min",
    "monitor": "val/cer",
    "links": (),
    "trainer_defaults": {"use_distributed_sampler": False, "log_every_n_steps": 10},
}


@program_scope()
def main(args: list[str] | None = None) -> Run:
    """Run the program on ``args`` (default ``sys.argv[1:]``)."""
    run = train(CTCRecognizer, ASRDataModule, args, fallback="asr", **RECOGNIZER)
    return evaluate_recognizer(run, modality="speech", system_prefix="ctc")


def evaluate_recognizer(run: Run, *, modality: str, system_prefix: str) -> Run:
    """Unless ``--test false``: transcribe the evaluated splits with ``best.ckpt`` into transcripts.jsonl
    and write metrics.json (``asr``: CER/WER per split); the system is ``<system_prefix>-<script>``."""
    parsed, trainer, fitted = run.parsed, run.trainer, run.fitted
    if not parsed.config["test"]:
        return run
    data, checkpoint = parsed.datamodule, best_checkpoint(parsed)
    model = parsed.model
    if checkpoint is not None:
        model = CTCRecognizer.load_from_checkpoint(checkpoint, encoder=model.encoder, weights_only=True)
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
    if trainer.is_global_zero:
        RunDir(parsed.run_dir).write_transcripts(rows)
    system = f"{system_prefix}-{data.script}"
    identity = {"encoder": type(model.encoder).__name__, "script": data.script, "symbols": len(model.vocabulary)}
    record = run_record(parsed, fitted, path="recognizer", modality=modality, system=system, model=identity)
    metrics = write_run(trainer, parsed, record, None, {"asr": scores})
    for split, part in (metrics or {}).get("sections", {}).get("asr", {}).items():
        per = ", ".join(f"{lang} {s['cer']:.3f}" for lang, s in part["per_language"].items())
        log.warning("%s CER %s: %s (fit %.0f s)", parsed.run_dir, split, per, fitted.training.train_seconds)
    return replace(run, metrics=metrics)


if __name__ == "__main__":
    entry(main)
