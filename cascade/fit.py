"""The cascade path: ``python -m cascade.fit -c CONFIG [-c OVERLAY ...]``.

A LightningCLI program (``--print_config``, ``--help``) on the shared program layer
(:mod:`workbench.program`). The data module runs the stages first (recognize -> romanize,
both cached on disk), then the text classifier is fitted on gold text or on recognizer
output (``data.train_on``) and, with the best checkpoint (``val/acc``), predicts the
recognizer's output of every evaluated split and of dev, and the gold text of every
evaluated split. The run directory (``--run_dir``, default ``runs/<config stems>``; layout:
:mod:`workbench.runs`) gets the predictions (records carry ``transcript``, and ``romanized``
when the text is romanized) and the metrics: the run record, the ``splits`` of the E2E path
and the sections ``asr`` (CER/WER per split and language) and ``gold_text`` (the classifier
on gold text: the upper bound).
"""

from __future__ import annotations

import logging

from cascade.asr_text import error_rates_by_language
from cascade.classifier import TextClassifier
from cascade.data import CascadeDataModule
from workbench.metrics import scores_by_language
from workbench.predictions import make_predictions
from workbench.program import Program, entry, probs_in_order

log = logging.getLogger(__name__)


class CascadeProgram(Program):
    """Recognize -> romanize -> classify: path ``cascade``; records recognizer, text and classifier."""

    path, fallback_name = "cascade", "cascade"
    renamed = {"data.text": "data.script"}
    model_class, data_class = TextClassifier, CascadeDataModule

    def add_arguments_to_parser(self, parser) -> None:
        super().add_arguments_to_parser(parser)
        parser.add_argument("--system", type=str | None, default=None, help="system name (default ca-<data.script>)")
        parser.link_arguments("data.num_classes", "model.num_classes", apply_on="instantiate")

    @property
    def modality(self) -> str:
        """``image`` when the recognizer reads images (OCR), else ``speech``."""
        return "image" if getattr(self.datamodule.recognizer, "signal", "audio") == "image" else "speech"

    def system(self) -> str:
        return self.config.get("system") or self.datamodule.system

    def model_identity(self) -> dict:
        data = self.datamodule
        return {
            "recognizer": data.recognizer.describe() if data.recognizer is not None else None,
            "script": data.script,
            "train_on": data.train_on,
            "classifier": type(self.model.model).__name__,
        }

    def evaluate(self):
        """Predictions on recognizer output (evaluated splits + dev) and the gold-text scores."""
        data, system = self.datamodule, self.system()
        outputs = self.predict()
        records, gold = [], {}
        for split, part in zip(data.predict_splits, outputs, strict=False):
            items = data.eval_items(split)
            probs = probs_in_order(part, len(items), f"split '{split}'")
            transcripts = [data.transcripts[i.id] for i in items]
            romanized = data.texts_for(items, "asr") if data.script == "romanized" else None
            records += make_predictions(
                items, probs, split, system, data.protocol.tag, self.seed, transcripts=transcripts, romanized=romanized
            )
        for split, part in zip(data.eval_splits, outputs[len(data.predict_splits) :], strict=True):
            items = data.eval_items(split)
            rows = probs_in_order(part, len(items), f"split '{split}' (gold text)")
            preds = [max(range(len(row)), key=row.__getitem__) for row in rows]
            gold[split] = scores_by_language([i.label for i in items], preds, [i.language for i in items], len(rows[0]))
        return records, {"asr": asr_scores(data), "gold_text": {"splits": gold}}

    def report(self, metrics: dict) -> None:
        for split, scores in metrics["splits"].items():
            gold = metrics["sections"]["gold_text"]["splits"][split]["overall"]["accuracy"]
            log.warning("%s %s: accuracy %.3f (gold %.3f)", self.run_dir, split, scores["overall"]["accuracy"], gold)


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


def main(args: list[str] | None = None) -> CascadeProgram:
    """Run the program on ``args`` (default ``sys.argv[1:]``); returns the CLI object."""
    return CascadeProgram.main(args)


if __name__ == "__main__":
    entry(main)
