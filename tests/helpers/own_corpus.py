"""A researcher's own corpus as they would hand it over: a flat Hugging Face AudioFolder.

``metadata.csv`` with ``file_name, label, language, transcription, split`` (``validation``, the hub's
spelling), native-script transcripts only (no romanization), 8 languages in 6 scripts, files spread
over subfolders, some clips 22.05 kHz stereo WAV and others 16 kHz mono FLAC. Spoken by espeak-ng.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import soundfile as sf

from speech.tts import ESPEAK_SAMPLE_RATE, speak
from workbench.data.cldr_text import item_names, language_spec
from workbench.data.plan import Prosody

LANGUAGES = ("eng", "deu", "spa", "rus", "ell", "hin", "kat", "tha")
CLASSES = ("months", "weekdays", "territories")
PER_CLASS = 6  # contents per class: 4 train, 1 validation, 1 test
SPLIT_OF_POSITION = ["train"] * 4 + ["validation", "test"]


def build_own_corpus(root: Path) -> Path:
    """Write the corpus under ``root`` (once) and return ``root``."""
    if (root / "metadata.csv").is_file():
        return root
    rows = []
    for li, language in enumerate(LANGUAGES):
        names = item_names(language)
        voice = language_spec(language).espeak_voice
        stereo_22k = li % 2 == 1  # half the languages as the recorder left them: 22.05 kHz stereo WAV
        for cls in CLASSES:
            for position, (key, word) in enumerate(list(names[cls].items())[:PER_CLASS]):
                prosody = Prosody(voice=voice, rate=170 + 10 * position, pitch=40 + 5 * li, pitch_range=100, peak=0.8)
                if stereo_22k:
                    samples = speak(word, prosody, ESPEAK_SAMPLE_RATE)
                    samples = np.stack([samples, 0.9 * samples], axis=1)
                    name, rate = f"recordings/{language}/{cls}/{key}.wav", ESPEAK_SAMPLE_RATE
                else:
                    samples, rate = speak(word, prosody, 16000), 16000
                    name = f"clips/{language}-{cls}-{key}.flac"
                (root / name).parent.mkdir(parents=True, exist_ok=True)
                sf.write(str(root / name), samples, rate)
                rows.append(
                    {
                        "file_name": name,
                        "label": cls,
                        "language": language,
                        "transcription": word,
                        "content_id": f"{cls}-{key}",
                        "split": SPLIT_OF_POSITION[position],
                    }
                )
    with (root / "metadata.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return root


def data_config(root: Path, cache: Path) -> str:
    """The one data overlay all three programs take (``-c data.yaml``)."""
    return (
        "data:\n"
        "  source:\n"
        "    class_path: speech.sources.AudioFolder\n"
        "    init_args:\n"
        f"      root: {root}\n"
        "      columns: {text: transcription}\n"
        f"      cache_dir: {cache}\n"
    )
