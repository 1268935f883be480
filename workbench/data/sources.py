"""Where a corpus comes from, chosen in config by ``class_path``.

Each source is a small class whose ``load()`` returns a :class:`~workbench.items.Corpus`:

- :class:`SpeechTaxi`: the SpeechTaxi schema, from the hub or a local copy.
- :class:`HFDataset`: any ``datasets`` dataset through a column map (SIB-Fleurs,
  MINDS-14, Speech-MASSIVE are config files, see ``configs/data/``).
- :class:`Manifest`: a local CSV / JSONL manifest.
- :class:`AudioFolder`: ``<root>/<split>/<label>/<file>`` with optional ``metadata.csv``.
- :class:`Embedded`: the offline default, generated on this machine.
"""

from __future__ import annotations

import csv
import hashlib
from abc import ABC, abstractmethod
from pathlib import Path

from workbench.data.hub import available_split, class_names, rows_to_items
from workbench.data.manifest import load_manifest
from workbench.data.resplit import resplit_by_content
from workbench.data.validate import OnBadItem
from workbench.errors import ConfigError, DataError
from workbench.items import Corpus, Item

DEFAULT_CACHE = Path("data") / "cache"

#: SpeechTaxi's six classes (Keller & Glavaš, 2024), in the dataset's order.
SPEECHTAXI_LABELS = ["Recommendation", "Faith", "Description", "Sin", "Grace", "Violence"]
SPEECHTAXI_COLUMNS = {
    "id": "id",
    "content_id": "verse_ref",
    "language": "language",
    "label": "label",
    "audio": "audio",
    "text": "transcription",
    "romanized": "transcription_romanized",
}


class CorpusSource(ABC):
    """A configurable recipe for a :class:`Corpus`."""

    @abstractmethod
    def load(self) -> Corpus: ...

    def load_for(self, protocol) -> Corpus:
        """The corpus a protocol needs; a source that can load fewer languages overrides this."""
        return self.load()


def _cache_folder(cache_dir: str | Path, *key: object) -> Path:
    digest = hashlib.sha1(repr(key).encode()).hexdigest()[:12]
    return Path(cache_dir) / digest


def _load_hf_splits(
    path: str,
    configs: list[str | None],
    columns: dict[str, str],
    label_names: list[str] | None,
    cache_dir: Path,
    splits: list[str],
    language: str | None = None,
    load_kwargs: dict | None = None,
    max_seconds: float | None = 30.0,
) -> tuple[list[Item], list[str]]:
    items: list[Item] = []
    for config in configs:
        for split in splits:
            dataset = available_split(path, config, split, load_kwargs)
            if dataset is None:
                if split == "train":
                    raise ConfigError(f"dataset '{path}' config '{config}': no train split")
                continue
            if columns.get("id") not in dataset.column_names:
                # an id column is optional: rows are then numbered
                columns = {k: v for k, v in columns.items() if k != "id"}
            missing = [c for c in columns.values() if c not in dataset.column_names]
            if missing:
                raise DataError(
                    f"dataset '{path}' config '{config}' split '{split}'",
                    ", ".join(missing),
                    f"missing column(s); present: {dataset.column_names}",
                )
            # a ClassLabel column's own names fix what its integers mean; string labels use the given names
            label_names = class_names(dataset, columns["label"]) or label_names
            if label_names is None:
                raise ConfigError(f"dataset '{path}': label column is not a ClassLabel; set label_names in config")
            from datasets import Audio

            dataset = dataset.cast_column(columns["audio"], Audio(decode=False))
            items += rows_to_items(
                dataset,
                split,
                columns,
                label_names,
                cache_dir,
                where=f"dataset '{path}' config '{config}'",
                language=language,
                language_names=class_names(dataset, columns["language"]) if "language" in columns else None,
                max_seconds=max_seconds,
                id_prefix=f"{config}-{split}-" if config else f"{split}-",
            )
    return items, list(label_names or [])


class SpeechTaxi(CorpusSource):
    """The SpeechTaxi schema: per-language configs, classes Recommendation ... Violence.

    Args:
        path: hub id (``LennartKeller/SpeechTaxi``) or a local folder with the same data
            (``save_to_disk`` output per language config, or data files).
        languages: the per-language configs to load (``eng``, ``rus``, ``ukr``, ``hin``...).
        cache_dir: where decoded 16 kHz audio is stored.
        splits: the splits to read.
        max_seconds: cap on clip length.
    """

    def __init__(
        self,
        path: str = "LennartKeller/SpeechTaxi",
        languages: list[str] = ("eng",),
        cache_dir: str = str(DEFAULT_CACHE),
        splits: list[str] = ("train", "dev", "test"),
        max_seconds: float | None = 30.0,
    ):
        self.path, self.languages, self.splits = path, list(languages), list(splits)
        self.cache_dir, self.max_seconds = cache_dir, max_seconds

    def load(self) -> Corpus:
        items, names = _load_hf_splits(
            self.path,
            self.languages,
            dict(SPEECHTAXI_COLUMNS),
            SPEECHTAXI_LABELS,
            _cache_folder(self.cache_dir, "speechtaxi", self.path),
            self.splits,
            max_seconds=self.max_seconds,
        )
        return Corpus(items, names, name="speechtaxi")


class HFDataset(CorpusSource):
    """Any ``datasets`` dataset with audio, through a column map.

    Args:
        path: hub id or local folder.
        configs: dataset configs to load (e.g. one per language); ``[None]`` for none.
        columns: workbench field -> dataset column; needs ``label`` and ``audio``, and
            ``language`` unless ``language`` is set; optional ``id``, ``content_id``,
            ``text``, ``romanized``.
        language: a constant language for datasets without a language column; a dict
            maps config -> language; default without a language column: the config name.
        label_names: class names when the label column is not a ClassLabel.
        splits: workbench splits to read (hub names ``validation``/``valid`` map to dev).
        load_kwargs: passed to ``datasets.load_dataset`` (``data_files``, ``revision``...).
        resplit: ``{"dev": 0.1, "test": 0.2, "seed": 0}`` reassigns splits by hashing
            ``content_id`` (for datasets with one split, or splits not aligned across
            languages); None keeps the dataset's splits.
    """

    def __init__(
        self,
        path: str,
        columns: dict[str, str],
        configs: list[str | None] = (None,),
        language: str | dict[str, str] | None = None,
        label_names: list[str] | None = None,
        splits: list[str] = ("train", "dev", "test"),
        cache_dir: str = str(DEFAULT_CACHE),
        load_kwargs: dict | None = None,
        max_seconds: float | None = 30.0,
        name: str | None = None,
        resplit: dict | None = None,
    ):
        for required in ("label", "audio"):
            if required not in columns:
                raise ConfigError(f"columns: '{required}' must be mapped to a dataset column")
        self.path, self.columns, self.configs = path, dict(columns), list(configs)
        self.language, self.label_names, self.splits = language, label_names, list(splits)
        self.cache_dir, self.load_kwargs, self.max_seconds = cache_dir, load_kwargs, max_seconds
        self.name = name or Path(path).name
        self.resplit = resplit

    def load(self) -> Corpus:
        items: list[Item] = []
        names = self.label_names
        for config in self.configs:
            language = self.language.get(config) if isinstance(self.language, dict) else self.language
            if language is None and "language" not in self.columns:
                language = config  # per-language configs (eng_Latn, de-DE...) name their language
            part, names = _load_hf_splits(
                self.path,
                [config],
                self.columns,
                names,
                _cache_folder(self.cache_dir, "hf", self.path, config),
                self.splits,
                language=language,
                load_kwargs=self.load_kwargs,
                max_seconds=self.max_seconds,
            )
            items += part
        if self.resplit is not None:
            items = resplit_by_content(items, **self.resplit)
        return Corpus(items, names, name=self.name)


class Manifest(CorpusSource):
    """A local CSV or JSONL manifest (see :mod:`workbench.data.manifest` for columns)."""

    def __init__(
        self,
        path: str,
        label_names: list[str] | None = None,
        languages: list[str] | None = None,
        on_bad_item: OnBadItem = "raise",
    ):
        self.path, self.label_names, self.languages, self.on_bad_item = path, label_names, languages, on_bad_item

    def load(self) -> Corpus:
        return load_manifest(self.path, self.label_names, self.languages, on_bad_item=self.on_bad_item)


class AudioFolder(CorpusSource):
    """``<root>/<split>/<label>/<file>``, as Hugging Face's AudioFolder lays it out.

    An optional ``metadata.csv`` in ``root`` (column ``file_name``, relative to root, plus
    any of ``language``, ``content_id``, ``text``, ``romanized``) adds per-file fields.

    Args:
        root: the folder.
        language: language of files without a metadata row.
        label_names: class order; default the sorted folder names.
    """

    AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")

    def __init__(self, root: str, language: str | None = None, label_names: list[str] | None = None):
        self.root, self.language, self.label_names = Path(root), language, label_names

    def _metadata(self) -> dict[str, dict]:
        meta = self.root / "metadata.csv"
        if not meta.is_file():
            return {}
        with meta.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        if rows and "file_name" not in rows[0]:
            raise DataError(f"file '{meta}'", "file_name", "missing column")
        return {row["file_name"]: row for row in rows}

    def load(self) -> Corpus:
        if not self.root.is_dir():
            raise DataError(f"audio folder '{self.root}'", "root", "folder not found")
        files = sorted(p for p in self.root.glob("*/*/*") if p.suffix.lower() in self.AUDIO_SUFFIXES)
        if not files:
            raise DataError(f"audio folder '{self.root}'", "root", "no <split>/<label>/<audio file> found")
        names = self.label_names or sorted({p.parent.name for p in files})
        meta = self._metadata()
        items = []
        for path in files:
            relative = path.relative_to(self.root).as_posix()
            row = meta.get(relative, {})
            where = f"audio folder '{self.root}' file '{relative}'"
            label = path.parent.name
            if label not in names:
                raise DataError(where, "label", f"unknown label '{label}', known: {names}")
            language = row.get("language") or self.language
            if not language:
                raise DataError(where, "language", "no language: add metadata.csv or set language")
            item_id = relative.rsplit(".", 1)[0].replace("/", "-")
            items.append(
                Item(
                    id=item_id,
                    content_id=row.get("content_id") or item_id,
                    language=language,
                    label=names.index(label),
                    split=path.parent.parent.name,
                    audio=str(path),
                    text=row.get("text") or None,
                    romanized=row.get("romanized") or None,
                )
            )
        return Corpus(items, names, name=self.root.name)


class Embedded(CorpusSource):
    """The offline default: CLDR words in many languages and scripts, spoken by espeak-ng.

    Built on first use (deterministic from ``seed``) and cached under ``root``; see
    :mod:`workbench.data.embedded`. ``tiny=True`` gives the small set the tests use.
    """

    def __init__(
        self,
        root: str = "data",
        languages: list[str] | None = None,
        per_language: int | None = None,
        seed: int = 0,
        tiny: bool = False,
    ):
        self.root, self.languages, self.per_language = root, languages, per_language
        self.seed, self.tiny = seed, tiny

    def settings(self):
        from workbench.data import embedded

        overrides = {"seed": self.seed}
        if self.languages:
            overrides["languages"] = tuple(self.languages)
        if self.per_language:
            overrides["per_language"] = self.per_language
        if self.tiny:
            return embedded.tiny_settings(**overrides)
        return embedded.EmbeddedSettings(**overrides)

    def load(self) -> Corpus:
        from workbench.data import embedded

        return embedded.load_embedded(self.settings(), self.root)

    def load_for(self, protocol) -> Corpus:
        """Only the protocol's languages (in_language: a fraction of the build) until the whole is built."""
        from workbench.data import embedded

        return embedded.load_embedded(self.settings(), self.root, embedded.protocol_languages(protocol))
