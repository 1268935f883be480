"""Audio corpora from Hugging Face ``datasets``: the SpeechTaxi schema and any dataset via a column map.

Audio is read undecoded (``Audio(decode=False)``: recent ``datasets`` decode through
torchcodec, which this project does not need) and written once as 16 kHz FLAC under a
cache folder, so that every consumer reads local files the same way. The row helpers
(:func:`row_language`, :func:`row_label`, :func:`row_texts`) are shared with the parquet
reader (:mod:`speech.parquet`).
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable
from pathlib import Path

import soundfile as sf

from speech.audio import SAMPLE_RATE, prepare
from workbench.data.hub import available_split, class_names, item_language
from workbench.errors import ConfigError, DataError
from workbench.items import Item

SPEECHTAXI_COLUMNS = {
    "id": "id",
    "content_id": "verse_ref",
    "language": "language",
    "label": "label",
    "audio": "audio",
    "text": "transcription",
    "romanized": "transcription_romanized",
}


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


def row_language(row: dict, columns: dict[str, str], default: str | None, language_names, where: str):
    """A row's language (its ``language`` column, else ``default``) -> ``(workbench code, hub id)``.

    ``language_names`` are the names of a ClassLabel language column (its integers index them).
    """
    language = row.get(columns["language"]) if "language" in columns else default
    if language_names is not None and isinstance(language, int):
        language = language_names[language]
    if not language:
        raise DataError(where, "language", "missing language (map a language column or set language)")
    return item_language(language, where)


def row_label(value, names: list[str], where: str) -> int:
    """A label as a row holds it (class name or index) -> its index in ``names``."""
    if value is None or value == "":
        raise DataError(where, "label", "missing label")
    if isinstance(value, str):
        if value not in names:
            raise DataError(where, "label", f"unknown label '{value}', known: {names}")
        return names.index(value)
    if not 0 <= int(value) < len(names):
        raise DataError(where, "label", f"index {value} outside {len(names)} classes")
    return int(value)


def row_item(row: dict, columns: dict[str, str], split: str, audio: str, **key) -> Item:
    """The item of one recording of a row: its key fields (``id``, ``content_id``, ``language``,
    ``label``, ``hub_language``), split and cached audio, and the row's mapped text columns."""
    texts = {field: row.get(columns[field]) if field in columns else None for field in ("text", "romanized")}
    return Item(split=split, audio=audio, **key, **texts)


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
        item_id = f"{id_prefix}{row[columns['id']] if 'id' in columns else index}"
        row_where = f"{where} split '{split}' row {index} item '{item_id}'"
        lang, hub_id = row_language(row, columns, language, language_names, row_where)
        label = row_label(row[columns["label"]], label_names, row_where)
        audio = cache_audio(row[columns["audio"]], row_where, cache_dir / str(lang), item_id, max_seconds)
        content_id = str(row[columns["content_id"]]) if "content_id" in columns else item_id
        key = {"id": item_id, "content_id": content_id, "language": lang, "label": label, "hub_language": hub_id}
        items.append(row_item(row, columns, split, audio, **key))
    return items


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
