"""What a person gives the demo, checked: clips (any rate/channels -> 16 kHz mono) and images.

Every fault is a :class:`~workbench.errors.DataError` whose text the UI shows as is.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from workbench.errors import DataError

MAX_SECONDS = 30.0  # s: longer clips are refused (Whisper's window; the E2E models train on short clips)
MAX_FILE_SIZE = "20mb"  # per upload, enforced by Gradio's server (``launch(max_file_size=...)``)
WHERE = "uploaded clip"


def read_clip(path: str | Path | None, max_seconds: float = MAX_SECONDS) -> np.ndarray:
    """An uploaded or recorded clip -> float32 mono 16 kHz ``(samples,)``.

    Decoding, down-mixing, resampling and the empty/NaN/silence checks are
    :func:`speech.audio.load_audio` (which uses :func:`speech.audio.prepare`).

    Raises:
        DataError: no clip, not audio, corrupt/truncated, too long, empty or silent.
    """
    if not path:
        raise DataError(WHERE, "audio", "no clip: upload a file or record one first")
    path = Path(path)
    if not path.is_file():
        raise DataError(WHERE, "audio", f"file not found ({path.name})")
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, ValueError):
        raise DataError(
            WHERE, "audio", f"'{path.name}' is not an audio file this demo can read (WAV, FLAC, OGG, MP3)"
        ) from None
    seconds = info.frames / info.samplerate if info.samplerate else 0.0
    if seconds > max_seconds:
        raise DataError(WHERE, "audio", f"clip is {seconds:.1f} s long; the demo accepts at most {max_seconds:.0f} s")
    from speech.audio import load_audio  # imports torch: not before the page is up

    return load_audio(path, where=WHERE, max_seconds=None)


def read_image(image) -> object:
    """A PIL image from the upload (``gr.Image(type="pil")``), RGB.

    Raises:
        DataError: no image, or an image with no pixels.
    """
    if image is None:
        raise DataError("uploaded image", "image", "no image: upload one first")
    if getattr(image, "width", 0) < 1 or getattr(image, "height", 0) < 1:
        raise DataError("uploaded image", "image", "the image has no pixels")
    return image.convert("RGB")
