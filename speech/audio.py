"""Reading audio: soundfile -> mono -> 16 kHz -> checked -> capped.

``torchaudio.load`` needs torchcodec, which this project does not depend on; soundfile
reads WAV, FLAC and OGG directly. Every fault names the item and the file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio.functional as AF

from workbench.errors import DataError

SAMPLE_RATE = 16000  # Hz: every encoder, recognizer and cache in the workbench works at this rate
MAX_SECONDS = 30.0  # s: default cap on a clip's duration (Whisper's window)
SILENCE_PEAK = 1e-4  # absolute peak below which a clip counts as silent


def to_mono(samples: np.ndarray) -> np.ndarray:
    """``(frames,)`` or ``(frames, channels)`` -> ``(frames,)`` by averaging channels."""
    return samples if samples.ndim == 1 else samples.mean(axis=1)


def resample(samples: np.ndarray, rate: int, target: int = SAMPLE_RATE) -> np.ndarray:
    """Band-limited resampling (torchaudio's sinc interpolation), float32 in and out."""
    if rate == target:
        return samples.astype(np.float32, copy=False)
    wave = torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32))
    return AF.resample(wave, rate, target).numpy()


def check_samples(samples: np.ndarray, where: str, field: str = "audio") -> None:
    """Reject empty, non-finite or silent audio with a message naming the item."""
    if samples.size == 0:
        raise DataError(where, field, "audio is empty (0 samples)")
    if not np.isfinite(samples).all():
        raise DataError(where, field, "audio has NaN or infinite samples")
    if float(np.abs(samples).max()) < SILENCE_PEAK:
        raise DataError(where, field, "audio is silent (all samples ~0)")


def prepare(samples: np.ndarray, rate: int, where: str, max_seconds: float | None = MAX_SECONDS) -> np.ndarray:
    """Raw decoded samples at any rate/channel count -> checked float32 mono at 16 kHz.

    Returns:
        ``(frames,)`` float32 at :data:`SAMPLE_RATE`, at most ``max_seconds`` long.
    """
    samples = to_mono(np.asarray(samples, dtype=np.float32))
    check_samples(samples, where)
    samples = resample(samples, rate)
    if max_seconds is not None:
        samples = samples[: int(max_seconds * SAMPLE_RATE)]
    return samples


def wav_is_truncated(path: Path) -> bool:
    """True when a RIFF/WAVE file's ``data`` chunk claims more bytes than the file holds.

    libsndfile silently shortens such files to what is there, so a download cut short
    would otherwise pass as a valid, shorter clip.
    """
    with path.open("rb") as handle:
        header = handle.read(12)
        if len(header) < 12 or header[:4] != b"RIFF" or header[8:12] != b"WAVE":
            return False
        size = path.stat().st_size
        while True:
            chunk = handle.read(8)
            if len(chunk) < 8:
                return False
            name, length = chunk[:4], int.from_bytes(chunk[4:], "little")
            if name == b"data":
                return handle.tell() + length > size and length != 0xFFFFFFFF  # 0xFFFFFFFF: streamed, size unknown
            handle.seek(length + (length & 1), 1)


def load_audio(path: str | Path, where: str | None = None, max_seconds: float | None = MAX_SECONDS) -> np.ndarray:
    """Read an audio file as float32 mono 16 kHz, capped at ``max_seconds``.

    Raises:
        DataError: the file is missing, unreadable, truncated, empty, silent or has NaN/inf.
    """
    where = where or f"file '{path}'"
    path = Path(path)
    if not path.is_file():
        raise DataError(where, "audio", f"file not found ({path})")
    if wav_is_truncated(path):
        raise DataError(where, "audio", f"truncated audio file ({path}): the WAV header promises more data")
    try:
        with sf.SoundFile(str(path)) as handle:
            rate = handle.samplerate
            frames = handle.frames
            limit = frames if max_seconds is None else min(frames, int(max_seconds * rate) + 1)
            samples = handle.read(limit, dtype="float32", always_2d=False)
    except (sf.LibsndfileError, RuntimeError, ValueError) as err:
        raise DataError(where, "audio", f"unreadable or truncated audio file ({path}): {err}") from None
    if len(samples) < limit:
        raise DataError(
            where, "audio", f"truncated audio file ({path}): header says {frames} frames, read {len(samples)}"
        )
    return prepare(samples, rate, where, max_seconds)


def duration_seconds(path: str | Path) -> float:
    """Duration from the header alone (no decoding), for length bucketing."""
    info = sf.info(str(path))
    return info.frames / info.samplerate
