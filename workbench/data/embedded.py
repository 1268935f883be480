"""The embedded default dataset: multilingual semantic speech classification, built offline.

Six classes of CLDR names (months, weekdays, territories, currencies, languages, units),
spoken by espeak-ng in eight languages and six scripts. An utterance names 2-4 items of
one class ("March, July, May"); its class is the label. The same content is spoken in
every language (a parallel corpus), and splits are disjoint by content across languages;
``test_unseen`` names items never heard in any other split.

The build is a pure function of :class:`EmbeddedSettings` (seed included): it lives in
``<root>/embedded-<hash of the settings>/`` and is reused until the settings change.
``dataset.json`` is written last, so a folder without it is an unfinished build, which
the next call resumes (finished audio files are kept; they are written atomically).

Layout of a build::

    embedded-1a2b3c4d5e/
        audio/<language>/<id>.flac   16 kHz mono int16
        manifest.jsonl               one row per utterance (see :func:`manifest_row`)
        dataset.json                 label names, settings, counts, build time, size

Example:
    >>> corpus = load_embedded(tiny_settings(), root="data")   # builds on first call
    >>> corpus.label_names
    ['months', 'weekdays', 'territories', 'currencies', 'languages', 'units']
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import subprocess
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, fields
from functools import cache
from pathlib import Path

import soundfile as sf

from workbench.data.cldr_text import CLASS_KEYS, CLASSES, DEFAULT_LANGUAGES, item_names, language_spec
from workbench.data.plan import Content, plan_contents, rng_for
from workbench.data.tts import Prosody, espeak_binary, flac_bytes, speak
from workbench.errors import ConfigError
from workbench.io import atomic_write_bytes, atomic_write_json, atomic_write_jsonl, read_json
from workbench.items import SPLITS, Corpus
from workbench.romanize import default_romanizer

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000  # Hz
#: Bump when the same settings would produce different data (text, plan or audio code).
DATASET_VERSION = 1
HASH_CHARS = 10  # hex characters of the settings hash in the folder name
MAX_WORKERS = 8  # espeak-ng processes at once; each utterance is one short process


def _tuple(value) -> tuple:
    return tuple(value) if isinstance(value, list | tuple) else (value,)


@dataclass(frozen=True)
class EmbeddedSettings:
    """Everything that determines the embedded dataset; its hash names the build folder.

    Attributes:
        languages: ISO 639-3 codes (see ``cldr_text.LANGUAGES`` for the supported ones).
        per_language: training utterances per language.
        dev_per_language: dev utterances per language.
        test_per_language: test utterances per language (seen items, unseen combinations).
        test_unseen_per_language: utterances naming at least one held-out item, per language.
        seed: the only source of randomness: items held out, contents, voices, prosody.
        sample_rate: Hz of the written audio.
        train_voices: espeak-ng variants heard in training.
        test_voices: variants for dev, test and test_unseen, disjoint from the training
            ones ("unseen speakers"), so dev accuracy estimates test accuracy.
        rate: speed range in words per minute, drawn per utterance.
        pitch: base pitch range (0-99), drawn per utterance.
        pitch_range: intonation range in percent, drawn per utterance.
        peak: peak amplitude range, drawn per utterance (loudness varies).
        holdout_fraction: share of the items of territories, currencies, languages and
            units that only ``test_unseen`` names.
        items_per_utterance: fewest and most items named in one utterance.
    """

    languages: tuple[str, ...] = DEFAULT_LANGUAGES
    per_language: int = 600
    dev_per_language: int = 60
    test_per_language: int = 150
    test_unseen_per_language: int = 100
    seed: int = 0
    sample_rate: int = SAMPLE_RATE
    train_voices: tuple[str, ...] = ("m1", "m2", "m3", "m4", "f1", "f2", "f3", "f4")
    test_voices: tuple[str, ...] = ("m5", "m6", "m7", "m8", "f5")
    rate: tuple[int, int] = (130, 220)
    pitch: tuple[int, int] = (25, 75)
    pitch_range: tuple[int, int] = (30, 90)
    peak: tuple[float, float] = (0.3, 0.9)
    holdout_fraction: float = 0.25
    items_per_utterance: tuple[int, int] = (2, 4)

    def __post_init__(self) -> None:
        # Lists from YAML/CLI become tuples, so settings hash and compare by value.
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, list):
                object.__setattr__(self, f.name, tuple(value))
        object.__setattr__(self, "languages", _tuple(self.languages))
        self.validate()

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the first setting that cannot work."""
        if not self.languages:
            raise ConfigError("embedded settings: languages is empty")
        if len(set(self.languages)) != len(self.languages):
            raise ConfigError(f"embedded settings: duplicate languages in {self.languages}")
        for language in self.languages:
            language_spec(language)
        for name in ("per_language", "dev_per_language", "test_per_language", "test_unseen_per_language"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 0:
                raise ConfigError(f"embedded settings: {name} must be a non-negative integer")
        if self.per_language < 1:
            raise ConfigError("embedded settings: per_language must be at least 1")
        if not self.train_voices or not self.test_voices:
            raise ConfigError("embedded settings: train_voices and test_voices must not be empty")
        if set(self.train_voices) & set(self.test_voices):
            shared = sorted(set(self.train_voices) & set(self.test_voices))
            raise ConfigError(f"embedded settings: voices {shared} are in both train_voices and test_voices")
        for name in ("rate", "pitch", "pitch_range", "peak", "items_per_utterance"):
            low, high = getattr(self, name)
            if low > high:
                raise ConfigError(f"embedded settings: {name} range ({low}, {high}) is reversed")
        if not 0 < self.peak[1] <= 1.0 or self.peak[0] <= 0:
            raise ConfigError(f"embedded settings: peak {self.peak} must lie in (0, 1]")
        if not 8000 <= self.sample_rate <= 48000:
            raise ConfigError(f"embedded settings: sample_rate {self.sample_rate} Hz outside 8000-48000")

    def split_sizes(self) -> dict[str, int]:
        """``{split: utterances per language}``."""
        return {
            "train": self.per_language,
            "dev": self.dev_per_language,
            "test": self.test_per_language,
            "test_unseen": self.test_unseen_per_language,
        }

    def to_dict(self) -> dict:
        return {key: list(value) if isinstance(value, tuple) else value for key, value in asdict(self).items()}


def tiny_settings(**overrides) -> EmbeddedSettings:
    """Small settings for tests: 4 languages of 3 scripts, 24 training utterances each.

    Builds in seconds, yet each class has 4 training utterances per language, enough for
    a small model to learn something. Any field can be overridden.
    """
    base = dict(
        languages=("eng", "deu", "rus", "tha"),
        per_language=24,
        dev_per_language=6,
        test_per_language=12,
        test_unseen_per_language=8,
    )
    base.update(overrides)
    return EmbeddedSettings(**base)


@dataclass(frozen=True)
class PlannedUtterance:
    """One utterance of a build, before its audio exists.

    Attributes:
        audio: FLAC path relative to the build folder.
        held_out: the keys it names that only ``test_unseen`` uses.
    """

    id: str
    language: str
    split: str
    content: Content
    text: str
    prosody: Prosody
    audio: str
    held_out: tuple[str, ...] = ()


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


def is_built(folder: Path) -> bool:
    """A build is finished exactly when its ``dataset.json`` exists (written last, atomically)."""
    return (folder / "dataset.json").is_file()


def draw_prosody(settings: EmbeddedSettings, utterance_id: str, split: str, espeak_voice: str) -> Prosody:
    """Voice variant and prosody of one utterance, from the seed and the utterance id only."""
    rng = rng_for(settings.seed, "prosody", utterance_id)
    variants = settings.train_voices if split == "train" else settings.test_voices
    return Prosody(
        voice=f"{espeak_voice}+{rng.choice(variants)}",
        rate=rng.randint(*settings.rate),
        pitch=rng.randint(*settings.pitch),
        pitch_range=rng.randint(*settings.pitch_range),
        peak=round(rng.uniform(*settings.peak), 3),
    )


def plan_rows(settings: EmbeddedSettings) -> tuple[list[PlannedUtterance], dict[str, tuple[str, ...]]]:
    """Every utterance of the build (text, prosody, paths), and the held-out keys per class."""
    contents, held = plan_contents(
        CLASS_KEYS, settings.split_sizes(), settings.seed, settings.holdout_fraction, settings.items_per_utterance
    )
    rows = []
    for language in settings.languages:
        names = item_names(language)
        voice = language_spec(language).espeak_voice
        for split in SPLITS:
            for index, content in enumerate(contents.get(split, [])):
                utterance_id = f"{language}-{split}-{index:04d}"
                text = ", ".join(names[content.cls][key] for key in content.keys)
                rows.append(
                    PlannedUtterance(
                        id=utterance_id,
                        language=language,
                        split=split,
                        content=content,
                        text=text,
                        prosody=draw_prosody(settings, utterance_id, split, voice),
                        audio=f"audio/{language}/{utterance_id}.flac",
                        held_out=tuple(sorted(set(content.keys) & set(held[content.cls]))),
                    )
                )
    return rows, held


def _synthesize(row: PlannedUtterance, folder: Path, sample_rate: int) -> float:
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


@contextlib.contextmanager
def _build_lock(folder: Path):
    """One builder per folder: a concurrent caller waits, then finds the build finished."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".build.lock", "w") as handle:
        try:
            import fcntl
        except ImportError:  # not POSIX: builds are still safe (atomic writes), only duplicated
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _remove_partial_files(folder: Path) -> None:
    # A killed build can leave the temporary files of atomic writes behind; we hold the lock.
    for tmp in folder.rglob(".*.tmp"):
        tmp.unlink(missing_ok=True)


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


def _build(settings: EmbeddedSettings, folder: Path, workers: int) -> None:
    started = time.perf_counter()
    _remove_partial_files(folder)
    rows, held = plan_rows(settings)
    log.info("building %d utterances into %s with %d workers", len(rows), folder, workers)
    # Threads suffice: the work happens in espeak-ng processes and numpy, outside the GIL.
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        durations = [pool.submit(_synthesize, row, folder, settings.sample_rate) for row in rows]
        # uroman runs here while the workers synthesize; each distinct string once.
        romanizer = default_romanizer()
        romanized = [romanizer.romanize(row.text, row.language) for row in rows]
        records = []
        for i, (row, future) in enumerate(zip(rows, durations, strict=True)):
            records.append(manifest_row(row, romanized[i], future.result()))
            if (i + 1) % max(1, len(rows) // 10) == 0:
                log.info("%d / %d utterances", i + 1, len(rows))
    finally:
        # On an error or Ctrl-C, drop the queued utterances instead of synthesizing them all.
        pool.shutdown(wait=True, cancel_futures=True)
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
    settings: EmbeddedSettings | None = None, root: str | Path = "data", workers: int | None = None
) -> Path:
    """Build the dataset of ``settings`` under ``root`` unless built; return its folder.

    Args:
        settings: defaults to ``EmbeddedSettings()`` (8 languages, 600 training utterances each).
        root: the folder holding every build.
        workers: espeak-ng processes at once (default: the CPU count, at most 8). Does not
            change the data: every utterance depends only on the seed and its id.
    """
    settings = settings or EmbeddedSettings()
    folder = embedded_dir(settings, root)
    if is_built(folder):
        return folder
    workers = workers or max(1, min(MAX_WORKERS, os.cpu_count() or 1))
    with _build_lock(folder):
        if not is_built(folder):  # another process may have finished it while we waited
            _build(settings, folder, workers)
    return folder


def load_embedded(settings: EmbeddedSettings | None = None, root: str | Path = "data") -> Corpus:
    """The embedded dataset as a :class:`Corpus` (built first if needed).

    ``corpus.meta`` holds ``dataset.json``: settings, held-out items, counts, build time.
    """
    # Imported here: the manifest reader pulls in torch (seconds), which building does not need.
    from workbench.data.manifest import load_manifest

    settings = settings or EmbeddedSettings()
    folder = build_embedded(settings, root)
    corpus = load_manifest(folder / "manifest.jsonl", list(CLASSES), list(settings.languages), name=folder.name)
    corpus.meta.update(read_json(folder / "dataset.json"))
    corpus.meta["folder"] = str(folder)
    return corpus
