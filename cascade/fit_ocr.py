"""Train the CTC line recognizer on text images: ``python -m cascade.fit_ocr -c CONFIG [-c OVERLAY]``.

:mod:`cascade.fit_asr`'s program (same model, checkpoints, transcripts.jsonl and metrics.json:
``asr.<split>.overall|per_language.<lang>`` = cer, wer, n) on the image data module
(:class:`cascade.ocr_data.LineImageDataModule`); the encoder is an image one
(``vision.line_encoder.LineEncoder``), so ``best.ckpt`` is a recognizer that
``cascade.recognizers.CTCCheckpointRecognizer`` uses on images (``signal = "image"``).
The run record says ``kind`` recognizer, ``modality`` image.
"""

from __future__ import annotations

from cascade.ctc import CTCRecognizer
from cascade.fit_asr import RECOGNIZER, evaluate_recognizer
from cascade.ocr_data import LineImageDataModule
from workbench.distributed import program_scope
from workbench.program import Run, entry, train


@program_scope()
def main(args: list[str] | None = None) -> Run:
    """Run the program on ``args`` (default ``sys.argv[1:]``)."""
    run = train(CTCRecognizer, LineImageDataModule, args, fallback="ocr", **RECOGNIZER)
    return evaluate_recognizer(run, modality="image", system_prefix="ocr-ctc")


if __name__ == "__main__":
    entry(main)
