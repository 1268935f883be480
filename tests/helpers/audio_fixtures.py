"""Builders of small audio files and datasets in real schemas, for loader and bad-input tests."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import soundfile as sf

RATE = 16000


def tone(seconds: float = 0.5, rate: int = RATE, freq: float = 440.0, channels: int = 1) -> np.ndarray:
    """A sine tone, ``(frames,)`` or ``(frames, channels)`` float32."""
    t = np.arange(int(seconds * rate)) / rate
    wave = (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return wave if channels == 1 else np.stack([wave] * channels, axis=1)


def write_audio(path: Path, samples: np.ndarray, rate: int = RATE, fmt: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), samples, rate, format=fmt)
    return path


def wav_bytes(samples: np.ndarray, rate: int = RATE) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, format="WAV")
    return buffer.getvalue()


def speechtaxi_rows(language: str, verses: list[str], labels: list[str], rate: int = RATE) -> dict:
    """Columns of the SpeechTaxi schema for one language config."""
    return {
        "verse_ref": verses,
        "text_en": [f"english text of {v}" for v in verses],
        "language": [language] * len(verses),
        "transcription": [f"{language} transcription {v}" for v in verses],
        "transcription_romanized": [f"{language} romanized {v}" for v in verses],
        "label": labels,
        "audio": [
            {"bytes": wav_bytes(tone(0.3 + 0.05 * i, rate, 200 + 40 * i), rate), "path": None}
            for i in range(len(verses))
        ],
    }


def save_hf_dataset(folder: Path, splits: dict[str, dict], class_columns: dict[str, list[str]] | None = None) -> Path:
    """``save_to_disk`` a DatasetDict whose ``audio`` column holds WAV bytes.

    Audio is stored as a plain ``{bytes, path}`` struct: encoding through ``datasets.Audio``
    needs torchcodec, while the loader's ``Audio(decode=False)`` cast reads this layout.
    """
    from datasets import ClassLabel, Dataset, DatasetDict, Features, Value

    first = next(iter(splits.values()))
    features = {}
    for column, values in first.items():
        if column == "audio":
            features[column] = {"bytes": Value("binary"), "path": Value("string")}
        elif class_columns and column in class_columns:
            features[column] = ClassLabel(names=class_columns[column])
        elif isinstance(values[0], int):
            features[column] = Value("int64")
        else:
            features[column] = Value("string")
    dataset = DatasetDict(
        {name: Dataset.from_dict(columns, features=Features(features)) for name, columns in splits.items()}
    )
    dataset.save_to_disk(str(folder))
    return folder


def synthetic_wave(seconds: float, label: int, rng: np.random.Generator) -> np.ndarray:
    """A test clip whose class is audible: a tone at ``300 + 150 * label`` Hz plus noise."""
    t = np.arange(int(seconds * RATE)) / RATE
    tone = 0.5 * np.sin(2 * np.pi * (300 + 150 * label) * t)
    return (tone + 0.05 * rng.standard_normal(t.shape)).astype(np.float32)


def bad_audio(folder: Path) -> dict[str, tuple[Path, str]]:
    """One file per fault kind, and the words its DataError must contain."""
    folder.mkdir(parents=True, exist_ok=True)
    fake = folder / "fake.wav"
    fake.write_text("this is not audio")
    empty = folder / "empty.wav"
    empty.write_bytes(b"")
    truncated = write_audio(folder / "truncated.wav", tone(1.0))
    truncated.write_bytes(truncated.read_bytes()[:-8000])  # the header still promises the whole second
    nan = folder / "nan.wav"
    samples = tone(0.5)
    samples[100:200] = np.nan
    sf.write(str(nan), samples, 16000, subtype="FLOAT")
    return {
        "fake": (fake, "not decodable audio"),
        "empty": (empty, "empty file"),
        "truncated": (truncated, "truncated audio file"),
        "nan": (nan, "audio has NaN or infinite samples"),
    }
