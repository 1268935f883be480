"""The embedded default dataset, spoken: the plan (:mod:`workbench.data.embedded`) said by espeak-ng.

The build is a pure function of :class:`EmbeddedSettings` (seed included): it lives in
``<root>/embedded-<hash of the settings>/`` and is reused until the settings change.
``dataset.json`` is written last, so a folder without it is an unfinished build, which
the next call resumes (finished audio files are kept; they are written atomically).

Layout of a build::

    embedded-1a2b3c4d5e/
        audio/<language>/<id>.flac   16 kHz mono int16
        manifest.jsonl               one row per utterance (see :func:`manifest_row`)
        manifest.<language>.jsonl    the rows of one finished language (partial builds)
        dataset.json                 label names, settings, counts, build time, size

Example:
    >>> from workbench.data.embedded import tiny_settings
    >>> corpus = load_embedded(tiny_settings(), root="data")   # builds on first call
    >>> corpus.label_names
    ['months', 'weekdays', 'territories', 'currencies', 'languages', 'units']

A build folder holds, besides ``audio/`` and ``manifest.jsonl``, one ``manifest.<language>.jsonl``
per finished language: the manifest rows of that language (beside ``manifest.jsonl``, so its
relative audio paths resolve the same way). A run that needs only some languages
(``in_language`` on English) builds and loads just their parts; the whole dataset is
assembled from the parts later, without synthesizing them again. Every file is written
atomically, so a killed build leaves either a finished file or a temporary one that the next
build removes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path

import soundfile as sf

from speech.tts import espeak_binary, flac_bytes, speak
from workbench.data.cldr_text import CLASSES
from workbench.data.embedded import (
    EmbeddedSettings,
    build_lock,
    is_built,
    plan_rows,
    remove_partial_files,
    wanted_languages,
)
from workbench.data.manifest import load_manifest
from workbench.data.plan import PlannedUtterance
from workbench.io import atomic_write_bytes, atomic_write_json, atomic_write_jsonl, read_json, read_jsonl
from workbench.items import SPLITS, Corpus
from workbench.romanize import default_romanizer

log = logging.getLogger(__name__)

#: Bump when the same settings would produce different data (text, plan or audio code).
DATASET_VERSION = 1
HASH_CHARS = 10  # hex characters of the settings hash in the folder name
MAX_WORKERS = 8  # espeak-ng processes at once; each utterance is one short process


def synthesize(row: PlannedUtterance, folder: Path, sample_rate: int) -> float:
    """Write one utterance's FLAC unless a finished one exists; return its duration in seconds."""
    path = folder / row.audio
    if path.is_file():
        with contextlib.suppress(RuntimeError):  # unreadable: synthesize it again
            info = sf.info(str(path))
            if info.samplerate == sample_rate and info.frames > 0:
                return info.frames / sample_rate
    audio = speak(row.text, row.prosody, sample_rate)
    atomic_write_bytes(path, flac_bytes(audio, sample_rate))
    return len(audio) / sample_rate


def manifest_row(row: PlannedUtterance, romanized: str, duration_s: float) -> dict:
    """The manifest record: the columns :func:`load_manifest` reads, then build details."""
    return {
        "id": row.id,
        "content_id": row.content.content_id,
        "language": row.language,
        "label": row.content.cls,
        "split": row.split,
        "audio": row.audio,
        "text": row.text,
        "romanized": romanized,
        "items": list(row.content.keys),
        "held_out": list(row.held_out),
        "voice": row.prosody.voice,
        "rate": row.prosody.rate,
        "pitch": row.prosody.pitch,
        "pitch_range": row.prosody.pitch_range,
        "peak": row.prosody.peak,
        "duration_s": round(duration_s, 3),
    }


def part_path(folder: Path, language: str) -> Path:
    """The manifest rows of one finished language."""
    return folder / f"manifest.{language}.jsonl"


def read_part(folder: Path, language: str) -> list[dict] | None:
    """The rows of a finished language, or None when that language is not built yet."""
    path = part_path(folder, language)
    return read_jsonl(path) if path.is_file() else None


def write_part(folder: Path, language: str, records: list[dict]) -> None:
    atomic_write_jsonl(part_path(folder, language), records)


def build_rows(
    rows: list[PlannedUtterance], folder: Path, sample_rate: int, workers: int, progress: bool
) -> dict[str, list[dict]]:
    """Synthesize (or find) the audio of ``rows`` and write each language's part; its records by language.

    A language's romanizations come from its part when one exists: a finished part is only
    checked for lost audio files, which are synthesized again.
    """
    languages = list(dict.fromkeys(row.language for row in rows))
    known = {lang: {r["id"]: r["romanized"] for r in read_part(folder, lang) or []} for lang in languages}
    remaining = Counter(row.language for row in rows)
    records: dict[str, list[dict]] = {lang: [] for lang in languages}
    description = f"embedded dataset: {' '.join(languages)}"
    # Threads suffice: the work happens in espeak-ng processes and numpy, outside the GIL.
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        with progress_bar(len(rows), description, progress) as bar:
            durations = [pool.submit(synthesize, row, folder, sample_rate) for row in rows]
            for future in durations:  # counts finished audio, even while uroman is still loading
                future.add_done_callback(lambda _: bar.update())
            romanizer = None
            for row, future in zip(rows, durations, strict=True):
                # uroman runs here while the workers synthesize ahead; each distinct string once.
                romanized = known[row.language].get(row.id)
                if romanized is None:
                    romanizer = romanizer or default_romanizer()
                    romanized = romanizer.romanize(row.text, row.language)
                records[row.language].append(manifest_row(row, romanized, future.result()))
                remaining[row.language] -= 1
                if not remaining[row.language] and not known[row.language]:
                    write_part(folder, row.language, records[row.language])
    finally:
        # On an error or Ctrl-C, drop the queued utterances instead of synthesizing them all.
        pool.shutdown(wait=True, cancel_futures=True)
    return records


def progress_bar(total: int, description: str, enabled: bool):
    """A tqdm bar on stderr (a build takes minutes and printed nothing before); a no-op when off."""
    from tqdm import tqdm

    return tqdm(
        total=total, desc=description, unit="utt", file=sys.stderr, disable=not enabled, mininterval=1.0, leave=True
    )


def folder_size(folder: Path) -> int:
    """Bytes of all files under ``folder``."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def summarize(records: list[dict]) -> dict:
    """Counts per language x split and per split x class, and hours of audio."""
    by_language: dict[str, Counter] = {}
    by_class: dict[str, Counter] = {}
    for r in records:
        by_language.setdefault(r["language"], Counter())[r["split"]] += 1
        by_class.setdefault(r["split"], Counter())[r["label"]] += 1
    return {
        "utterances": len(records),
        "audio_hours": round(sum(r["duration_s"] for r in records) / 3600, 3),
        "per_language": {lang: {s: c[s] for s in SPLITS if c[s]} for lang, c in by_language.items()},
        "per_class": {
            s: {cls: by_class[s][cls] for cls in CLASSES if by_class[s][cls]} for s in SPLITS if s in by_class
        },
    }


@cache
def _generator_versions() -> dict:
    """Versions of the tools whose output is in the data: a new CLDR or espeak-ng is a new build."""
    import babel

    result = subprocess.run([espeak_binary(), "--version"], capture_output=True, text=True)
    espeak_version = result.stdout.split("Data at")[0].strip()
    return {"dataset_version": DATASET_VERSION, "babel": babel.__version__, "espeak_ng": espeak_version}


def settings_hash(settings: EmbeddedSettings) -> str:
    """A short hash of the settings and generator versions: the build folder's name suffix."""
    payload = json.dumps({"settings": settings.to_dict(), "generator": _generator_versions()}, sort_keys=True)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:HASH_CHARS]


def embedded_dir(settings: EmbeddedSettings, root: str | Path = "data") -> Path:
    """Where the build of ``settings`` lives (built or not)."""
    return Path(root) / f"embedded-{settings_hash(settings)}"


def _parts_done(folder: Path, languages: tuple[str, ...]) -> bool:
    return all(part_path(folder, lang).is_file() for lang in languages)


def _build(
    settings: EmbeddedSettings,
    folder: Path,
    workers: int,
    languages: tuple[str, ...] | None = None,
    progress: bool = False,
) -> None:
    """Build the parts of ``languages``; with None, every part and then the whole dataset."""
    started = time.perf_counter()
    remove_partial_files(folder)
    rows, held = plan_rows(settings)
    if languages is not None:
        rows = [row for row in rows if row.language in languages and not part_path(folder, row.language).is_file()]
    log.info("building %d utterances into %s with %d workers", len(rows), folder, workers)
    by_language = build_rows(rows, folder, settings.sample_rate, workers, progress)
    if languages is not None:
        return
    records = [record for lang in settings.languages for record in by_language[lang]]
    atomic_write_jsonl(folder / "manifest.jsonl", records)
    meta = {
        "name": folder.name,
        "label_names": list(CLASSES),
        "settings": settings.to_dict(),
        "generator": _generator_versions(),
        "held_out": {cls: list(keys) for cls, keys in held.items() if keys},
        **summarize(records),
        "build_seconds": round(time.perf_counter() - started, 1),
    }
    meta["size_bytes"] = folder_size(folder)  # without dataset.json itself, a few kB
    atomic_write_json(folder / "dataset.json", meta)  # last: marks the build as finished


def build_embedded(
    settings: EmbeddedSettings | None = None,
    root: str | Path = "data",
    workers: int | None = None,
    languages: list[str] | tuple[str, ...] | None = None,
    progress: bool = True,
) -> Path:
    """Build the dataset of ``settings`` under ``root`` unless built; return its folder.

    Args:
        settings: defaults to ``EmbeddedSettings()`` (8 languages, 600 training utterances each).
        root: the folder holding every build.
        workers: espeak-ng processes at once (default: the CPU count, at most 8). Does not
            change the data: every utterance depends only on the seed and its id.
        languages: build only these languages' parts (a partial build that
            :func:`load_embedded` can load); None: the whole dataset. An utterance is the same
            whether its language is built alone or with the others.
        progress: a progress bar on stderr while building.
    """
    settings = settings or EmbeddedSettings()
    folder = embedded_dir(settings, root)
    wanted = wanted_languages(settings, languages)
    if is_built(folder) or (wanted is not None and _parts_done(folder, wanted)):
        return folder
    workers = workers or max(1, min(MAX_WORKERS, os.cpu_count() or 1))
    with build_lock(folder):
        # another process may have finished it while we waited
        if not is_built(folder) and not (wanted is not None and _parts_done(folder, wanted)):
            _build(settings, folder, workers, wanted, progress)
    return folder


def load_embedded(
    settings: EmbeddedSettings | None = None, root: str | Path = "data", languages: list[str] | None = None
) -> Corpus:
    """The embedded dataset as a :class:`Corpus` (built first if needed).

    ``corpus.meta`` holds ``dataset.json``: settings, held-out items, counts, build time.
    With ``languages`` (see :func:`protocol_languages`) and no finished whole build, only those
    languages are built and loaded; ``corpus.meta["partial"]`` is then True. The corpus name
    (the build folder) is the same either way.
    """
    settings = settings or EmbeddedSettings()
    wanted = wanted_languages(settings, languages)
    folder = build_embedded(settings, root, languages=wanted)
    if is_built(folder) or wanted is None:
        corpus = load_manifest(folder / "manifest.jsonl", list(CLASSES), list(settings.languages), name=folder.name)
        corpus.meta.update(read_json(folder / "dataset.json"))
    else:
        parts = [load_manifest(part_path(folder, lang), list(CLASSES), [lang]) for lang in wanted]
        items = [item for part in parts for item in part.items]
        corpus = Corpus(items=items, label_names=list(CLASSES), name=folder.name)
        corpus.meta.update(partial=True, languages=list(wanted), settings=settings.to_dict())
    corpus.meta["folder"] = str(folder)
    return corpus
