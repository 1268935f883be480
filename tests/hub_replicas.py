"""Local replicas of real hub dataset repositories, laid out as a Hugging Face hub cache.

A replica is written into ``<cache>/datasets--<owner>--<name>/snapshots/<commit>/...`` with
``refs/main`` naming the commit, which is what ``hf_hub_download`` / ``snapshot_download``
read with ``HF_HUB_OFFLINE=1``: the loaders' real download path runs, offline.
Contents follow ``../shared/REAL_DATA.md`` (file names, column names, features, label order).
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import soundfile as sf

from workbench.data.speechtaxi import SPEECHTAXI_LABELS


def write_hub_repo(cache: Path, repo_id: str, files: dict[str, bytes], commit: str | None = None) -> Path:
    """Write ``files`` (repo path -> bytes) as the cached ``main`` snapshot of dataset ``repo_id``."""
    commit = commit or hashlib.sha1(repo_id.encode()).hexdigest()
    repo = cache / ("datasets--" + repo_id.replace("/", "--"))
    snapshot = repo / "snapshots" / commit
    for name, data in files.items():
        (snapshot / name).parent.mkdir(parents=True, exist_ok=True)
        (snapshot / name).write_bytes(data)
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(commit)  # no newline: the hub client reads the file verbatim
    return snapshot


def tone(seconds: float, rate: int, freq: float, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    wave = (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return wave if channels == 1 else np.stack([wave] * channels, axis=1)


def encoded(samples: np.ndarray, rate: int, fmt: str, subtype: str | None = None) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, format=fmt, subtype=subtype)
    return buffer.getvalue()


def mp3(seconds: float, freq: float, rate: int = 22050, channels: int = 2) -> bytes:
    """A real MPEG layer III clip (libsndfile >= 1.1 writes them)."""
    return encoded(tone(seconds, rate, freq, channels), rate, "MP3", "MPEG_LAYER_III")


def zipped(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


# -- SpeechTaxi ----------------------------------------------------------------------------------------------------
VERSES = [f"1CO {c}:{v}" for c in (1, 2) for v in range(1, 7)]  # 12 verses over two chapters
SPLIT_OF = {**{v: "train" for v in VERSES[:8]}, **{v: "dev" for v in VERSES[8:10]}, **{v: "test" for v in VERSES[10:]}}
TEXTS = {"eng": "In the beginning {}", "rus": "В начале {}", "tw-akuapem": "Mfitiaseɛ no {}"}


def speechtaxi_recording(language: str, verse: str) -> str:
    """The recording path pattern of the repository's test commit: data/<rec>/<rec>-<BOOK>/<CCC>/Verse_<n>.mp3."""
    recording = hashlib.sha1(language.encode()).hexdigest()[:16] + "-rev4"
    chapter, number = verse.split()[1].split(":")
    sep = "__" if number == "1" else "_"  # the repository has both Verse__10.mp3 and Verse_10.mp3
    return f"data/{recording}/{recording}-1CO/{int(chapter):03d}/Verse{sep}{number}.mp3"


def speechtaxi_rows(language: str) -> list[dict]:
    """Rows with SpeechTaxi's real columns (label as its ClassLabel index), the audio path in ``audio``."""
    return [
        {
            "verse_ref": verse,
            "text_en": f"english {verse}",
            "language": language,
            "transcription": TEXTS[language].format(verse),
            "transcription_romanized": f"{language} romanized {verse}",
            "label": i % len(SPEECHTAXI_LABELS),
            "audio": speechtaxi_recording(language, verse),
        }
        for i, verse in enumerate(VERSES)
    ]


def speechtaxi_repo(cache: Path, languages=("eng", "rus", "tw-akuapem"), layout: str = "split_files") -> Path:
    """The SpeechTaxi repository (script, tables.zip, data.zip of MP3) as a cached snapshot.

    ``layout``: ``split_files`` (``tables/<lang>/<split>.csv``), ``split_column`` (one
    ``tables/all.parquet`` with a ``split`` column, ``validation`` for dev), or ``unknown``.
    """
    import pandas as pd

    audio, tables = {}, {}
    rows = []
    for li, language in enumerate(languages):
        for vi, row in enumerate(speechtaxi_rows(language)):
            audio[row["audio"]] = mp3(0.4 + 0.05 * vi, 200 + 40 * vi + 7 * li)
            rows.append({**row, "split": SPLIT_OF[row["verse_ref"]]})
    frame = pd.DataFrame(rows)
    if layout == "split_files":
        for (language, split), part in frame.groupby(["language", "split"]):
            tables[f"tables/{language}/{split}.csv"] = part.drop(columns="split").to_csv(index=False).encode()
    elif layout == "split_column":
        frame = frame.assign(split=frame["split"].replace({"dev": "validation"}))
        buffer = io.BytesIO()
        frame.to_parquet(buffer)
        tables["tables/all.parquet"] = buffer.getvalue()
    else:
        tables["tables/verses.csv"] = frame.drop(columns=["split", "audio"]).to_csv(index=False).encode()
    files = {"SpeechTaxi.py": b"# loading script (not run)\n", "data.zip": zipped(audio), "tables.zip": zipped(tables)}
    return write_hub_repo(cache, "LennartKeller/SpeechTaxi", files)


# -- parquet repositories ------------------------------------------------------------------------------------------
def parquet_bytes(columns: dict[str, list], features: dict) -> bytes:
    """A parquet file as ``push_to_hub`` writes it: the ``datasets`` features in the schema metadata.

    Audio columns are ``struct<bytes: binary, path: string>``, or a list of them for ``Sequence(Audio)``.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    audio = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    arrays = {}
    for name, values in columns.items():
        kind = features[name].get("_type")
        if kind == "Audio":
            arrays[name] = pa.array(values, type=audio)
        elif kind in ("List", "Sequence") and features[name]["feature"].get("_type") == "Audio":
            arrays[name] = pa.array(values, type=pa.list_(audio))
        else:
            arrays[name] = pa.array(values)
    table = pa.table(arrays)
    meta = {b"huggingface": json.dumps({"info": {"features": features}}).encode()}
    table = table.replace_schema_metadata(meta)
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


def class_label(names: list[str]) -> dict:
    return {"names": names, "_type": "ClassLabel"}


VALUE = {"dtype": "string", "_type": "Value"}
