"""The audio corpus sources, chosen in config by ``class_path`` (the interface is
:class:`workbench.data.sources.CorpusSource`; its ``load`` checks every item's audio through
:mod:`speech.checks`).

- :class:`SpeechTaxi`: the SpeechTaxi repository's raw files (no loading script), see
  :mod:`speech.speechtaxi`.
- :class:`HubParquet`: a parquet dataset repository through a column map (SIB-Fleurs,
  MINDS-14, Speech-MASSIVE are config files, see ``configs/data/``).
- :class:`HFDataset`: any ``datasets`` dataset (``save_to_disk`` folders, other hub repos).
- :class:`AudioFolder`: Hugging Face's AudioFolder, flat (``metadata.csv``) or ``<split>/<label>/<file>``.
- :class:`Embedded`: the offline default, generated on this machine (:mod:`speech.embedded`).
"""

from __future__ import annotations

from pathlib import Path

from speech.embedded import load_embedded
from speech.folders import read_audio_folder
from speech.hub import SPEECHTAXI_COLUMNS, load_hf_splits
from speech.parquet import read_parquet_source
from speech.speechtaxi import SPEECHTAXI_LABELS, prepare_speechtaxi
from workbench.data.derive import UnknownLanguage
from workbench.data.embedded import protocol_languages
from workbench.data.hub import cache_folder
from workbench.data.resplit import resplit_by_content
from workbench.data.sources import DEFAULT_CACHE, CorpusSource, EmbeddedPlan
from workbench.data.validate import OnBadItem
from workbench.errors import ConfigError
from workbench.items import Corpus, Item

__all__ = ["SPEECHTAXI_LABELS", "SpeechTaxi", "HubParquet", "HFDataset", "AudioFolder", "Embedded"]


def mapped(columns: dict[str, str]) -> dict[str, str]:
    """A column map (workbench field -> column) that maps at least ``label`` and ``audio``."""
    missing = [field for field in ("label", "audio") if field not in columns]
    if missing:
        raise ConfigError(f"columns: {missing} must be mapped to columns of the dataset (have {dict(columns)})")
    return dict(columns)


class SpeechTaxi(CorpusSource):
    """SpeechTaxi: Bible verses in 28 languages, classes Recommendation ... Violence.

    The repository is a loading script over ``tables.zip`` + ``data.zip`` (MP3), which
    ``datasets`` >= 4 refuses to run; this source reads the raw files instead and prepares a
    local cache on first use (``python -m speech.corpora prepare speechtaxi`` does it ahead).

    Args:
        path: hub id (``LennartKeller/SpeechTaxi``), a local folder holding ``tables.zip`` and
            ``data.zip``, or a folder of ``save_to_disk`` copies (one per language).
        languages: language configs to load (``eng``, ``tw-akuapem``, ...; 28 in all).
        revision: hub revision (commit, tag or branch) to pin; None follows ``main``.
        token_env: environment variable holding a hub token (none needed for SpeechTaxi).
        cache_dir: where decoded 16 kHz audio and the prepared tables are kept.
        splits: the splits to read.
        max_seconds: cap on clip length for ``save_to_disk`` copies (raw files keep whole clips).
        on_bad_item, unknown_language: see :class:`CorpusSource`.
    """

    def __init__(
        self,
        path: str = "LennartKeller/SpeechTaxi",
        languages: list[str] = ("eng",),
        revision: str | None = None,
        token_env: str = "HF_TOKEN",
        cache_dir: str = str(DEFAULT_CACHE),
        splits: list[str] = ("train", "dev", "test"),
        max_seconds: float | None = 30.0,
        on_bad_item: OnBadItem = "raise",
        unknown_language: UnknownLanguage = "error",
    ):
        self.path, self.languages, self.splits = path, list(languages), list(splits)
        self.revision, self.token_env = revision, token_env
        self.cache_dir, self.max_seconds = cache_dir, max_seconds
        self.on_bad_item, self.unknown_language = on_bad_item, unknown_language

    def _saved_copies(self) -> bool:
        local = Path(self.path)
        return any((local / lang / "dataset_dict.json").is_file() for lang in self.languages)

    def read(self) -> Corpus:
        if self._saved_copies():
            items, names = load_hf_splits(
                self.path,
                self.languages,
                dict(SPEECHTAXI_COLUMNS),
                SPEECHTAXI_LABELS,
                cache_folder(self.cache_dir, "speechtaxi", self.path),
                self.splits,
                max_seconds=self.max_seconds,
            )
            return Corpus(items, names, name="speechtaxi")
        prepared = prepare_speechtaxi(
            self.path, self.languages, self.cache_dir, self.revision, self.token_env, self.on_bad_item
        )
        items = [item for item in prepared.items if item.split in self.splits]
        return Corpus(items, SPEECHTAXI_LABELS, name="speechtaxi", meta=prepared.meta)


class HubParquet(CorpusSource):
    """A parquet dataset repository (hub id or local folder) through a column map; no ``datasets`` needed.

    Audio bytes are decoded with soundfile (never torchcodec) and cached as 16 kHz FLAC. An
    ``audio`` column holding a list of recordings per row (SIB-Fleurs) gives one item per
    recording: ``content_id`` is the row's, the item id gets ``-r<k>``.

    Args:
        path: hub id or a local folder laid out like the repository.
        columns: workbench field -> column; needs ``label`` and ``audio``; optional ``id``,
            ``content_id``, ``language``, ``text``, ``romanized``.
        configs: dataset configs (one per language, usually).
        files: file pattern per config and hub split, e.g. ``data/{config}/{split}-*.parquet``.
        splits: hub split -> workbench split, in order; each entry ``{hub: train_115, as: train}``
            with optional ``path`` (another repository, e.g. a gated test set), ``files``,
            ``configs`` (only these configs have it) and ``required`` (default true).
        language: constant language, or config -> language; default the ``language`` column,
            else the config name.
        label_names: class names when the label column is not a ClassLabel in the file's features.
        revision: hub revision to pin (applies to ``path``; an entry's ``revision`` to its own).
        token_env: environment variable with a hub token, for gated repositories.
        cache_dir: where decoded audio and prepared tables are kept.
        max_seconds: clips are cut to this length in the cache.
        name: corpus name; default the repository name.
        resplit: ``{dev: 0.1, test: 0.2, seed: 0}`` reassigns splits by hashing ``content_id``.
        on_bad_item, unknown_language: see :class:`CorpusSource`.
    """

    def __init__(
        self,
        path: str,
        columns: dict[str, str],
        configs: list[str | None] = (None,),
        files: str = "data/{config}/{split}-*.parquet",
        splits: list[dict] = ({"hub": "train", "as": "train"}, {"hub": "validation", "as": "dev"}),
        language: str | dict[str, str] | None = None,
        label_names: list[str] | None = None,
        revision: str | None = None,
        token_env: str = "HF_TOKEN",
        cache_dir: str = str(DEFAULT_CACHE),
        max_seconds: float | None = 30.0,
        name: str | None = None,
        resplit: dict | None = None,
        on_bad_item: OnBadItem = "raise",
        unknown_language: UnknownLanguage = "error",
    ):
        self.path, self.columns, self.configs, self.files = path, mapped(columns), list(configs), files
        self.splits = [dict(entry) for entry in splits]
        self.language, self.label_names, self.revision, self.token_env = language, label_names, revision, token_env
        self.cache_dir, self.max_seconds, self.resplit = cache_dir, max_seconds, resplit
        self.name = name or Path(path).name
        self.on_bad_item, self.unknown_language = on_bad_item, unknown_language

    def read(self) -> Corpus:
        items, names, meta = read_parquet_source(self)
        if self.resplit is not None:
            items = resplit_by_content(items, **self.resplit)
        return Corpus(items, names, name=self.name, meta=meta)


class HFDataset(CorpusSource):
    """Any ``datasets`` dataset with one audio struct per row, through a column map.

    For parquet repositories prefer :class:`HubParquet` (no ``datasets`` scripts, no torchcodec).

    Args:
        path: hub id or local folder (``save_to_disk`` output per config, or data files).
        configs: dataset configs to load (e.g. one per language); ``[None]`` for none.
        columns: workbench field -> dataset column; needs ``label`` and ``audio``.
        language: a constant language, or config -> language; default the config name.
        label_names: class names when the label column is not a ClassLabel.
        splits: workbench splits to read (hub names ``validation``/``valid`` map to dev).
        load_kwargs: passed to ``datasets.load_dataset`` (``data_files``, ``revision``...).
        resplit: ``{"dev": 0.1, "test": 0.2, "seed": 0}`` reassigns splits by hashing ``content_id``.
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
        on_bad_item: OnBadItem = "raise",
        unknown_language: UnknownLanguage = "error",
    ):
        self.path, self.columns, self.configs = path, mapped(columns), list(configs)
        self.language, self.label_names, self.splits = language, label_names, list(splits)
        self.cache_dir, self.load_kwargs, self.max_seconds = cache_dir, load_kwargs, max_seconds
        self.name = name or Path(path).name
        self.resplit = resplit
        self.on_bad_item, self.unknown_language = on_bad_item, unknown_language

    def read(self) -> Corpus:
        items: list[Item] = []
        names = self.label_names
        for config in self.configs:
            language = self.language.get(config) if isinstance(self.language, dict) else self.language
            if language is None and "language" not in self.columns:
                language = config  # per-language configs (eng_Latn, de-DE...) name their language
            part, names = load_hf_splits(
                self.path,
                [config],
                self.columns,
                names,
                cache_folder(self.cache_dir, "hf", self.path, config),
                self.splits,
                language=language,
                load_kwargs=self.load_kwargs,
                max_seconds=self.max_seconds,
            )
            items += part
        if self.resplit is not None:
            items = resplit_by_content(items, **self.resplit)
        return Corpus(items, names, name=self.name)


class AudioFolder(CorpusSource):
    """A local folder as Hugging Face's AudioFolder lays it out (see :mod:`speech.folders`).

    Either flat: ``metadata.csv`` (or ``metadata.jsonl``) with ``file_name`` (relative to the
    root, files anywhere below it) plus label, language, split, transcription... columns; or
    ``<split>/<label>/<file>``, where an optional ``metadata.csv`` adds per-file fields.

    Args:
        root: the folder.
        columns: workbench field -> metadata column (``label``, ``language``, ``split``, ``text``,
            ``romanized``, ``content_id``, ``id``); default the field's own name.
        language: language of items without one.
        label_names: class order; default the sorted labels.
        split: split of items without one (no split column, no split folder); default: an error.
        cache_dir, on_bad_item, unknown_language: see :class:`CorpusSource`.
    """

    def __init__(
        self,
        root: str,
        columns: dict[str, str] | None = None,
        language: str | None = None,
        label_names: list[str] | None = None,
        split: str | None = None,
        cache_dir: str = str(DEFAULT_CACHE),
        on_bad_item: OnBadItem = "raise",
        unknown_language: UnknownLanguage = "error",
    ):
        self.root, self.columns = Path(root), dict(columns or {})
        self.language, self.label_names = language, label_names
        self.split, self.cache_dir = split, cache_dir
        self.on_bad_item, self.unknown_language = on_bad_item, unknown_language

    def read(self) -> Corpus:
        return read_audio_folder(self)


class Embedded(EmbeddedPlan):
    """The offline default: CLDR words in many languages and scripts, spoken by espeak-ng.

    Built on first use (deterministic from ``seed``) and cached under ``root``; see
    :mod:`speech.embedded` and, for the arguments, :class:`~workbench.data.sources.EmbeddedPlan`.
    """

    def read(self) -> Corpus:
        return load_embedded(self.settings(), self.root)

    def load_for(self, protocol) -> Corpus:
        """Only the protocol's languages (in_language: a fraction of the build) until the whole is built."""
        return load_embedded(self.settings(), self.root, protocol_languages(protocol))
