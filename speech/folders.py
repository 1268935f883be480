"""A local audio folder, as Hugging Face's AudioFolder lays it out, in either of its forms.

Flat: ``metadata.csv`` (or ``metadata.jsonl``) in the root, one row per file: ``file_name``
(relative to the root; the files may sit anywhere below it) and the item's columns, e.g.
``label, language, split, transcription``. Which column is which field is the source's
``columns`` map (default: the field's own name).

Nested: ``<root>/<split>/<label>/<file>``; a ``metadata.csv`` without a label column then only
adds per-file fields (language, content_id, text...).

Split names ``validation``, ``valid``, ``val`` mean dev; any other unknown split is an error
naming the file and the names accepted.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from workbench.data.validate import SkipReport
from workbench.errors import DataError
from workbench.items import Corpus, Item, canonical_split

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")
FIELDS = ("id", "content_id", "label", "language", "split", "text", "romanized")


def read_metadata(root: Path) -> tuple[Path | None, list[dict]]:
    """Rows of ``metadata.csv`` / ``metadata.jsonl`` in ``root``, each with ``file_name``."""
    for name in ("metadata.csv", "metadata.jsonl"):
        meta = root / name
        if not meta.is_file():
            continue
        if meta.suffix == ".csv":
            with meta.open(newline="", encoding="utf-8") as handle:
                rows = list(csv.DictReader(handle))
        else:
            rows = [json.loads(line) for line in meta.read_text(encoding="utf-8").splitlines() if line.strip()]
        if rows and "file_name" not in rows[0]:
            raise DataError(f"file '{meta}'", "file_name", f"missing column; present: {sorted(rows[0])}")
        return meta, rows
    return None, []


def _field(row: dict, columns: dict[str, str], name: str):
    value = row.get(columns.get(name, name))
    return None if value is None or value == "" else value


def read_audio_folder(source) -> Corpus:
    """The items of an :class:`~speech.sources.AudioFolder` (see the module doc)."""
    root = source.root
    if not root.is_dir():
        raise DataError(f"audio folder '{root}'", "root", "folder not found")
    meta_path, rows = read_metadata(root)
    label_column = source.columns.get("label", "label")
    if rows and label_column in rows[0]:
        entries = [(row["file_name"], row, None) for row in rows]  # flat form: metadata lists every file
    else:
        files = sorted(p for p in root.glob("*/*/*") if p.suffix.lower() in AUDIO_SUFFIXES)
        if not files:
            raise DataError(
                f"audio folder '{root}'",
                "root",
                f"no metadata.csv with a '{label_column}' column and no <split>/<label>/<audio file> found",
            )
        by_name = {row["file_name"]: row for row in rows}
        entries = [(p.relative_to(root).as_posix(), by_name.get(p.relative_to(root).as_posix(), {}), p) for p in files]
    flat = bool(rows) and label_column in rows[0]
    labels = [str(_field(row, source.columns, "label") or "") if flat else Path(n).parent.name for n, row, _ in entries]
    names = source.label_names or sorted(set(labels) - {""})
    report, items = SkipReport(), []
    for (name, row, nested), label in zip(entries, labels, strict=True):
        where = f"audio folder '{root}' file '{name}'"
        try:
            items.append(_item(source, root, name, row, nested, label, names, where))
        except DataError as error:
            if source.on_bad_item == "raise":
                raise
            report.add(error)
    report.log(f"audio folder '{root}'")
    return Corpus(items, list(names), name=root.name, meta={"skipped": report.summary(), "metadata": str(meta_path)})


def _item(source, root: Path, name: str, row: dict, nested: Path | None, label: str, names, where: str) -> Item:
    path = root / name
    if not path.is_file():
        raise DataError(where, "file_name", f"file not found ({path})")
    if not label:
        raise DataError(where, "label", "missing label")
    if label not in names:
        raise DataError(where, "label", f"unknown label '{label}', known: {names}")
    language = _field(row, source.columns, "language") or source.language
    if not language:
        raise DataError(where, "language", "no language: add a language column to metadata.csv or set language")
    split = _field(row, source.columns, "split")
    if split is None and nested is not None:
        split = Path(name).parts[0]
    if split is None:
        split = source.split
    if split is None:
        raise DataError(where, "split", "no split: add a split column (train/validation/test) or set split")
    item_id = str(_field(row, source.columns, "id") or name.rsplit(".", 1)[0].replace("/", "-"))
    return Item(
        id=item_id,
        content_id=str(_field(row, source.columns, "content_id") or item_id),
        language=str(language),
        label=names.index(label),
        split=canonical_split(split, where),
        audio=str(path),
        text=_field(row, source.columns, "text"),
        romanized=_field(row, source.columns, "romanized"),
    )
