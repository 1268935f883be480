"""The embedded default dataset: determinism, splits, scripts, audio, caching, CLI.

Audio tests use a tiny build (3 languages of 3 scripts, 25 utterances each); the split
guarantees are also checked on the full default plan, which needs no audio.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from speech import embedded
from speech.embedded import build_embedded, embedded_dir, load_embedded
from workbench.data.cldr_text import CLASSES, DEFAULT_LANGUAGES, LANGUAGES, clean_name, item_names
from workbench.data.embedded import (
    EmbeddedSettings,
    is_built,
    plan_rows,
    protocol_languages,
    tiny_settings,
    wanted_languages,
)
from workbench.data.plan import HOLDOUT_CLASSES
from workbench.errors import ConfigError
from workbench.io import read_json, read_jsonl
from workbench.items import SPLITS
from workbench.protocols import Protocol

REPO = Path(__file__).resolve().parents[1]
SMALL = tiny_settings(
    languages=("eng", "rus", "tha"),
    per_language=12,
    dev_per_language=3,
    test_per_language=6,
    test_unseen_per_language=4,
)
SCRIPT_BLOCKS = {  # letters of each script, written out here independently of the code under test
    "eng": [(0x41, 0x5A), (0x61, 0x7A)],
    "deu": [(0x41, 0x5A), (0x61, 0x7A), (0xC0, 0x24F)],
    "spa": [(0x41, 0x5A), (0x61, 0x7A), (0xC0, 0x24F)],
    "rus": [(0x400, 0x4FF)],
    "ell": [(0x370, 0x3FF), (0x1F00, 0x1FFF)],
    "hin": [(0x900, 0x97F)],
    "kat": [(0x10A0, 0x10FF)],
    "tha": [(0xE00, 0xE7F)],
}
ASCIIISH = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ,.'-")


def letters_in(text: str, language: str) -> bool:
    blocks = SCRIPT_BLOCKS[language]
    return all(any(lo <= ord(c) <= hi for lo, hi in blocks) for c in text if c.isalpha())


def file_digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*.flac"))
    }


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("embedded-a")


@pytest.fixture(scope="module")
def built(root) -> Path:
    return build_embedded(SMALL, root)


@pytest.fixture(scope="module")
def rows(built) -> list[dict]:
    return read_jsonl(built / "manifest.jsonl")


# --- determinism -------------------------------------------------------------------


def test_same_seed_same_bytes_in_another_folder(built, tmp_path):
    again = build_embedded(SMALL, tmp_path)
    assert again.name == built.name
    assert (again / "manifest.jsonl").read_bytes() == (built / "manifest.jsonl").read_bytes()
    digests = file_digests(built)
    assert len(digests) == 3 * 25
    assert file_digests(again) == digests


def test_other_seed_other_data(built, tmp_path):
    other = build_embedded(replace(SMALL, seed=1), tmp_path)
    assert other.name != built.name
    first, second = read_jsonl(built / "manifest.jsonl"), read_jsonl(other / "manifest.jsonl")
    assert [r["content_id"] for r in first] != [r["content_id"] for r in second]
    assert set(file_digests(built).values()).isdisjoint(file_digests(other).values())


# --- counts, classes, scripts, text ------------------------------------------------------


def test_counts_per_language_split_and_class(built, rows):
    corpus = load_embedded(SMALL, built.parent)
    assert corpus.label_names == list(CLASSES)
    expected = {"train": 12, "dev": 3, "test": 6, "test_unseen": 4}
    assert corpus.counts() == {lang: expected for lang in ("eng", "rus", "tha")}
    per_class = Counter((r["language"], r["split"], r["label"]) for r in rows)
    for lang in SMALL.languages:
        assert [per_class[lang, "train", c] for c in CLASSES] == [2] * 6  # balanced classes
        assert {c for (lg, s, c) in per_class if lg == lang and s == "test_unseen"} <= set(HOLDOUT_CLASSES)
    meta = read_json(built / "dataset.json")
    assert meta["per_language"]["rus"] == expected and meta["utterances"] == 75
    assert meta["size_bytes"] > 0 and meta["build_seconds"] > 0
    assert corpus.meta["held_out"] == meta["held_out"]


def test_text_is_in_the_language_script_and_romanized_is_latin(rows):
    for r in rows:
        assert letters_in(r["text"], r["language"]), r
        assert r["romanized"] and set(r["romanized"]) <= ASCIIISH, r
        assert 2 <= len(r["items"]) == len(r["text"].split(", ")) <= 4
    assert any(r["romanized"] != r["text"] for r in rows if r["language"] == "rus")


def test_default_languages_cover_five_scripts_with_clean_names():
    assert DEFAULT_LANGUAGES == ("eng", "deu", "spa", "rus", "ell", "hin", "kat", "tha")
    assert len({LANGUAGES[code].script for code in DEFAULT_LANGUAGES}) >= 5
    for language in DEFAULT_LANGUAGES:
        names = item_names(language)
        assert list(names) == list(CLASSES)
        assert [len(names[c]) for c in CLASSES] == [12, 7, 30, 20, 25, 20]
        for by_key in names.values():
            for name in by_key.values():
                assert letters_in(name, language), (language, name)
                assert not set(name) & set("(),-{}0123456789"), (language, name)
    assert item_names("rus")["months"]["jan"] == "январь"  # stand-alone, not genitive "января"
    assert item_names("eng")["units"]["length-kilometer"] == "kilometer"
    assert item_names("eng")["weekdays"]["sun"] == "Sunday"
    assert clean_name("ปอนด์สเตอร์ลิง (สหราชอาณาจักร)") == "ปอนด์สเตอร์ลิง"


def test_every_supported_language_has_all_names():
    for language in LANGUAGES:
        assert all(len(v) == len(set(v.values())) for v in item_names(language).values())


# --- splits ------------------------------------------------------------------------


def check_splits(records: list[dict], held_out: dict[str, list[str]]) -> None:
    split_of: dict[str, set[str]] = {}
    for r in records:
        split_of.setdefault(r["content_id"], set()).add(r["split"])
    shared = {cid: s for cid, s in split_of.items() if len(s) > 1}
    assert not shared, f"content ids in several splits: {list(shared)[:5]}"
    held = {(cls, key) for cls, keys in held_out.items() for key in keys}
    for r in records:
        named = {(r["label"], key) for key in r["items"]}
        if r["split"] == "test_unseen":
            assert named & held, r
        else:
            assert not named & held, r
        assert r["content_id"] == r["label"] + ":" + "+".join(sorted(r["items"]))


def test_splits_disjoint_by_content_and_held_out_items_never_trained(built, rows):
    check_splits(rows, read_json(built / "dataset.json")["held_out"])


def test_full_default_plan_has_the_same_guarantees():
    planned, held = plan_rows(EmbeddedSettings())
    records = [
        {"content_id": r.content.content_id, "split": r.split, "label": r.content.cls, "items": list(r.content.keys)}
        for r in planned
    ]
    check_splits(records, {c: list(k) for c, k in held.items()})
    assert len(planned) == 8 * (600 + 60 + 150 + 100)
    for cls in HOLDOUT_CLASSES:
        total = len(item_names("eng")[cls])
        assert round(0.25 * total) == len(held[cls])
    trained = {(r["label"], k) for r in records if r["split"] == "train" for k in r["items"]}
    assert not trained & {(c, k) for c, keys in held.items() for k in keys}


def test_same_content_is_parallel_across_languages(rows):
    by_id: dict[str, dict[str, dict]] = {}
    for r in rows:
        by_id.setdefault(r["id"].split("-", 1)[1], {})[r["language"]] = r
    for versions in by_id.values():
        assert {v["content_id"] for v in versions.values()} == {next(iter(versions.values()))["content_id"]}
        assert len({tuple(v["items"]) for v in versions.values()}) == 1


def test_train_and_test_voices_are_disjoint(rows):
    variant = {split: {r["voice"].split("+")[1] for r in rows if r["split"] == split} for split in SPLITS}
    assert variant["train"] <= set(SMALL.train_voices)
    for split in ("dev", "test", "test_unseen"):
        assert variant[split] <= set(SMALL.test_voices)
    for r in rows:
        assert 130 <= r["rate"] <= 220 and 25 <= r["pitch"] <= 75 and 30 <= r["pitch_range"] <= 90


# --- audio -------------------------------------------------------------------------


def test_audio_is_16khz_mono_int16_flac_finite_and_not_silent(built, rows):
    for r in rows:
        path = built / r["audio"]
        info = sf.info(str(path))
        assert (info.samplerate, info.channels, info.format, info.subtype) == (16000, 1, "FLAC", "PCM_16")
        audio, _ = sf.read(str(path), dtype="float32")
        assert audio.ndim == 1 and np.isfinite(audio).all()
        assert 0.25 <= np.abs(audio).max() <= 1.0  # peaks are drawn from (0.3, 0.9)
        assert np.sqrt(np.mean(audio**2)) > 0.01
        assert abs(len(audio) / 16000 - r["duration_s"]) < 1e-3
        assert 0.5 < r["duration_s"] < 15


# --- caching, resume, settings ---------------------------------------------------------


def test_second_call_reuses_the_build(built, monkeypatch):
    stamp = (built / "dataset.json").stat().st_mtime_ns
    audio_stamps = {p: p.stat().st_mtime_ns for p in built.rglob("*.flac")}

    def no_rebuild(*args, **kwargs):
        raise AssertionError("rebuilt a finished dataset")

    monkeypatch.setattr(embedded, "_build", no_rebuild)
    assert build_embedded(SMALL, built.parent) == built
    assert len(load_embedded(SMALL, built.parent).items) == 75
    assert (built / "dataset.json").stat().st_mtime_ns == stamp
    assert {p: p.stat().st_mtime_ns for p in built.rglob("*.flac")} == audio_stamps


def test_unfinished_build_is_resumed(built, tmp_path):
    folder = build_embedded(SMALL, tmp_path)
    stamps = {p: p.stat().st_mtime_ns for p in folder.rglob("*.flac")}
    lost = folder / "audio" / "tha" / "tha-train-0003.flac"
    original = lost.read_bytes()
    lost.unlink()
    (folder / "dataset.json").unlink()  # as if the build was killed before finishing
    (folder / "audio" / "tha" / ".tha-train-0004.flac.x.tmp").write_bytes(b"partial")
    assert not is_built(folder)
    assert build_embedded(SMALL, tmp_path) == folder and is_built(folder)
    assert lost.read_bytes() == original
    assert not list(folder.rglob("*.tmp"))
    kept = {p: t for p, t in stamps.items() if p != lost}
    assert {p: p.stat().st_mtime_ns for p in kept} == kept  # finished files were not redone
    assert (folder / "manifest.jsonl").read_bytes() == (built / "manifest.jsonl").read_bytes()


def test_partial_build_loads_only_the_protocols_languages_then_completes(built, tmp_path):
    corpus = load_embedded(SMALL, tmp_path, languages=["rus"])
    folder = embedded_dir(SMALL, tmp_path)
    assert corpus.languages == ["rus"] and corpus.meta["partial"] and corpus.name == built.name
    assert not is_built(folder) and sorted(p.name for p in (folder / "audio").iterdir()) == ["rus"]
    full = load_embedded(SMALL, built.parent)
    assert [i.id for i in corpus.items] == [i.id for i in full.where(languages=["rus"])]
    assert [i.romanized for i in corpus.items] == [i.romanized for i in full.where(languages=["rus"])]
    assert all(Path(i.audio).is_file() and Path(i.audio).parent == folder / "audio" / "rus" for i in corpus.items)
    # in_language on Russian selects the same items from the part as from the whole dataset
    protocol = Protocol("in_language", sources=["rus"])
    for split in ("train", "dev", "test", "test_unseen"):
        assert [i.id for i in protocol.select(corpus)[split]] == [i.id for i in protocol.select(full)[split]], split
    # the whole build reuses the finished part: Russian is not synthesized again, bytes are equal
    stamps = {p: p.stat().st_mtime_ns for p in (folder / "audio" / "rus").iterdir()}
    assert build_embedded(SMALL, tmp_path) == folder and is_built(folder)
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    assert (folder / "manifest.jsonl").read_bytes() == (built / "manifest.jsonl").read_bytes()
    assert file_digests(folder) == file_digests(built)


def test_protocol_languages_and_the_embedded_source(tmp_path):
    from speech.sources import Embedded

    source = Embedded(root=str(tmp_path), languages=["eng", "rus"], per_language=6, tiny=True)
    corpus = source.load_for(Protocol("in_language", sources=["eng"]))  # the data modules' call
    assert corpus.languages == ["eng"] and corpus.meta["partial"]
    assert not (embedded_dir(source.settings(), tmp_path) / "audio" / "rus").exists()
    assert protocol_languages(Protocol("in_language", sources=["eng"])) == ["eng"]
    assert protocol_languages(Protocol("zero_shot", sources=["eng"])) is None  # tests on every language
    assert protocol_languages(Protocol("zero_shot", sources=["eng"], targets=["rus"])) == ["eng", "rus"]
    assert protocol_languages(Protocol("all_languages")) is None
    assert wanted_languages(SMALL, ["tha", "eng"]) == ("eng", "tha")  # settings order
    assert wanted_languages(SMALL, ["eng", "rus", "tha"]) is None  # all of them: the whole build
    assert wanted_languages(SMALL, ["eng", "xyz"]) is None  # unknown: the protocol reports it


def test_settings_change_means_new_folder(tmp_path):
    base = embedded_dir(SMALL, tmp_path)
    assert embedded_dir(tiny_settings(**{**SMALL.to_dict()}), tmp_path) == base  # lists become tuples
    for change in ({"seed": 3}, {"per_language": 13}, {"languages": ("eng", "rus")}, {"test_voices": ("f5",)}):
        assert embedded_dir(replace(SMALL, **change), tmp_path) != base, change
    assert base.name.startswith("embedded-")


@pytest.mark.parametrize(
    "bad",
    [
        {"languages": ("eng", "xyz")},
        {"languages": ("eng", "eng")},
        {"test_voices": ("m1",)},
        {"rate": (220, 130)},
        {"per_language": 0},
    ],
)
def test_invalid_settings_are_config_errors(bad):
    with pytest.raises(ConfigError):
        tiny_settings(**bad)


def test_tiny_settings_for_other_tests():
    tiny = tiny_settings()
    assert tiny.languages == ("eng", "deu", "rus", "tha")
    assert 16 <= tiny.per_language <= 24 and tiny.test_per_language <= 12
    assert tiny_settings(seed=5).seed == 5


# --- command line ----------------------------------------------------------------------


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run(
        [sys.executable, "-m", "speech.corpora", *args], capture_output=True, text=True, env=env, cwd=REPO, timeout=300
    )


def test_cli_builds_and_reports(built):
    small = ["--languages", "eng", "rus", "tha", "--per-language", "12", "--dev", "3", "--test", "6"]
    result = run_cli("build", "--root", str(built.parent), *small, "--test-unseen", "4", "--seed", "0", "--quiet")
    assert result.returncode == 0, result.stderr
    assert str(built) in result.stdout  # same settings, same folder: found cached
    assert "cached" in result.stdout and "size on disk" in result.stdout
    for line in ("rus", "tha", "territories"):
        assert any(row.split()[0] == line for row in result.stdout.splitlines() if row.strip()), line


def test_cli_rejects_an_unknown_language(tmp_path):
    result = run_cli("build", "--root", str(tmp_path), "--languages", "eng", "klingon", "--quiet")
    assert result.returncode == 2 and "klingon" in result.stderr
    assert not list(tmp_path.iterdir())
