"""Train a CTC recognizer on the corpus' transcripts: ``python -m cascade.fit_asr -c CONFIG [-c OVERLAY]``.

A LightningCLI program (``--print_config``, ``--help``). Trains :class:`~cascade.ctc.CTCRecognizer`
on every training language (protocol ``all_languages``) with native-script or romanized
targets (``data.target``), keeps the checkpoint with the lowest dev CER, then transcribes
every evaluated split with it and writes the run directory (``--run_dir``, default
``runs/<config stems>``): ``config.yaml``, ``checkpoints/best.ckpt`` (a Lightning checkpoint
whose ``encoder.*`` weights initialise the E2E encoder, and which
``cascade.recognizers.CTCCheckpointRecognizer`` loads), ``transcripts.jsonl`` and
``metrics.json`` (written last: ``asr.<split>.overall|per_language.<lang>`` = cer, wer, n).
"""

from __future__ import annotations

import logging
import time

import torch

from cascade.asr_data import ASRDataModule, target_text
from cascade.asr_text import error_rates_by_language
from cascade.cli import RunDirCLI, RunDirConfig
from cascade.ctc import CTCRecognizer
from workbench.io import atomic_write_json, atomic_write_jsonl
from workbench.runs import METRICS, RunDir

log = logging.getLogger(__name__)


class ASRCLI(RunDirCLI):
    fallback_name = "asr"
    monitor = "val/cer"
    mode = "min"


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


def evaluate(cli: ASRCLI, train_seconds: float, cpu_seconds: float) -> dict:
    """Transcribe the evaluated splits with the best checkpoint; write transcripts and metrics."""
    data: ASRDataModule = cli.datamodule
    best = cli.best_checkpoint()
    if best:
        model = CTCRecognizer.load_from_checkpoint(best, encoder=cli.model.encoder)
    else:  # stopped before any validation (max_steps in a smoke run): keep the final weights
        best = str(RunDir(cli.config["run_dir"]).checkpoints / "final.ckpt")
        cli.trainer.save_checkpoint(best)
        model = cli.model
    rows, scores = [], {}
    for split in data.eval_splits:
        items = data.eval_items(split)
        hyps = transcribe_split(model, data, split)
        refs = [target_text(item, data.target) for item in items]
        scores[split] = error_rates_by_language(refs, hyps, [item.language for item in items])
        rows += [
            {"id": i.id, "language": i.language, "split": split, "reference": r, "transcript": h}
            for i, r, h in zip(items, refs, hyps, strict=True)
        ]
    run = RunDir(cli.config["run_dir"])
    atomic_write_jsonl(run.path / "transcripts.jsonl", rows)
    metrics = {
        "system": f"ctc-{data.target}",
        "script": data.target,
        "symbols": len(model.vocabulary),
        "protocol_tag": data.protocol.tag,
        "seed": int(cli.config["seed_everything"]),
        "checkpoint": best,
        "train_seconds": round(train_seconds, 1),
        # process CPU time (all threads): on a shared machine wall time overstates the cost
        "train_cpu_seconds": round(cpu_seconds, 1),
        "global_step": int(cli.trainer.global_step),
        "asr": scores,
    }
    atomic_write_json(run.path / METRICS, metrics)  # last: marks the run finished
    return metrics


def main(args=None) -> ASRCLI:
    cli = ASRCLI(
        CTCRecognizer,
        ASRDataModule,
        run=False,
        args=args,
        save_config_callback=RunDirConfig,
        seed_everything_default=0,
        trainer_defaults={"use_distributed_sampler": False, "log_every_n_steps": 10},
        auto_configure_optimizers=False,
    )
    started, cpu_started = time.perf_counter(), time.process_time()
    cli.trainer.fit(cli.model, datamodule=cli.datamodule, ckpt_path=cli.config["ckpt_path"])
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    if cli.config["test"] and cli.trainer.is_global_zero:
        metrics = evaluate(cli, seconds, cpu_seconds)
        for split, part in metrics["asr"].items():
            per = ", ".join(f"{lang} {s['cer']:.3f}" for lang, s in part["per_language"].items())
            log.warning("%s CER %s: %s (fit %.0f s)", cli.config["run_dir"], split, per, seconds)
    return cli


if __name__ == "__main__":
    main()
