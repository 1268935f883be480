"""Train the CTC line recognizer on text images: ``python -m cascade.fit_ocr -c CONFIG [-c OVERLAY]``.

:mod:`cascade.fit_asr`'s program (same model, checkpoints, transcripts and metrics section
``asr``: ``<split>.overall|per_language.<lang>`` = cer, wer, n) on the image data module
(:class:`cascade.ocr_data.LineImageDataModule`); the encoder is an image one
(``vision.line_encoder.LineEncoder``), so the best checkpoint is a recognizer that
``cascade.recognizers.CTCCheckpointRecognizer`` uses on images (``signal = "image"``).
The run record says path ``recognizer``, modality ``image``.
"""

from __future__ import annotations

from cascade.fit_asr import RecognizerProgram
from cascade.ocr_data import LineImageDataModule
from workbench.program import entry


class LineRecognizerProgram(RecognizerProgram):
    """A CTC line recognizer: path ``recognizer``, modality ``image``; best by lowest ``val/cer``."""

    modality, fallback_name = "image", "ocr"
    data_class = LineImageDataModule

    def system(self) -> str:
        return f"ocr-ctc-{self.datamodule.script}"


def main(args: list[str] | None = None) -> LineRecognizerProgram:
    """Run the program on ``args`` (default ``sys.argv[1:]``); returns the CLI object."""
    return LineRecognizerProgram.main(args)


if __name__ == "__main__":
    entry(main)
