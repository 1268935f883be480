"""The plan of the embedded default dataset: multilingual semantic classification, built offline.

Six classes of CLDR names (months, weekdays, territories, currencies, languages, units) in
eight languages and six scripts. An utterance names 2-4 items of one class ("March, July,
May"); its class is the label. The same content is said in every language (a parallel
corpus), and splits are disjoint by content across languages; ``test_unseen`` names items
never heard in any other split.

The plan is a pure function of :class:`EmbeddedSettings` (seed included). Two builds read it:
the spoken set (espeak-ng, :mod:`speech.embedded`) and the text-image set
(:mod:`vision.text_images`); each writes its own folder, finished when its ``dataset.json``
exists (:func:`is_built`), one builder at a time (:func:`build_lock`).
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from workbench.data.cldr_text import CLASS_KEYS, DEFAULT_LANGUAGES, item_names, language_spec
from workbench.data.plan import PlannedUtterance, Prosody, plan_contents, rng_for
from workbench.errors import ConfigError
from workbench.items import SPLITS

SAMPLE_RATE = 16000  # Hz


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


@contextlib.contextmanager
def build_lock(folder: Path):
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


def remove_partial_files(folder: Path) -> None:
    """Delete the temporary files a killed build left behind (the caller holds the lock)."""
    for tmp in folder.rglob(".*.tmp"):
        tmp.unlink(missing_ok=True)
