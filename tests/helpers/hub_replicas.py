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

from speech.speechtaxi import SPEECHTAXI_LABELS


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
INT64 = {"dtype": "int64", "_type": "Value"}


def wav(seconds: float, freq: float, rate: int = 16000) -> dict:
    """An ``Audio`` cell as the hub stores it: the file's bytes and its original name."""
    return {"bytes": encoded(tone(seconds, rate, freq), rate, "WAV", "PCM_16"), "path": f"{int(freq)}.wav"}


SIB_TOPICS = ["science/technology", "travel", "politics", "sports", "health", "entertainment", "geography"]
SIB_SPLITS = {"train": range(0, 7), "validation": range(7, 9), "test": range(9, 11)}


def sib_fleurs_repo(cache: Path, configs=("eng_Latn", "rus_Cyrl")) -> Path:
    """WueNLP/sib-fleurs: data/<cfg>/<split>-0000N-of-0000M.parquet, list-valued audio, category ClassLabel."""
    audio_feature = {"sampling_rate": 16000, "_type": "Audio"}
    listed = lambda feature: {"feature": feature, "_type": "List"}  # noqa: E731
    features = {
        "sentence": VALUE, "URL": VALUE, "id": {"dtype": "int32", "_type": "Value"}, "domain": VALUE,
        "topic": VALUE, "fleurs_id": {"dtype": "int32", "_type": "Value"}, "filename": listed(VALUE),
        "num_samples": listed(INT64), "speaker_id": listed(INT64),
        "gender": listed(VALUE), "index_id": {"dtype": "int64", "_type": "Value"},
        "category": class_label(SIB_TOPICS), "audio": listed(audio_feature),
    }  # fmt: skip
    files = {}
    for c, config in enumerate(configs):
        for split, ids in SIB_SPLITS.items():
            rows = []
            for i in ids:
                speakers = 1 + (i % 3)  # one to three recordings of one sentence
                clips = [wav(0.3 + 0.02 * k, 220 + 30 * i + 5 * k + c) for k in range(speakers)]
                rows.append({
                    "sentence": f"{config} sentence {i}", "URL": f"https://en.wikibooks.org/{i}", "id": 1000 + i,
                    "domain": "wikibooks", "topic": "t", "fleurs_id": 5000 + i,
                    "filename": [clip["path"] for clip in clips], "num_samples": [4800] * speakers,
                    "speaker_id": list(range(speakers)), "gender": ["FEMALE"] * speakers, "index_id": 700 + i,
                    "category": i % len(SIB_TOPICS), "audio": clips,
                })  # fmt: skip
            columns = {name: [r[name] for r in rows] for name in features}
            shards = 2 if split == "train" else 1  # train split in two files, as eng_Latn's is
            for s in range(shards):
                part = {k: v[s::shards] for k, v in columns.items()}
                files[f"data/{config}/{split}-{s:05d}-of-{shards:05d}.parquet"] = parquet_bytes(part, features)
    files["results.csv"] = b"model,accuracy\n"
    return write_hub_repo(cache, "WueNLP/sib-fleurs", files)


MASSIVE_SCENARIOS = (
    "social transport calendar play news datetime recommendation email iot general audio lists qa cooking takeaway "
    "music alarm weather"
).split()


def massive_rows(locale: str, ids: range, partition: str) -> dict:
    features = {
        "id": VALUE, "locale": VALUE, "partition": VALUE, "scenario": class_label(MASSIVE_SCENARIOS),
        "scenario_str": VALUE, "intent_idx": class_label([f"intent_{k}" for k in range(60)]), "intent_str": VALUE,
        "utt": VALUE, "annot_utt": VALUE, "labels": {"feature": VALUE, "_type": "List"},
        "audio": {"sampling_rate": 16000, "_type": "Audio"},
    }  # fmt: skip
    rows = {
        "id": [str(i) for i in ids], "locale": [locale] * len(ids), "partition": [partition] * len(ids),
        "scenario": [i % 18 for i in ids], "scenario_str": [MASSIVE_SCENARIOS[i % 18] for i in ids],
        "intent_idx": [i % 60 for i in ids], "intent_str": [f"intent_{i % 60}" for i in ids],
        "utt": [f"{locale} utterance {i}" for i in ids], "annot_utt": [f"{locale} utterance {i}" for i in ids],
        "labels": [["Other", "Other"] for _ in ids], "audio": [wav(0.3, 200 + 10 * i) for i in ids],
    }  # fmt: skip
    return parquet_bytes(rows, features)


def speech_massive_repos(cache: Path, locales=("de-DE", "ko-KR")) -> None:
    """FBK-MT/Speech-MASSIVE (train only for de-DE/fr-FR, train_115 and validation for all) and -test."""
    main, test = {}, {}
    for locale in locales:
        if locale in ("de-DE", "fr-FR"):
            main[f"{locale}/train-00000-of-00001.parquet"] = massive_rows(locale, range(0, 10), "train")
        main[f"{locale}/train_115-00000-of-00001.parquet"] = massive_rows(locale, range(0, 4), "train")
        main[f"{locale}/validation-00000-of-00001.parquet"] = massive_rows(locale, range(10, 13), "dev")
        test[f"{locale}/test-00000-of-00001.parquet"] = massive_rows(locale, range(13, 16), "test")
    write_hub_repo(cache, "FBK-MT/Speech-MASSIVE", main)
    write_hub_repo(cache, "FBK-MT/Speech-MASSIVE-test", test)


MINDS_INTENTS = (
    "abroad address app_error atm_limit balance business_loan card_issues cash_deposit direct_debit freeze "
    "high_value_payment joint_account latest_transactions pay_bill"
).split()
MINDS_LOCALES = sorted("cs-CZ de-DE en-AU en-GB en-US es-ES fr-FR it-IT ko-KR nl-NL pl-PL pt-PT ru-RU zh-CN".split())


def minds14_repo(cache: Path, locales=("en-US", "fr-FR")) -> None:
    """PolyAI/minds14 in its parquet form: <cfg>/train-00000-of-00001.parquet, 8 kHz audio, two ClassLabels."""
    features = {
        "audio": {"sampling_rate": 8000, "_type": "Audio"}, "transcription": VALUE, "english_transcription": VALUE,
        "intent_class": class_label(MINDS_INTENTS), "lang_id": class_label(MINDS_LOCALES),
    }  # fmt: skip
    files = {}
    for locale in locales:
        ids = range(12)
        rows = {
            "audio": [wav(0.4, 300 + 10 * i, rate=8000) for i in ids],
            "transcription": [f"{locale} words {i}" for i in ids],
            "english_transcription": [f"english words {i}" for i in ids],
            "intent_class": [i % 14 for i in ids], "lang_id": [MINDS_LOCALES.index(locale)] * len(ids),
        }  # fmt: skip
        files[f"{locale}/train-00000-of-00001.parquet"] = parquet_bytes(rows, features)
    write_hub_repo(cache, "PolyAI/minds14", files)
