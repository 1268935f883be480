"""The data model shared by every path: an :class:`Item` and a :class:`Corpus` of them.

An item is one labelled example. ``content_id`` names the underlying content shared by
its translations (a verse reference, a sentence id), so that protocols can keep splits
disjoint by content across languages. Signals are referenced by path: loaders that read
from the hub or from ``datasets`` write decoded audio to a local cache first, so every
consumer (training, cascade, demo) reads audio the same way.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from workbench.errors import DataError

#: Split names the workbench knows. ``test_unseen`` holds items never heard in training.
SPLITS = ("train", "dev", "test", "test_unseen")
#: Other spellings of a split found in datasets (Hugging Face says ``validation``), case-insensitive.
SPLIT_ALIASES = {"validation": "dev", "valid": "dev", "val": "dev", "development": "dev", "training": "train"}


def canonical_split(name: object, where: str) -> str:
    """A split name as the workbench spells it (``validation``/``valid``/``val`` -> ``dev``).

    Raises:
        DataError: naming ``where`` and every spelling accepted, for any other name.
    """
    text = str(name).strip().lower() if name is not None else ""
    if text in SPLITS:
        return text
    if text in SPLIT_ALIASES:
        return SPLIT_ALIASES[text]
    accepted = [*SPLITS, *SPLIT_ALIASES]
    raise DataError(where, "split", f"unknown split '{name}', expected one of {accepted}")


@dataclass(frozen=True)
class ItemKey:
    """What an item is known by wherever it goes (its prediction records start with the same fields).

    Attributes:
        id: unique within the corpus.
        content_id: the same for all translations of one content (across languages).
        language: the workbench's code (ISO 639-3, or SpeechTaxi's ``tw-akuapem``); hub sources map
            their own ids to it through :mod:`workbench.languages`.
        label: index into the corpus' ``label_names``.
    """

    id: str
    content_id: str
    language: str
    label: int


@dataclass(frozen=True)
class Item(ItemKey):
    """One labelled example: its :class:`ItemKey` fields, then

    Attributes:
        split: one of :data:`SPLITS`.
        audio: path to an audio file (speech corpora).
        image: path to an image file (vision corpora).
        text: gold transcript or caption in native script, when known.
        romanized: gold romanization of ``text`` (uroman), when known.
        hub_language: the corpus's own id of the language (``uk-UA``, ``ukr_Cyrl``) where it differs
            from ``language`` (the workbench's code, :func:`workbench.languages.hub_language`).
    """

    split: str
    audio: str | None = None
    image: str | None = None
    text: str | None = None
    romanized: str | None = None
    hub_language: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    def with_(self, **changes) -> Item:
        return replace(self, **changes)


@dataclass
class Corpus:
    """Items plus their label names; what every loader returns."""

    items: list[Item]
    label_names: list[str]
    name: str = "corpus"
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for item in self.items:
            if item.id in seen:
                raise DataError(f"item '{item.id}'", "id", "duplicate id in corpus")
            seen.add(item.id)
            if not 0 <= item.label < len(self.label_names):
                raise DataError(
                    f"item '{item.id}'", "label", f"index {item.label} outside {len(self.label_names)} classes"
                )
            if item.split not in SPLITS:
                raise DataError(f"item '{item.id}'", "split", f"unknown split '{item.split}', expected one of {SPLITS}")

    @property
    def num_classes(self) -> int:
        return len(self.label_names)

    @property
    def languages(self) -> list[str]:
        return sorted({item.language for item in self.items})

    def where(self, split: str | None = None, languages: list[str] | None = None) -> list[Item]:
        """Items of one split (all when None) and of some languages (all when None)."""
        keep = set(languages) if languages is not None else None
        return [
            item
            for item in self.items
            if (split is None or item.split == split) and (keep is None or item.language in keep)
        ]

    def counts(self) -> dict[str, dict[str, int]]:
        """``{language: {split: n}}``, for build reports and sanity checks."""
        table: dict[str, Counter] = {}
        for item in self.items:
            table.setdefault(item.language, Counter())[item.split] += 1
        return {lang: dict(sorted(c.items())) for lang, c in sorted(table.items())}

    def label_index(self, name: str, where: str = "label") -> int:
        try:
            return self.label_names.index(name)
        except ValueError:
            raise DataError(where, "label", f"unknown label '{name}', known: {self.label_names}") from None


def resolve_path(path: str | None, root: Path) -> str | None:
    """A signal path relative to the manifest's folder becomes absolute."""
    if path is None or path == "":
        return None
    p = Path(path)
    return str(p if p.is_absolute() else (root / p))
