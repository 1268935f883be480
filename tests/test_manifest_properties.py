"""Property-based tests of manifest parsing: any row either loads faithfully or fails naming its item and field."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.data.manifest import load_manifest
from workbench.errors import DataError

LABELS = ["alpha", "beta", "gamma"]
LANGS = ["eng", "rus", "tha"]

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)
row = st.fixed_dictionaries(
    {
        "id": st.one_of(text, st.integers(0, 10**6).map(str)),
        "language": st.one_of(st.sampled_from(LANGS), text),
        "label": st.one_of(st.sampled_from(LABELS), st.integers(-2, 5).map(str), text),
        "split": st.one_of(st.sampled_from(["train", "dev", "test", "test_unseen"]), text),
        "audio": text,
    },
    optional={"content_id": text, "text": text, "romanized": text},
)


def expected_fault(r: dict) -> str | None:
    for column in ("id", "language", "label", "split"):
        if r[column] == "":
            return column
    if r["language"] not in LANGS:
        return "language"
    if r["label"] not in LABELS and not (r["label"].isdigit() and 0 <= int(r["label"]) < len(LABELS)):
        return "label"
    if r["split"] not in ("train", "dev", "test", "test_unseen"):
        return "split"
    return None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
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
                assert item.language == r["language"] and item.split == r["split"]
                assert LABELS[item.label] == r["label"] or str(item.label) == r["label"]
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
