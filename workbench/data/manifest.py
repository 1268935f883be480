"""Local manifests: CSV or JSONL files with one item per row.

Columns (``id``, ``language``, ``label`` and ``split`` are required, plus one signal column):

========== ===============================================================
id          unique item id
content_id  shared by translations of one content (defaults to ``id``)
language    ISO 639-3 / BCP-47 code
label       class name (or integer index into ``label_names``)
split       train / dev / test / test_unseen (``validation``, ``valid``, ``val`` mean dev)
audio       audio path, relative to the manifest's folder or absolute
image       image path, same rule
text        gold transcript or caption, native script
romanized   gold romanization
========== ===============================================================

A ``columns`` map (workbench field -> manifest column) reads manifests with their own
column names. Label names come from, in order: the caller, a ``dataset.json`` beside the manifest
(``{"label_names": [...]}``), or the sorted distinct labels.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from workbench.data.validate import OnBadItem, SkipReport
from workbench.errors import DataError
from workbench.items import Corpus, Item, canonical_split, resolve_path

REQUIRED_COLUMNS = ("id", "language", "label", "split")
SIGNAL_COLUMNS = ("audio", "image")
OPTIONAL_COLUMNS = ("content_id", "text", "romanized")


def read_rows(path: Path) -> Iterator[tuple[int, dict]]:
    """Yield ``(line number, row)`` from a CSV or JSONL manifest; errors name the file and line."""
    if not path.is_file():
        raise DataError(f"manifest '{path}'", "path", "file not found")
    if path.suffix == ".csv":
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            for number, row in enumerate(reader, start=2):
                yield number, row
    elif path.suffix in (".jsonl", ".json"):
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as err:
                    raise DataError(f"manifest '{path}' line {number}", "json", str(err)) from None
                if not isinstance(row, dict):
                    raise DataError(f"manifest '{path}' line {number}", "json", "a row must be an object")
                yield number, row
    else:
        raise DataError(f"manifest '{path}'", "path", "expected a .csv or .jsonl file")


def check_columns(columns: Iterable[str], where: str) -> None:
    """Fail with every missing required column named at once."""
    present = set(columns)
    missing = [c for c in REQUIRED_COLUMNS if c not in present]
    if not any(c in present for c in SIGNAL_COLUMNS) and "text" not in present:
        missing.append("audio|image|text")
    if missing:
        raise DataError(where, ", ".join(missing), f"missing column(s); present: {sorted(present)}")


def _label_names_beside(path: Path) -> list[str] | None:
    meta = path.parent / "dataset.json"
    if meta.is_file():
        names = json.loads(meta.read_text(encoding="utf-8")).get("label_names")
        if names:
            return list(names)
    return None


_INDEX = re.compile(r"[0-9]+")  # ASCII digits only: "²" or "٣" are names (str.isdigit() says yes, int() fails)


def _label_of(value, label_names: list[str], where: str) -> int:
    if value is None or value == "":
        raise DataError(where, "label", "missing label")
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise DataError(where, "label", f"a label is a class name or an index, not {value!r}")
    if isinstance(value, int) or (_INDEX.fullmatch(value) and value not in label_names):
        index = int(value)
        if not 0 <= index < len(label_names):
            raise DataError(where, "label", f"index {index} outside {len(label_names)} classes")
        return index
    if value not in label_names:
        raise DataError(where, "label", f"unknown label '{value}', known: {label_names}")
    return label_names.index(value)


def _row_to_item(number: int, row: dict, path: Path, label_names: list[str], allowed: set[str] | None) -> Item:
    where = f"manifest '{path}' line {number} item '{row.get('id', '?')}'"
    for column in REQUIRED_COLUMNS:
        if row.get(column) in (None, ""):
            raise DataError(where, column, "missing value")
    language = str(row["language"])
    if allowed is not None and language not in allowed:
        raise DataError(where, "language", f"unknown language '{language}', expected one of {sorted(allowed)}")
    label = _label_of(row["label"], label_names, where)
    split = canonical_split(row["split"], where)
    return Item(
        id=str(row["id"]),
        content_id=str(row.get("content_id") or row["id"]),
        language=language,
        label=label,
        split=split,
        audio=resolve_path(row.get("audio"), path.parent),
        image=resolve_path(row.get("image"), path.parent),
        text=row.get("text") or None,
        romanized=row.get("romanized") or None,
    )


def rename_columns(row: dict, columns: dict[str, str] | None) -> dict:
    """A row with its columns renamed to workbench fields (``columns``: field -> column)."""
    if not columns:
        return row
    renamed = {field: row[column] for field, column in columns.items() if column in row}
    mapped = set(columns.values())
    renamed.update({k: v for k, v in row.items() if k not in mapped and k not in renamed})
    return renamed


def load_manifest(
    path: str | Path,
    label_names: list[str] | None = None,
    languages: list[str] | None = None,
    name: str | None = None,
    on_bad_item: OnBadItem = "raise",
    columns: dict[str, str] | None = None,
) -> Corpus:
    """Read a CSV/JSONL manifest into a :class:`Corpus`.

    Args:
        path: the manifest file.
        label_names: the class names in index order; see the module doc for defaults.
        languages: the languages allowed; an item of another language is bad (most
            likely a typo in the manifest or the config).
        on_bad_item: ``raise`` at the first bad row (missing value, unknown label or
            language), or ``skip`` it and count it in ``corpus.meta["skipped"]``.
        columns: workbench field -> manifest column, for other column names.
    """
    path = Path(path)
    rows = [(number, rename_columns(row, columns)) for number, row in read_rows(path)]
    if not rows:
        raise DataError(f"manifest '{path}'", "rows", "manifest has no rows")
    where = f"manifest '{path}'" + (f" (columns mapped {columns})" if columns else "")
    check_columns(rows[0][1].keys(), where)
    label_names = label_names or _label_names_beside(path)
    if label_names is None:
        label_names = sorted({str(row["label"]) for _, row in rows if row.get("label") not in (None, "")})
    allowed = set(languages) if languages else None
    report = SkipReport()
    items = []
    for number, row in rows:
        try:
            items.append(_row_to_item(number, row, path, label_names, allowed))
        except DataError as error:
            if on_bad_item == "raise":
                raise
            report.add(error)
    report.log(f"manifest '{path}'")
    return Corpus(
        items=items, label_names=list(label_names), name=name or path.stem, meta={"skipped": report.summary()}
    )
