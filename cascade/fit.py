"""The cascade path: ``python -m cascade.fit -c CONFIG [-c OVERLAY ...]``.

A LightningCLI program (``--print_config``, ``--help``). The data module runs the stages
first (recognize -> romanize, both cached on disk), then the text classifier is fitted
on gold text or on recognizer output (``data.train_on``) and tested, with its best
checkpoint (``val/acc``), on the recognizer's output of every evaluated split and on the
gold text. The run directory (``--run_dir``, default ``runs/<config stems>``) gets
``config.yaml``, ``checkpoints/``, ``predictions.jsonl`` (records carry ``transcript``, and
``romanized`` when the text is romanized) and ``metrics.json`` with the same ``splits``
layout as the E2E path plus ``asr`` (CER/WER per split and language) and ``gold_text``
(the classifier on gold text: the upper bound).
"""

from __future__ import annotations

import logging

from cascade.asr_text import error_rates_by_language
from cascade.classifier import TextClassifier
from cascade.cli import RunDirCLI, RunDirConfig
from cascade.data import CascadeDataModule
from workbench.metrics import scores_by_language
from workbench.predictions import make_predictions
from workbench.runs import RunDir, RunInfo

log = logging.getLogger(__name__)


class CascadeCLI(RunDirCLI):
    fallback_name = "cascade"
    monitor = "val/acc"
    mode = "max"

    def add_arguments_to_parser(self, parser) -> None:
        super().add_arguments_to_parser(parser)
        parser.add_argument("--system", type=str | None, default=None, help="system name (default ca-<data.text>)")
        parser.link_arguments("data.num_classes", "model.num_classes", apply_on="instantiate")


def asr_scores(data: CascadeDataModule) -> dict:
    """CER/WER of the recognizer per evaluated split and language, against the gold text it
    should have written (romanized gold for a romanized recognizer)."""
    if data.recognizer is None:
        return {}
    out = {}
    for split in data.eval_splits:
        items = data.eval_items(split)
        if data.recognizer.script == "romanized":
            refs = [data.gold_text[i.id] if data.text == "romanized" else (i.romanized or "") for i in items]
        else:
            refs = [i.text or "" for i in items]
        hyps = [data.transcripts[i.id] for i in items]
        languages = [i.language for i in items]
        # + the recognizer's own counts, e.g. clips whose language Whisper lacks (detected instead)
        out[split] = {**error_rates_by_language(refs, hyps, languages), **data.recognizer.language_report(languages)}
    return out


def write_results(cli: CascadeCLI) -> dict:
    """Predictions on recognizer output, metrics, the ASR scores and the gold-text upper bound."""
    model: TextClassifier = cli.model
    data: CascadeDataModule = cli.datamodule
    seed = int(cli.config["seed_everything"])
    system = cli.config.get("system") or data.system
    records, gold = [], {}
    n_splits = len(data.eval_splits)
    for index, split in enumerate(data.eval_splits):
        items = data.eval_items(split)
        probs = model.split_probs(index, len(items))
        transcripts = [data.transcripts[i.id] for i in items]
        romanized = data.texts_for(items, "asr") if data.text == "romanized" else None
        records += make_predictions(
            items, probs, split, system, data.protocol.tag, seed, transcripts=transcripts, romanized=romanized
        )
        gold_probs = model.split_probs(n_splits + index, len(items))
        preds = [max(range(len(row)), key=row.__getitem__) for row in gold_probs]
        gold[split] = scores_by_language([i.label for i in items], preds, [i.language for i in items], data.num_classes)
    recognizer = data.recognizer.describe() if data.recognizer is not None else None
    extra = {
        "text": data.text,
        "train_on": data.train_on,
        "recognizer": recognizer,
        "classifier": type(model.model).__name__,
        "checkpoint": cli.best_checkpoint(),
        "best_dev": float(cli.best.best_model_score) if cli.best.best_model_score is not None else None,
        "asr": asr_scores(data),
        "gold_text": {"splits": gold},
    }
    info = RunInfo(system, data.protocol, seed, data.label_names)
    return RunDir(cli.config["run_dir"]).write_results(records, info, extra)


def main(args=None) -> CascadeCLI:
    cli = CascadeCLI(
        TextClassifier,
        CascadeDataModule,
        run=False,
        args=args,
        save_config_callback=RunDirConfig,
        seed_everything_default=0,
        trainer_defaults={"log_every_n_steps": 10},
        auto_configure_optimizers=False,
    )
    cli.trainer.fit(cli.model, datamodule=cli.datamodule, ckpt_path=cli.config["ckpt_path"])
    if cli.config["test"]:
        cli.trainer.test(cli.model, datamodule=cli.datamodule, ckpt_path="best" if cli.best_checkpoint() else None)
        if cli.trainer.is_global_zero:
            metrics = write_results(cli)
            for split, scores in metrics["splits"].items():
                gold = metrics["gold_text"]["splits"][split]["overall"]["accuracy"]
                log.warning(
                    "%s %s: accuracy %.3f (gold text %.3f)",
                    cli.config["run_dir"],
                    split,
                    scores["overall"]["accuracy"],
                    gold,
                )
    return cli


if __name__ == "__main__":
    main()
