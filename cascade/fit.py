"""The cascade path: ``python -m cascade.fit -c CONFIG [-c OVERLAY ...]``.

LightningCLI parses (``--print_config``, ``--help``); :func:`main` runs the steps of
:mod:`workbench.program` in order. The data module runs the stages first (recognize -> romanize ->
translate, each cached on disk), then the text classifier is fitted on gold text or on recognizer
output (``data.train_on``; not at all with ``--fit false``, e.g. a zero-shot LLM) and, with
``checkpoints/best.ckpt`` (``val/acc``), predicts the
recognizer's output of every evaluated split and of dev, and the gold text of every
evaluated split. The run directory (``--run_dir``, default ``runs/<config stems>``) gets
``config.yaml``, ``checkpoints/``, ``predictions.jsonl`` (records carry ``transcript``, and
``romanized`` when the text is romanized), ``dev_predictions.jsonl`` and ``metrics.json``:
the run record, the ``splits`` layout of the E2E path, ``asr`` (CER/WER per split and
language) and ``gold_text`` (the classifier on gold text: the upper bound).
"""

from __future__ import annotations

import logging

from cascade.asr_text import error_rates_by_language
from cascade.classifier import TextClassifier
from cascade.data import CascadeDataModule
from workbench.distributed import program_scope
from workbench.metrics import scores_by_language
from workbench.program import Run, entry, evaluate, probs_in_order, train

log = logging.getLogger(__name__)
LINKS = (("data.num_classes", "model.num_classes"), ("data.label_names", "model.class_names"))


@program_scope()
def main(args: list[str] | None = None) -> Run:
    """Run the program on ``args`` (default ``sys.argv[1:]``)."""
    run = train(TextClassifier, CascadeDataModule, args, fallback="cascade", links=LINKS)
    data, model = run.datamodule, run.model
    columns = {"transcripts": lambda items: [data.transcripts[i.id] for i in items]}
    if data.script == "romanized":
        columns["romanized"] = lambda items: data.texts_for(items, "asr")
    run = evaluate(
        run,
        path="cascade",
        # image when the recognizer reads images (OCR), else speech
        modality="image" if getattr(data.recognizer, "signal", "audio") == "image" else "speech",
        system=model.hparams.system or data.system,
        model=identity(run),
        # the data module's predict loaders after the recognizer's output: the gold text
        further=lambda gold: {"asr": asr_scores(data), "gold_text": {"splits": gold_text_scores(data, gold)}},
        **columns,
    )
    for split, scores in (run.metrics or {}).get("sections", {}).get("gold_text", {}).get("splits", {}).items():
        log.warning("%s %s: gold text accuracy %.3f", run.parsed.run_dir, split, scores["overall"]["accuracy"])
    return run


def identity(run: Run) -> dict:
    """What the run record says of the cascade: its stages and classifier."""
    data = run.datamodule
    return {
        "recognizer": data.recognizer.describe() if data.recognizer is not None else None,
        "script": data.script,
        "train_on": data.train_on,
        "translator": data.translator.describe() if data.translator is not None else None,
        "classifier": type(run.model.model).__name__,
        # e.g. the language adapters a LanguageAdapterClassifier stacked under its task adapter
        **({"classifier_parts": run.model.model.describe()} if hasattr(run.model.model, "describe") else {}),
    }


def gold_text_scores(data: CascadeDataModule, outputs: list) -> dict:
    """The classifier's scores on the gold text of every evaluated split: the cascade's upper bound."""
    gold = {}
    for split, part in zip(data.eval_splits, outputs, strict=True):
        items = data.eval_items(split)
        rows = probs_in_order(part, len(items), f"split '{split}' (gold text)")
        preds = [max(range(len(row)), key=row.__getitem__) for row in rows]
        gold[split] = scores_by_language([i.label for i in items], preds, [i.language for i in items], len(rows[0]))
    return gold


def asr_scores(data: CascadeDataModule) -> dict:
    """CER/WER of the recognizer per evaluated split and language, against the gold text it
    should have written (romanized gold for a romanized recognizer)."""
    if data.recognizer is None:
        return {}
    out = {}
    for split in data.eval_splits:
        items = data.eval_items(split)
        if data.recognizer.script == "romanized":
            refs = [data.gold_text[i.id] if data.script == "romanized" else (i.romanized or "") for i in items]
        else:
            refs = [i.text or "" for i in items]
        hyps = [data.transcripts[i.id] for i in items]
        languages = [i.language for i in items]
        # + the recognizer's own counts, e.g. clips whose language Whisper lacks (detected instead)
        out[split] = {**error_rates_by_language(refs, hyps, languages), **data.recognizer.language_report(languages)}
    return out


if __name__ == "__main__":
    entry(main)
