"""Speech from text with the espeak-ng command line: deterministic, offline, every script.

The CLI is used on purpose, not the in-process library of ``espeakng-loader``: the library
keeps state between utterances and is not bit-reproducible, while one CLI process per
utterance always gives the same samples for the same arguments (see PROBE.md).

Example:
    >>> params = Prosody(voice="en-us+m3", rate=170, pitch=50, pitch_range=60, peak=0.8)
    >>> audio = speak("January, March", params, sample_rate=16000)  # float32, shape (samples,)
"""

from __future__ import annotations

import html
import io
import shutil
import subprocess
from functools import cache
from math import gcd

import numpy as np
import soundfile as sf

from workbench.data.plan import Prosody
from workbench.errors import ConfigError, DataError

ESPEAK_SAMPLE_RATE = 22050  # Hz, fixed by espeak-ng's own voices
WAV_HEADER_BYTES = 44  # espeak-ng --stdout writes a canonical RIFF header, then int16 mono samples
RATE_RANGE = (80, 450)  # words per minute accepted by espeak-ng
MIN_PEAK = 1e-4  # below this the synthesized utterance counts as silent


@cache
def espeak_binary() -> str:
    """The espeak-ng executable; a ConfigError says how to install it when missing."""
    path = shutil.which("espeak-ng")
    if path is None:
        raise ConfigError("espeak-ng is not installed: `apt-get install espeak-ng` (or brew install espeak-ng)")
    return path


def _ssml(text: str, pitch_range: int) -> str:
    # Pitch range has no command-line flag; SSML prosody carries it. Escape the text, not the markup.
    return f'<speak><prosody range="{pitch_range}%">{html.escape(text, quote=False)}</prosody></speak>'


def espeak(text: str, prosody: Prosody) -> np.ndarray:
    """Raw espeak-ng output: int16 samples at :data:`ESPEAK_SAMPLE_RATE`, shape ``(samples,)``."""
    if not RATE_RANGE[0] <= prosody.rate <= RATE_RANGE[1]:
        raise ConfigError(f"speech rate {prosody.rate} outside {RATE_RANGE} words per minute")
    command = [
        espeak_binary(),
        "-m",  # SSML input
        "-z",  # no final sentence pause: shorter files, no trailing silence to learn from
        "-v",
        prosody.voice,
        "-s",
        str(prosody.rate),
        "-p",
        str(prosody.pitch),
        "--stdout",
    ]
    result = subprocess.run(command, input=_ssml(text, prosody.pitch_range).encode("utf-8"), capture_output=True)
    if result.returncode != 0 or len(result.stdout) <= WAV_HEADER_BYTES:
        problem = result.stderr.decode("utf-8", "replace").strip() or "no audio produced"
        raise DataError(f"espeak-ng voice '{prosody.voice}' text '{text}'", "audio", problem)
    # The header's sizes are placeholders when writing to a pipe, so read the samples directly.
    return np.frombuffer(result.stdout[WAV_HEADER_BYTES:], dtype="<i2").copy()


@cache
def _lowpass(up: int, down: int) -> np.ndarray:
    """The anti-aliasing filter ``scipy.signal.resample_poly`` designs on every call, designed once.

    Same design as scipy's default (Kaiser window, beta 5, ``10 * max(up, down)`` taps a side,
    float32 like the signal), so passing it as ``window`` gives bit-identical output; designing
    its 8821 taps for 22050 -> 16000 Hz took most of the resampling time of a build.
    """
    from scipy.signal import firwin

    max_rate = max(up, down)
    taps = firwin(2 * 10 * max_rate + 1, 1.0 / max_rate, window=("kaiser", 5.0)).astype(np.float32)
    taps.setflags(write=False)  # shared between threads: scipy copies it before scaling
    return taps


def resample(samples: np.ndarray, source_rate: int, target_rate: int) -> np.ndarray:
    """Polyphase resampling of a 1-D signal; float32 out, shape ``(samples * target / source,)``."""
    samples = np.asarray(samples, dtype=np.float32)
    if source_rate == target_rate:
        return samples
    step = gcd(source_rate, target_rate)
    up, down = target_rate // step, source_rate // step
    try:
        from scipy.signal import resample_poly
    except ImportError:  # torchaudio is always installed with the workbench; scipy usually is too
        import torch
        import torchaudio.functional as F

        return F.resample(torch.from_numpy(samples), source_rate, target_rate).numpy()
    return resample_poly(samples, up, down, window=_lowpass(up, down)).astype(np.float32)


def speak(text: str, prosody: Prosody, sample_rate: int) -> np.ndarray:
    """Speech for ``text``: float32 in [-1, 1] at ``sample_rate``, peak scaled to ``prosody.peak``."""
    audio = resample(espeak(text, prosody).astype(np.float32) / 32768.0, ESPEAK_SAMPLE_RATE, sample_rate)
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if not np.isfinite(peak) or peak < MIN_PEAK:
        raise DataError(f"espeak-ng voice '{prosody.voice}' text '{text}'", "audio", "synthesized audio is silent")
    return audio * np.float32(prosody.peak / peak)


def flac_bytes(audio: np.ndarray, sample_rate: int) -> bytes:
    """A mono 16-bit FLAC file of ``audio`` (float in [-1, 1]) as bytes, for an atomic write."""
    pcm = np.clip(np.round(audio * 32767.0), -32768, 32767).astype(np.int16)
    buffer = io.BytesIO()
    sf.write(buffer, pcm, sample_rate, format="FLAC", subtype="PCM_16")
    return buffer.getvalue()
