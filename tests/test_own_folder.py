"""A researcher's own data by config alone: manifests and AudioFolders with their own column names and split
spellings, every item's audio checked once before training (cached by digest), romanization derived."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from speech.checks import AudioChecks
from speech.sources import AudioFolder
from tests.helpers.audio_fixtures import bad_audio, tone, write_audio
from workbench.data.sources import Manifest
from workbench.errors import ConfigError, DataError


def flat_folder(root: Path, split_names=("train", "validation", "test")) -> Path:
    """HF AudioFolder, flat: metadata.csv with file_name + columns, files in arbitrary subfolders."""
    rows = ["file_name,label,lang,transcription,split"]
    for i in range(6):
        name = f"clips/{'a' if i % 2 else 'b'}/deep/{i}.wav"
        write_audio(root / name, tone(0.3, freq=200 + 40 * i))
        lang, words = ("rus", "привет мир") if i % 2 else ("ell", "γεια σου")
        rows.append(f"{name},{['yes', 'no'][i % 2]},{lang},{words} {i},{split_names[i % 3]}")
    (root / "metadata.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return root


def test_flat_audio_folder_with_a_column_map_and_validation_split(tmp_path):
    root = flat_folder(tmp_path / "corpus")
    source = AudioFolder(
        str(root), columns={"language": "lang", "text": "transcription"}, cache_dir=str(tmp_path / "cache")
    )
    corpus = source.load()
    assert corpus.label_names == ["no", "yes"]
    by_id = {i.id: i for i in corpus.items}
    item = by_id["clips-a-deep-1"]
    assert item.language == "rus" and item.split == "dev" and item.label == 0 and item.text == "привет мир 1"
    assert item.romanized == "privet mir 1"  # derived with uroman, the item's language mapped to its code
    assert by_id["clips-b-deep-2"].split == "test" and by_id["clips-b-deep-0"].romanized.startswith("geia")
    assert corpus.meta["romanized"]["derived"] == 6 and corpus.meta["skipped"]["skipped"] == 0


def test_unknown_split_is_named_with_the_accepted_ones(tmp_path):
    root = flat_folder(tmp_path / "corpus", split_names=("train", "holdout", "test"))
    with pytest.raises(DataError, match=r"file 'clips/a/deep/1.wav' field 'split'.*'holdout'.*'validation'"):
        AudioFolder(str(root), columns={"language": "lang"}, cache_dir=str(tmp_path / "c")).load()


def test_nested_audio_folder_split_aliases(tmp_path):
    for split, label, name in [("train", "cat", "a"), ("valid", "dog", "b"), ("val", "cat", "c")]:
        write_audio(tmp_path / "f" / split / label / f"{name}.flac", tone(0.2), fmt="FLAC")
    corpus = AudioFolder(str(tmp_path / "f"), language="deu", cache_dir=str(tmp_path / "c")).load()
    assert {i.id: i.split for i in corpus.items} == {"train-cat-a": "train", "valid-dog-b": "dev", "val-cat-c": "dev"}


def test_manifest_column_map(tmp_path):
    write_audio(tmp_path / "a.wav", tone(0.3))
    write_audio(tmp_path / "b.wav", tone(0.3, freq=300))
    rows = [
        {"utt": "u1", "wav": "a.wav", "lang": "eng", "intent": "yes", "part": "validation", "sentence": "hello"},
        {"utt": "u2", "wav": "b.wav", "lang": "eng", "intent": "no", "part": "train", "sentence": "world"},
    ]
    path = tmp_path / "m.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    columns = {"id": "utt", "audio": "wav", "language": "lang", "label": "intent", "split": "part", "text": "sentence"}
    corpus = Manifest(str(path), columns=columns, cache_dir=str(tmp_path / "c")).load()
    assert [(i.id, i.split, i.text, i.romanized) for i in corpus.items] == [
        ("u1", "dev", "hello", "hello"),
        ("u2", "train", "world", "world"),
    ]
    with pytest.raises(DataError, match=r"columns mapped.*field 'language, label, split, audio\|image\|text': missing"):
        Manifest(str(path), columns={"id": "utt"}, cache_dir=str(tmp_path / "c")).load()


def test_unknown_language_romanization_is_an_error_or_counted(tmp_path):
    write_audio(tmp_path / "a.wav", tone(0.3))
    line = {"id": "u1", "audio": "a.wav", "language": "xx-private", "label": "yes", "split": "train", "text": "Ñandú"}
    path = tmp_path / "m.jsonl"
    path.write_text(json.dumps(line) + "\n")
    with pytest.raises(ConfigError, match="language 'xx-private' has no uroman code.*language_independent"):
        Manifest(str(path), cache_dir=str(tmp_path / "c")).load()
    corpus = Manifest(str(path), cache_dir=str(tmp_path / "c"), unknown_language="language_independent").load()
    assert corpus.items[0].romanized == "Nandu"
    stats = {"derived": 1, "language_independent": 1, "languages_without_code": ["xx-private"]}
    assert corpus.meta["romanized"] == stats


# -- audio checked once, before training ------------------------------------------------------------------------
def manifest_with(tmp_path: Path, bad: dict[str, tuple[Path, str]]) -> Path:
    rows = []
    for i in range(4):
        write_audio(tmp_path / "good" / f"{i}.wav", tone(0.3, freq=200 + 50 * i))
        rows.append({"id": f"good{i}", "audio": f"good/{i}.wav", "language": "eng", "label": "yes", "split": "train"})
    for name, (path, _) in bad.items():
        rows.append({"id": name, "audio": str(path), "language": "eng", "label": "no", "split": "train"})
    path = tmp_path / "m.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.parametrize("kind", ["fake", "empty", "truncated", "nan"])
def test_each_audio_fault_is_named_or_skipped_and_counted(tmp_path, kind):
    bad = {kind: bad_audio(tmp_path / "bad")[kind]}
    path = manifest_with(tmp_path, bad)
    with pytest.raises(DataError, match=rf"item '{kind}' field 'audio': {bad[kind][1]}"):
        Manifest(str(path), cache_dir=str(tmp_path / "c")).load()
    corpus = Manifest(str(path), cache_dir=str(tmp_path / "c"), on_bad_item="skip").load()
    assert [i.id for i in corpus.items] == [f"good{i}" for i in range(4)]
    assert corpus.meta["skipped"]["skipped"] == 1 and kind in next(iter(corpus.meta["skipped"]["items"]))


def test_audio_checks_are_cached_by_digest(tmp_path):
    path = manifest_with(tmp_path, bad_audio(tmp_path / "bad"))
    Manifest(str(path), cache_dir=str(tmp_path / "c"), on_bad_item="skip").load()
    checks = AudioChecks(tmp_path / "c")
    assert len(checks.verdicts) == 8
    for i in range(4):
        assert checks.fault(str(tmp_path / "good" / f"{i}.wav")) is None
    assert checks.decoded == 0  # a rerun decodes nothing
    # a changed file is a new digest: checked again
    write_audio(tmp_path / "good" / "0.wav", np.zeros(1600, dtype=np.float32))
    assert checks.fault(str(tmp_path / "good" / "0.wav")) == "audio is silent, all samples ~0"
    assert checks.decoded == 1
