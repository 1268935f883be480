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
        manifest.<language>.jsonl    the rows of one finished language (partial builds)
        dataset.json                 label names, settings, counts, build time, size

Example:
    >>> corpus = load_embedded(tiny_settings(), root="data")   # builds on first call
    >>> corpus.label_names
    ['months', 'weekdays', 'territories', 'currencies', 'languages', 'units']
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import time
from dataclasses import asdict, dataclass, fields
from functools import cache
from pathlib import Path

from workbench.data.cldr_text import CLASS_KEYS, CLASSES, DEFAULT_LANGUAGES, item_names, language_spec
from workbench.data.embedded_files import (
    build_lock,
    build_rows,
    folder_size,
    part_path,
    remove_partial_files,
    summarize,
)
from speech.tts import espeak_binary
from workbench.data.manifest import load_manifest
from workbench.data.plan import PlannedUtterance, Prosody, plan_contents, rng_for
from workbench.errors import ConfigError
from workbench.io import atomic_write_json, atomic_write_jsonl, read_json
from workbench.items import SPLITS, Corpus

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


def wanted_languages(settings: EmbeddedSettings, languages) -> tuple[str, ...] | None:
    """The languages of a partial build in settings order, or None for the whole dataset.

    None also when a requested language is not in the settings: the whole dataset is then
    loaded and the protocol names the unknown language in its error.
    """
    if languages is None:
        return None
    wanted = set(_tuple(languages))
    if not wanted or not wanted <= set(settings.languages) or wanted == set(settings.languages):
        return None
    return tuple(lang for lang in settings.languages if lang in wanted)


def protocol_languages(protocol) -> list[str] | None:
    """The languages a :class:`~workbench.protocols.Protocol` reads, or None when it reads all.

    ``in_language`` reads its sources (and targets); ``zero_shot`` and ``all_languages`` test
    on every language unless their targets are given.
    """
    if protocol.name == "in_language":
        return [*(protocol.sources or []), *(protocol.targets or [])] or None
    if protocol.targets is not None and protocol.sources:
        return [*protocol.sources, *protocol.targets]
    return None


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
