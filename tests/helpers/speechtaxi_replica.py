"""A SpeechTaxi replica of any size (tests and the preparation benchmark): ``hub_replicas``' layout, more clips.

Real MP3 (22.05 kHz stereo, as the repository's), ``tables/<lang>/<split>.csv`` with the real
columns; a few distinct recordings are encoded once and repeated, so a large replica is cheap to write.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from speech.speechtaxi import SPEECHTAXI_LABELS
from tests.helpers.hub_replicas import mp3, speechtaxi_recording, write_hub_repo, zipped

SPLIT_CYCLE = ("train", "train", "train", "dev", "test")


def speechtaxi_sized(cache: Path, languages=("eng", "rus"), verses: int = 40, seconds: float = 2.0) -> Path:
    """``verses`` clips of ``seconds`` each per language, as the cached ``main`` snapshot of the real repo id."""
    recordings = [mp3(seconds, 180 + 37 * k) for k in range(4)]
    audio, tables = {}, {}
    for language in languages:
        rows = []
        for v in range(verses):
            verse = f"1CO {v // 20 + 1}:{v % 20 + 1}"
            path = speechtaxi_recording(language, verse)
            audio[path] = recordings[v % len(recordings)]
            rows.append(
                {
                    "verse_ref": verse,
                    "language": language,
                    "transcription": f"{language} verse {verse}",
                    "label": v % len(SPEECHTAXI_LABELS),
                    "audio": path,
                    "split": SPLIT_CYCLE[v % len(SPLIT_CYCLE)],
                }
            )
        for split, part in pd.DataFrame(rows).groupby("split"):
            tables[f"tables/{language}/{split}.csv"] = part.drop(columns="split").to_csv(index=False).encode()
    files = {"SpeechTaxi.py": b"# loading script (not run)\n", "data.zip": zipped(audio), "tables.zip": zipped(tables)}
    return write_hub_repo(cache, "LennartKeller/SpeechTaxi", files)
