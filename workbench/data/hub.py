"""Hugging Face ``datasets`` read the same way by every modality: splits, class names, languages, caches.

The modality packages build their items on these (the audio sources in :mod:`speech.hub`,
the image sources in :mod:`vision.sources`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from workbench.errors import ConfigError, DataError
from workbench.languages import hub_language

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


def cache_folder(cache_dir: str | Path, *key: object) -> Path:
    """A cache subfolder named by a short hash of ``key`` (source kind, path, config...)."""
    digest = hashlib.sha1(repr(key).encode()).hexdigest()[:12]
    return Path(cache_dir) / digest
