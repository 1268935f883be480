"""Each real dataset loads its local replica, offline, through the real hub client (``hf_hub_download``).

Replicas (``hub_replicas.py``) are laid out as a hub cache in a temporary ``HF_HUB_CACHE`` with
``HF_HUB_OFFLINE=1``, in the real repositories' file names, columns, features and label orders.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from jsonargparse import ArgumentParser

from speech.audio import SAMPLE_RATE, load_audio
from speech.sources import SPEECHTAXI_LABELS, SpeechTaxi
from tests.helpers.hub_replicas import SPLIT_OF, TEXTS, VERSES, speechtaxi_recording, speechtaxi_repo
from workbench.data.sources import CorpusSource
from workbench.errors import DataError

REPO = Path(__file__).resolve().parents[1]


def source_from(config_file: Path, **overrides) -> CorpusSource:
    """The data source (``data.source``) of a shipped config, built as the program builds it."""
    config = yaml.safe_load(config_file.read_text())["data"]["source"]
    config["init_args"].update(overrides)
    parser = ArgumentParser()
    parser.add_subclass_arguments(CorpusSource, "source")
    return parser.instantiate_classes(parser.parse_object({"source": config})).source


# -- SpeechTaxi ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("layout", ["split_files", "split_column"])
def test_speechtaxi_replica_loads_through_the_shipped_config(hub_cache, tmp_path, layout):
    speechtaxi_repo(hub_cache, layout=layout)
    languages = ["eng", "rus", "tw-akuapem"]
    source = source_from(REPO / "configs/speechtaxi.yaml", languages=languages, cache_dir=str(tmp_path / "c"))
    corpus = source.load()
    assert corpus.label_names == SPEECHTAXI_LABELS
    assert corpus.languages == sorted(languages)
    assert corpus.counts()["tw-akuapem"] == {"dev": 2, "test": 2, "train": 8}
    by_key = {(i.language, i.content_id): i for i in corpus.items}
    for language in languages:
        for index, verse in enumerate(VERSES):
            item = by_key[(language, verse)]
            assert item.split == SPLIT_OF[verse]
            assert item.label == index % 6  # ClassLabel index -> Recommendation, Faith, ... in the dataset's order
            assert item.text == TEXTS[language].format(verse)
            assert item.romanized == f"{language} romanized {verse}"  # the dataset's own romanization is kept
    # Verse__1.mp3 / Verse_2.mp3 of two chapters: each row found its own clip, decoded to 16 kHz mono
    clip = load_audio(by_key[("rus", "1CO 2:3")].audio, max_seconds=None)
    assert clip.dtype == np.float32 and clip.ndim == 1
    assert abs(len(clip) / SAMPLE_RATE - (0.4 + 0.05 * 8)) < 0.08  # MP3 padding: a few ms either side
    spectrum = np.abs(np.fft.rfft(clip))
    assert abs(np.argmax(spectrum) * SAMPLE_RATE / len(clip) - (200 + 40 * 8 + 7 * 1)) < 5
    assert corpus.meta["skipped"]["skipped"] == 0


def test_speechtaxi_prepare_is_idempotent_and_resumable(hub_cache, tmp_path):
    from speech.speechtaxi import prepare_speechtaxi

    speechtaxi_repo(hub_cache)
    cache = tmp_path / "c"
    first = prepare_speechtaxi(languages=["eng"], cache_dir=cache)
    folder = Path(first.meta["prepared"]) / "eng"
    stamps = {p: p.stat().st_mtime_ns for p in (folder / "audio").iterdir()}
    # a crash mid-language: the marker and one clip are gone, the other clips stay
    (folder / "items.jsonl").unlink()
    lost = sorted(stamps)[0]
    lost.unlink()
    again = prepare_speechtaxi(languages=["eng"], cache_dir=cache)
    assert [i.to_dict() for i in again.items] == [i.to_dict() for i in first.items]
    assert lost.is_file() and all(p.stat().st_mtime_ns == t for p, t in stamps.items() if p != lost)
    # prepared: the hub is not needed any more
    for path in hub_cache.rglob("*.zip"):
        path.unlink()
    assert len(prepare_speechtaxi(languages=["eng"], cache_dir=cache).items) == len(VERSES)


def test_speechtaxi_unknown_table_layout_names_the_archive_and_what_it_holds(hub_cache, tmp_path):
    speechtaxi_repo(hub_cache, layout="unknown")
    with pytest.raises(DataError, match=r"tables\.zip.*tables/verses\.csv: columns \['verse_ref'"):
        SpeechTaxi(languages=["eng"], cache_dir=str(tmp_path)).load()


def test_speechtaxi_not_in_cache_offline_says_so(hub_cache, tmp_path):
    with pytest.raises(DataError, match="tables.zip.*not in the local hub cache"):
        SpeechTaxi(languages=["eng"], cache_dir=str(tmp_path)).load()


def test_speechtaxi_missing_clip_is_named_or_skipped(hub_cache, tmp_path):
    import zipfile

    snapshot = speechtaxi_repo(hub_cache, languages=("eng",))
    data = snapshot / "data.zip"
    with zipfile.ZipFile(data) as archive:
        kept = {n: archive.read(n) for n in archive.namelist() if n != speechtaxi_recording("eng", "1CO 1:4")}
    with zipfile.ZipFile(data, "w") as archive:
        for name, payload in kept.items():
            archive.writestr(name, payload)
    with pytest.raises(DataError, match=r"item 'eng-1CO 1:4' field 'audio'.*not found"):
        SpeechTaxi(languages=["eng"], cache_dir=str(tmp_path / "a")).load()
    corpus = SpeechTaxi(languages=["eng"], cache_dir=str(tmp_path / "b"), on_bad_item="skip").load()
    assert len(corpus.items) == len(VERSES) - 1 and corpus.meta["skipped"]["skipped"] == 1


def test_prepare_command_offline(hub_cache, tmp_path):
    speechtaxi_repo(hub_cache)
    env = {**os.environ, "HF_HUB_CACHE": str(hub_cache), "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "speech.corpora", "prepare", "speechtaxi", "--languages", "eng", "tw-akuapem"]
    result = subprocess.run(
        [*command, "--cache-dir", str(tmp_path / "c")], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "24 items, 0 skipped" in result.stdout and "tw-akuapem" in result.stdout


def test_speechtaxi_configs_list_the_28_languages():
    from speech.speechtaxi import LANGUAGES

    assert len(LANGUAGES) == 28 and "hin" not in LANGUAGES
    for config in ("configs/speechtaxi.yaml", "configs/cascade/speechtaxi.yaml"):
        data = yaml.safe_load((REPO / config).read_text())["data"]
        assert data["source"]["init_args"]["languages"] == LANGUAGES, config
    sweep = yaml.safe_load((REPO / "configs/sweeps/speechtaxi.yaml").read_text())
    assert "configs/encoder/xlsr.yaml" in sweep["systems"]["e2e-xlsr"]["configs"]
    assert {lang for (lang,) in sweep["protocols"]["in_language"]} <= set(LANGUAGES)


# -- parquet repositories --------------------------------------------------------------------------------------------
DATA = REPO / "configs" / "data"


def test_sib_fleurs_replica_one_item_per_recording(hub_cache, tmp_path):
    from tests.helpers.hub_replicas import SIB_SPLITS, SIB_TOPICS, sib_fleurs_repo

    sib_fleurs_repo(hub_cache)
    source = source_from(DATA / "sib_fleurs.yaml", configs=["eng_Latn", "rus_Cyrl"], cache_dir=str(tmp_path))
    corpus = source.load()
    assert corpus.label_names == SIB_TOPICS  # from the files' ClassLabel, in its order
    recordings = {split: sum(1 + i % 3 for i in ids) for split, ids in SIB_SPLITS.items()}
    assert corpus.languages == ["eng", "rus"]  # ISO 639-3, whatever the hub calls them
    assert corpus.counts()["rus"] == {
        "train": recordings["train"],
        "dev": recordings["validation"],
        "test": recordings["test"],
    }
    # sentence 5 has three recordings: three items, one content id, ids suffixed per recording
    five = sorted((i for i in corpus.items if i.content_id == "705"), key=lambda i: i.id)
    assert [i.id for i in five if i.language == "eng"] == [f"eng_Latn-train-1005-r{k}" for k in range(3)]
    assert {(i.language, i.hub_language) for i in five} == {("eng", "eng_Latn"), ("rus", "rus_Cyrl")}
    assert {i.label for i in five} == {5 % 7}
    assert five[0].text == "eng_Latn sentence 5" and five[0].romanized == "eng_Latn sentence 5"  # derived (uroman)
    assert len({i.audio for i in five}) == 6  # every recording its own clip
    clip = load_audio(five[1].audio)
    assert abs(len(clip) - int((0.3 + 0.02 * 1) * SAMPLE_RATE)) <= 1


def test_speech_massive_replica_split_map_and_test_repository(hub_cache, tmp_path, monkeypatch):
    from tests.helpers.hub_replicas import MASSIVE_SCENARIOS, speech_massive_repos

    speech_massive_repos(hub_cache)
    source = source_from(DATA / "speech_massive.yaml", configs=["de-DE", "ko-KR"], cache_dir=str(tmp_path))
    corpus = source.load()
    assert corpus.label_names == MASSIVE_SCENARIOS
    # de-DE trains on the full train split, ko-KR on train_115; validation -> dev; test from the second repository
    assert corpus.counts() == {
        "deu": {"dev": 3, "test": 3, "train": 10},
        "kor": {"dev": 3, "test": 3, "train": 4},
    }
    assert {i.hub_language for i in corpus.items} == {"de-DE", "ko-KR"}  # the locale, kept for traceability
    # translations share content ids: every content of ko-KR is also a content of de-DE, in the same split
    by_language = {lang: {(i.content_id, i.split) for i in corpus.where(None, [lang])} for lang in corpus.languages}
    assert by_language["kor"] <= by_language["deu"] and len(by_language["kor"]) == 10


def test_speech_massive_gated_test_repository_not_available_is_explained(hub_cache, tmp_path):
    import shutil

    from tests.helpers.hub_replicas import speech_massive_repos

    speech_massive_repos(hub_cache)
    shutil.rmtree(hub_cache / "datasets--FBK-MT--Speech-MASSIVE-test")
    source = source_from(DATA / "speech_massive.yaml", configs=["ko-KR"], cache_dir=str(tmp_path))
    with pytest.raises(DataError, match="Speech-MASSIVE-test.*not in the local hub cache"):
        source.load()


def test_minds14_replica_8khz_and_class_labels_from_the_files(hub_cache, tmp_path):
    from tests.helpers.hub_replicas import MINDS_INTENTS, minds14_repo

    minds14_repo(hub_cache)
    source = source_from(DATA / "minds14.yaml", configs=["en-US", "fr-FR"], cache_dir=str(tmp_path))
    corpus = source.load()
    assert corpus.label_names == MINDS_INTENTS
    assert corpus.languages == ["eng", "fra"]  # lang_id's ClassLabel index -> its name -> ISO 639-3
    assert len(corpus.items) == 24 and {i.split for i in corpus.items} <= {"train", "dev", "test"}
    first = next(i for i in corpus.items if i.id == "fr-FR-train-3")
    assert first.label == 3 and first.text == "fr-FR words 3" and first.hub_language == "fr-FR"
    assert len(load_audio(first.audio)) == int(0.4 * SAMPLE_RATE)  # 8 kHz resampled to 16 kHz


def test_speechtaxi_revision_is_pinnable(hub_cache, tmp_path):
    snapshot = speechtaxi_repo(hub_cache, languages=("eng",))
    corpus = SpeechTaxi(languages=["eng"], revision=snapshot.name, cache_dir=str(tmp_path)).load()
    assert len(corpus.items) == len(VERSES)
    with pytest.raises(DataError, match="tables.zip.*not in the local hub cache"):
        SpeechTaxi(languages=["eng"], revision="0" * 40, cache_dir=str(tmp_path)).load()
