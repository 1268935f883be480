"""Property-based tests of manifest parsing: any row either loads faithfully or fails naming its item and field.

The oracle below is written from the manifest's documented contract, not from the loader's code:
a label is one of the names, or an index written in ASCII digits ("²", "٣", "１" are not indices);
a split is one of the workbench's names or a documented alias, in any case, spaces around ignored.
Examples per run come from the hypothesis profile (tests/conftest.py: ``fast`` by default,
``HYPOTHESIS_PROFILE=thorough`` for the nightly run).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from workbench.data.manifest import load_manifest
from workbench.errors import DataError

LABELS = ["alpha", "beta", "gamma"]
LANGS = ["eng", "rus", "tha"]
ASCII_DIGITS = set("0123456789")
#: the documented spellings of each split (README, manifest docs)
SPLIT_SPELLINGS = {
    "train": "train", "training": "train", "dev": "dev", "validation": "dev", "valid": "dev", "val": "dev",
    "development": "dev", "test": "test", "test_unseen": "test_unseen",
}  # fmt: skip
TRICKY = ["²", "٣", "１", "1 ", " 1", "01", "-1", "1.0", "Train", " VALIDATION ", "val", "Dev", "alpha ", "ALPHA"]

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)
row = st.fixed_dictionaries(
    {
        "id": st.one_of(text, st.integers(0, 10**6).map(str)),
        "language": st.one_of(st.sampled_from(LANGS), text),
        "label": st.one_of(st.sampled_from(LABELS), st.integers(-2, 5).map(str), st.sampled_from(TRICKY), text),
        "split": st.one_of(st.sampled_from([*SPLIT_SPELLINGS, *TRICKY]), text),
        "audio": text,
    },
    optional={"content_id": text, "text": text, "romanized": text},
)


def label_index(label: str) -> int | None:
    """The class a label names under the contract, or None."""
    if label in LABELS:
        return LABELS.index(label)
    if label and set(label) <= ASCII_DIGITS and int(label) < len(LABELS):
        return int(label)
    return None


def expected_fault(r: dict) -> str | None:
    for column in ("id", "language", "label", "split"):
        if r[column] == "":
            return column
    if r["language"] not in LANGS:
        return "language"
    if label_index(r["label"]) is None:
        return "label"
    if r["split"].strip().lower() not in SPLIT_SPELLINGS:
        return "split"
    return None


@given(st.lists(row, min_size=1, max_size=6, unique_by=lambda r: r["id"]))
def test_manifest_rows_load_or_fail_naming_the_field(rows):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "m.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        faults = [(r, expected_fault(r)) for r in rows]
        first_bad = next(((r, f) for r, f in faults if f), None)
        if first_bad is None:
            corpus = load_manifest(path, LABELS, LANGS)
            assert [i.id for i in corpus.items] == [r["id"] for r in rows]
            for item, r in zip(corpus.items, rows, strict=True):
                assert item.language == r["language"]
                assert item.split == SPLIT_SPELLINGS[r["split"].strip().lower()]
                assert item.label == label_index(r["label"])
                assert item.content_id == (r.get("content_id") or r["id"])
                assert item.text == (r.get("text") or None)
            return
        try:
            load_manifest(path, LABELS, LANGS)
        except DataError as error:
            assert error.field == first_bad[1]
            assert f"item '{first_bad[0]['id']}'" in error.where
        else:
            raise AssertionError(f"row with a bad '{first_bad[1]}' loaded without error")
        # with skipping, exactly the good rows remain and the bad ones are counted
        corpus = load_manifest(path, LABELS, LANGS, on_bad_item="skip")
        assert [i.id for i in corpus.items] == [r["id"] for r, f in faults if f is None]
        assert corpus.meta["skipped"]["skipped"] == sum(f is not None for _, f in faults)


def test_superscript_and_other_unicode_digits_are_named_labels_not_indices(tmp_path):
    """``"²".isdigit()`` is True and ``int("²")`` raises ValueError: it must be a DataError naming the item."""
    for label in ("²", "٣", "１"):
        path = tmp_path / "m.jsonl"
        path.write_text(json.dumps({"id": "u1", "language": "eng", "label": label, "split": "train", "audio": "a"}))
        try:
            load_manifest(path, LABELS, LANGS)
        except DataError as error:
            assert error.field == "label" and "item 'u1'" in error.where and label in error.problem
        else:
            raise AssertionError(f"label {label!r} loaded")
