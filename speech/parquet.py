"""Parquet dataset repositories read directly: pyarrow for the rows, soundfile for the audio bytes.

No ``datasets`` loading code and no torchcodec: an ``Audio`` column is a parquet struct
``{bytes, path}`` (a ``Sequence(Audio)`` a list of them), decoded here with soundfile and cached
as 16 kHz FLAC. ClassLabel names come from the file's own ``datasets`` features, kept in the
arrow schema metadata under ``b"huggingface"`` by ``push_to_hub`` and the parquet converter.

One split table is prepared once into ``items.jsonl`` under the cache (keyed by the files'
names and sizes and the source's settings), so a rerun reads no parquet at all.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from speech.hub import cache_audio, row_item, row_label, row_language
from workbench.data.hubfiles import repo_glob
from workbench.data.validate import SkipReport
from workbench.errors import ConfigError, DataError
from workbench.io import atomic_write_jsonl, read_jsonl
from workbench.items import Item, canonical_split

FORMAT = 2  # bump when the prepared form changes


def features_of(path: Path) -> dict:
    """The ``datasets`` features stored in a parquet file's schema metadata (``{}`` when absent)."""
    import pyarrow.parquet as pq

    metadata = pq.read_schema(path).metadata or {}
    raw = metadata.get(b"huggingface")
    if not raw:
        return {}
    return json.loads(raw).get("info", {}).get("features", {}) or {}


def class_label_names(features: dict, column: str) -> list[str] | None:
    """A ClassLabel column's names, in index order, from stored features."""
    feature = features.get(column) or {}
    return list(feature["names"]) if feature.get("_type") == "ClassLabel" and "names" in feature else None


def _recordings(value) -> list:
    """One audio struct, or a list of them (``Sequence(Audio)``), as a list."""
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _settings_key(source, config, entry, files: list[Path]) -> str:
    what = (FORMAT, source.on_bad_item, source.columns, source.language, source.label_names, source.max_seconds)
    what += (config, entry)
    stamp = [(p.name, p.stat().st_size) for p in files]
    return hashlib.sha1(repr((what, stamp)).encode()).hexdigest()[:16]


def _items_of_table(source, config, split: str, files: list[Path], names, language_names, report, where) -> list[Item]:
    import pyarrow.parquet as pq

    columns = source.columns
    constant = source.language.get(config) if isinstance(source.language, dict) else source.language
    audio_dir = Path(source.cache_dir) / "audio" / hashlib.sha1(repr((source.path, config)).encode()).hexdigest()[:12]
    items: list[Item] = []
    wanted = sorted(set(columns.values()))
    row_number = 0
    for path in files:
        present = pq.read_schema(path).names
        missing = [c for c in wanted if c not in present and c != columns.get("id")]  # no id: rows are numbered
        if missing:
            raise DataError(f"{where} file '{path.name}'", ", ".join(missing), f"missing column(s); present: {present}")
        table = pq.ParquetFile(path)
        for batch in table.iter_batches(batch_size=64, columns=[c for c in wanted if c in present]):
            for row in batch.to_pylist():
                row_where = f"{where} row {row_number}"
                row_number += 1
                try:
                    items += _row_items(
                        row,
                        columns,
                        constant or config,
                        names,
                        language_names,
                        split,
                        row_where,
                        audio_dir,
                        source.max_seconds,
                        row_number - 1,
                        config,
                    )
                except DataError as error:
                    if source.on_bad_item == "raise":
                        raise
                    report.add(error)
    return items


def _row_items(
    row, columns, default_language, names, language_names, split, where, audio_dir, max_seconds, number, config
) -> list[Item]:
    raw_id = row.get(columns["id"]) if "id" in columns and columns["id"] in row else number
    item_id = f"{config}-{split}-{raw_id}" if config else f"{split}-{raw_id}"
    where += f" item '{item_id}'"
    language, hub_id = row_language(row, columns, default_language, language_names, where)
    label = row_label(row[columns["label"]], names, where)
    recordings = _recordings(row[columns["audio"]])
    if not recordings:
        raise DataError(where, "audio", "no recording in the row")
    content = str(row[columns["content_id"]]) if "content_id" in columns else str(raw_id)
    out = []
    for k, value in enumerate(recordings):
        rec_id = item_id if len(recordings) == 1 and not isinstance(row[columns["audio"]], list) else f"{item_id}-r{k}"
        audio = cache_audio(value, f"{where} recording {k}", audio_dir / str(language), rec_id, max_seconds)
        key = {"id": rec_id, "content_id": content, "language": language, "label": label, "hub_language": hub_id}
        out.append(row_item(row, columns, split, audio, **key))
    return out


def read_parquet_source(source) -> tuple[list[Item], list[str], dict]:
    """Items of every config and split entry of a :class:`~speech.sources.HubParquet`."""
    items: list[Item] = []
    names = list(source.label_names) if source.label_names else None
    report = SkipReport()
    for config in source.configs:
        taken: set[str] = set()  # the first entry that a config has for a workbench split wins
        for entry in source.splits:
            if "hub" not in entry or "as" not in entry:
                raise ConfigError(f"splits: each entry needs 'hub' and 'as' (e.g. {{hub: val, as: dev}}): {entry}")
            if entry.get("configs") and config not in entry["configs"]:
                continue
            split = canonical_split(entry["as"], f"splits entry {entry}")
            if split in taken:
                continue
            repo = entry.get("path", source.path)
            pattern = entry.get("files", source.files).format(config=config, split=entry["hub"])
            where = f"dataset '{repo}' config '{config}' split '{entry['hub']}'"
            revision, token_env = entry.get("revision", source.revision), entry.get("token_env", source.token_env)
            files = repo_glob(repo, pattern, revision, token_env)
            if not files:
                if entry.get("required", True):
                    raise DataError(where, "files", f"no file matches '{pattern}' (required: false allows that)")
                continue
            taken.add(split)
            features = features_of(files[0])
            names = class_label_names(features, source.columns["label"]) or names
            if names is None:
                raise ConfigError(f"{where}: column '{source.columns['label']}' is not a ClassLabel; set label_names")
            language_names = class_label_names(features, source.columns.get("language", ""))
            marker = Path(source.cache_dir) / "tables" / f"{_settings_key(source, config, entry, files)}.jsonl"
            if marker.is_file():
                rows = read_jsonl(marker)
            else:
                part = SkipReport()
                found = _items_of_table(source, config, split, files, names, language_names, part, where)
                rows = [i.to_dict() for i in found] + [{"_skipped": w, "reason": r} for w, r in part.skipped.items()]
                atomic_write_jsonl(marker, rows)  # only a finished table is kept: a crash re-reads it
            for row in rows:
                if "_skipped" in row:
                    report.skipped[row["_skipped"]] = row["reason"]
                else:
                    items.append(Item(**row))
    report.log(f"dataset '{source.path}'")
    return items, list(names or []), {"skipped": report.summary()}
