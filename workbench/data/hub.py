"""Corpora from Hugging Face ``datasets``: the SpeechTaxi schema and any dataset via a column map.

Audio is read undecoded (``Audio(decode=False)``: recent ``datasets`` decode through
torchcodec, which this project does not need) and written once as 16 kHz FLAC under a
cache folder, so that every consumer reads local files the same way.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable
from pathlib import Path

import soundfile as sf

from speech.audio import SAMPLE_RATE, prepare
from workbench.errors import ConfigError, DataError
from workbench.items import Item
from workbench.languages import hub_language

SPEECHTAXI_COLUMNS = {
    "id": "id",
    "content_id": "verse_ref",
    "language": "language",
    "label": "label",
    "audio": "audio",
    "text": "transcription",
    "romanized": "transcription_romanized",
}

#: Split names of the workbench -> names commonly used on the hub.
SPLIT_ALIASES = {"train": ("train",), "dev": ("dev", "validation", "valid"), "test": ("test",)}


def open_dataset(path: str, name: str | None, split: str, load_kwargs: dict | None = None):
    """A hub id, a ``save_to_disk`` folder or a local data folder -> a ``datasets.Dataset``.

    ``save_to_disk`` folders may hold one DatasetDict (``<path>/dataset_dict.json``) or one
    per config (``<path>/<name>/dataset_dict.json``).
    """
    import datasets

    local = Path(path)
    for folder in ([local / name] if name else []) + [local]:
        if (folder / "dataset_dict.json").is_file():
            dataset_dict = datasets.load_from_disk(str(folder))
            if split not in dataset_dict:
                raise ConfigError(f"split '{split}' not in {folder} (has {list(dataset_dict)})")
            return dataset_dict[split]
    return datasets.load_dataset(path, name, split=split, **(load_kwargs or {}))


def available_split(path: str, name: str | None, split: str, load_kwargs: dict | None = None, reasons=None):
    """Open the first of a workbench split's hub aliases that exists; None when none does.

    Args:
        reasons: a list that gets one ``"<alias>: <why it failed>"`` line per alias tried, so
            that "no train split" can say why (a refused loading script is not a missing split).
    """
    for alias in SPLIT_ALIASES.get(split, (split,)):
        try:
            return open_dataset(path, name, alias, load_kwargs)
        # datasets raises ValueError for unknown splits, RuntimeError for a loading script it refuses,
        # FileNotFoundError / DatasetNotFoundError (a FileNotFoundError) for a missing repository
        except (ValueError, KeyError, ConfigError, RuntimeError, FileNotFoundError) as err:
            if reasons is not None:
                reasons.append(f"{alias}: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}")
    return None


def class_names(dataset, column: str) -> list[str] | None:
    """The names of a ClassLabel column, or None for plain columns."""
    feature = dataset.features.get(column)
    return list(feature.names) if hasattr(feature, "names") else None


def item_language(value: object, where: str) -> tuple[str, str | None]:
    """A row's language id as the hub writes it -> ``(workbench code, hub id)`` (:func:`hub_language`).

    Raises:
        DataError: naming the row, when the language table does not know the id.
    """
    try:
        return hub_language(value)
    except ConfigError as error:
        raise DataError(where, "language", str(error)) from None


def cache_audio(value, where: str, cache_dir: Path, item_id: str, max_seconds: float | None) -> str:
    """An undecoded ``datasets`` audio value -> path of a 16 kHz mono FLAC in the cache."""
    safe = hashlib.sha1(item_id.encode()).hexdigest()[:16]
    target = cache_dir / f"{safe}.flac"
    if target.is_file():
        return str(target)
    if isinstance(value, dict) and value.get("bytes"):
        source = io.BytesIO(value["bytes"])
    elif isinstance(value, dict) and value.get("path") and Path(value["path"]).is_file():
        source = value["path"]
    elif isinstance(value, dict) and value.get("array") is not None:
        samples = prepare(value["array"], int(value["sampling_rate"]), where, max_seconds)
        return _write_flac(target, samples)
    else:
        raise DataError(where, "audio", "no audio bytes, path or array in the dataset row")
    try:
        samples, rate = sf.read(source, dtype="float32", always_2d=False)
    except (sf.LibsndfileError, RuntimeError) as err:
        raise DataError(where, "audio", f"unreadable audio: {err}") from None
    return _write_flac(target, prepare(samples, rate, where, max_seconds))


def _write_flac(target: Path, samples) -> str:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp.flac")
    sf.write(str(tmp), samples, SAMPLE_RATE, subtype="PCM_16")
    tmp.replace(target)  # atomic: a crash never leaves a half-written FLAC under the final name
    return str(target)


def rows_to_items(
    rows: Iterable[dict],
    split: str,
    columns: dict[str, str],
    label_names: list[str],
    cache_dir: Path,
    where: str,
    language: str | None = None,
    language_names: list[str] | None = None,
    max_seconds: float | None = 30.0,
    id_prefix: str = "",
) -> list[Item]:
    """Map dataset rows to items through ``columns`` (workbench field -> dataset column)."""
    items = []
    for index, row in enumerate(rows):
        row_where = f"{where} split '{split}' row {index}"
        raw_id = row[columns["id"]] if "id" in columns else index
        item_id = f"{id_prefix}{raw_id}"
        row_where += f" item '{item_id}'"
        lang = language
        if "language" in columns:
            lang = row[columns["language"]]
            if language_names is not None and isinstance(lang, int):
                lang = language_names[lang]
        if not lang:
            raise DataError(row_where, "language", "missing language (set a language column or a constant language)")
        lang, hub_id = item_language(lang, row_where)
        label = row[columns["label"]]
        if label is None or label == "":
            raise DataError(row_where, "label", "missing label")
        if isinstance(label, str):
            if label not in label_names:
                raise DataError(row_where, "label", f"unknown label '{label}', known: {label_names}")
            label = label_names.index(label)
        elif not 0 <= int(label) < len(label_names):
            raise DataError(row_where, "label", f"index {label} outside {len(label_names)} classes")
        audio = cache_audio(row[columns["audio"]], row_where, cache_dir / str(lang), item_id, max_seconds)
        items.append(
            Item(
                id=item_id,
                content_id=str(row[columns["content_id"]]) if "content_id" in columns else item_id,
                language=str(lang),
                label=int(label),
                split=split,
                audio=audio,
                text=row.get(columns["text"]) if "text" in columns else None,
                romanized=row.get(columns["romanized"]) if "romanized" in columns else None,
                hub_language=hub_id,
            )
        )
    return items


def cache_folder(cache_dir: str | Path, *key: object) -> Path:
    """A cache subfolder named by a short hash of ``key`` (source kind, path, config...)."""
    digest = hashlib.sha1(repr(key).encode()).hexdigest()[:12]
    return Path(cache_dir) / digest


def load_hf_splits(
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
    """Items of some configs and splits of a ``datasets`` dataset, through ``columns``."""
    items: list[Item] = []
    for config in configs:
        for split in splits:
            reasons: list[str] = []
            dataset = available_split(path, config, split, load_kwargs, reasons)
            if dataset is None:
                if split == "train":
                    raise ConfigError(f"dataset '{path}' config '{config}': no train split ({'; '.join(reasons)})")
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
