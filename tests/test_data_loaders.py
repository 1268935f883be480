"""Each loader on local fixtures in its real schema: SpeechTaxi, `datasets` column maps, manifests, AudioFolder."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
from jsonargparse import ArgumentParser

from speech.audio import SAMPLE_RATE, load_audio
from speech.sources import SPEECHTAXI_LABELS, AudioFolder, HFDataset, SpeechTaxi
from tests.helpers.audio_fixtures import save_hf_dataset, speechtaxi_rows, tone, wav_bytes, write_audio
from workbench.data.sources import CorpusSource, Manifest
from workbench.errors import ConfigError, DataError

VERSES = [f"GEN 1:{i}" for i in range(1, 13)]
SPLIT_OF = {"train": VERSES[:8], "dev": VERSES[8:10], "test": VERSES[10:]}


@pytest.fixture(scope="module")
def speechtaxi_dir(tmp_path_factory) -> Path:
    """A local copy in the SpeechTaxi schema: the same verses in every language config."""
    root = tmp_path_factory.mktemp("speechtaxi")
    for language in ("eng", "rus", "hin"):
        splits = {
            split: speechtaxi_rows(language, verses, [SPEECHTAXI_LABELS[VERSES.index(v) % 6] for v in verses])
            for split, verses in SPLIT_OF.items()
        }
        save_hf_dataset(root / language, splits)
    return root


def test_speechtaxi_local_copy(speechtaxi_dir, tmp_path):
    corpus = SpeechTaxi(path=str(speechtaxi_dir), languages=["eng", "rus", "hin"], cache_dir=str(tmp_path)).load()
    assert corpus.label_names == SPEECHTAXI_LABELS
    assert corpus.languages == ["eng", "hin", "rus"]
    assert corpus.counts()["rus"] == {"dev": 2, "test": 2, "train": 8}
    by_verse = {(i.language, i.content_id): i for i in corpus.items}
    item = by_verse[("rus", "GEN 1:11")]
    assert item.split == "test" and item.label == SPEECHTAXI_LABELS.index(SPEECHTAXI_LABELS[10 % 6])
    assert item.text == "rus transcription GEN 1:11" and item.romanized == "rus romanized GEN 1:11"
    audio = load_audio(item.audio)
    assert audio.dtype == np.float32 and abs(len(audio) / SAMPLE_RATE - (0.3 + 0.05 * 0)) < 0.2
    # the same verse shares its content id in every language
    assert {i.content_id for i in corpus.where("test")} == set(SPLIT_OF["test"])


def minds14_fixture(root: Path) -> Path:
    intents = ["abroad", "address", "balance"]
    rows = {
        "path": [f"en-US/{i}.wav" for i in range(9)],
        "audio": [{"bytes": wav_bytes(tone(0.4, 8000, 300 + 10 * i), 8000), "path": None} for i in range(9)],
        "transcription": [f"utterance {i}" for i in range(9)],
        "english_transcription": [f"utterance {i}" for i in range(9)],
        "intent_class": [i % 3 for i in range(9)],
        "lang_id": [0] * 9,
    }
    return save_hf_dataset(root / "en-US", {"train": rows}, {"intent_class": intents, "lang_id": ["en-US", "de-DE"]})


def massive_fixture(root: Path) -> Path:
    for locale in ("de-DE", "fr-FR"):
        rows = lambda ids, locale=locale: {  # noqa: E731
            "id": [str(i) for i in ids],
            "locale": [locale] * len(ids),
            "utt": [f"{locale} {i}" for i in ids],
            "scenario": [i % 2 for i in ids],
            "audio": [{"bytes": wav_bytes(tone(0.3, 16000, 200 + i)), "path": None} for i in ids],
        }
        save_hf_dataset(
            root / locale, {"train": rows(range(8)), "validation": rows(range(8, 12))}, {"scenario": ["alarm", "iot"]}
        )
    return root


def sib_fleurs_fixture(root: Path) -> Path:
    topics = ["science/technology", "travel", "politics", "sports", "health", "entertainment", "geography"]
    for config in ("eng_Latn", "deu_Latn"):
        rows = lambda ids, config=config: {  # noqa: E731
            "id": [f"{config}-{i}" for i in ids],
            "index_id": [str(i) for i in ids],
            "category": [topics[i % 7] for i in ids],
            "sentence": [f"sentence {i}" for i in ids],
            "audio": [{"bytes": wav_bytes(tone(0.3, 16000, 250 + i)), "path": None} for i in ids],
        }
        save_hf_dataset(
            root / config, {"train": rows(range(7)), "validation": rows(range(7, 9)), "test": rows(range(9, 11))}
        )
    return root


# The shipped configs/data/*.yaml now read the hubs' parquet files (HubParquet, tested on replicas in
# test_real_sources.py); these column maps keep HFDataset (the `datasets` route) tested on save_to_disk copies.
HF_CONFIGS = {
    "minds14": {
        "class_path": "speech.sources.HFDataset",
        "init_args": {
            "path": "PolyAI/minds14",
            "columns": {"id": "path", "label": "intent_class", "language": "lang_id", "audio": "audio",
                        "text": "transcription"},
            "splits": ["train"],
            "resplit": {"dev": 0.1, "test": 0.2, "seed": 0},
        },
    },
    "speech_massive": {
        "class_path": "speech.sources.HFDataset",
        "init_args": {
            "path": "FBK-MT/Speech-MASSIVE",
            "columns": {"id": "id", "content_id": "id", "label": "scenario", "language": "locale", "audio": "audio",
                        "text": "utt"},
            "splits": ["train", "dev"],
            "resplit": {"dev": 0.1, "test": 0.2, "seed": 0},
        },
    },
    "sib_fleurs": {
        "class_path": "speech.sources.HFDataset",
        "init_args": {
            "path": "WueNLP/sib-fleurs",
            "columns": {"id": "id", "content_id": "index_id", "label": "category", "audio": "audio",
                        "text": "sentence"},
            "label_names": ["science/technology", "travel", "politics", "sports", "health", "entertainment",
                            "geography"],
            "splits": ["train", "dev", "test"],
        },
    },
}  # fmt: skip


def source_from_config(name: str, **overrides) -> CorpusSource:
    """Build a source exactly as a run config does: class_path + init_args, through jsonargparse."""
    config = copy.deepcopy(HF_CONFIGS[name])
    config["init_args"].update(overrides)
    parser = ArgumentParser()
    parser.add_subclass_arguments(CorpusSource, "source")
    parsed = parser.parse_object({"source": config})
    return parser.instantiate_classes(parsed).source


def test_minds14_config_column_map_and_resplit(tmp_path):
    minds14_fixture(tmp_path / "minds14")
    source = source_from_config(
        "minds14", path=str(tmp_path / "minds14"), configs=["en-US"], cache_dir=str(tmp_path / "cache")
    )
    corpus = source.load()
    assert corpus.label_names == ["abroad", "address", "balance"]
    assert corpus.languages == ["eng"]  # the ClassLabel index of lang_id -> its name (en-US) -> ISO 639-3
    assert {i.hub_language for i in corpus.items} == {"en-US"}
    assert len(corpus.items) == 9 and {i.split for i in corpus.items} <= {"train", "dev", "test"}
    assert corpus.items[0].text == "utterance 0"
    assert len(load_audio(corpus.items[0].audio)) == int(0.4 * SAMPLE_RATE)  # 8 kHz resampled to 16 kHz


def test_speech_massive_config(tmp_path):
    massive_fixture(tmp_path / "massive")
    corpus = source_from_config(
        "speech_massive", path=str(tmp_path / "massive"), configs=["de-DE", "fr-FR"], cache_dir=str(tmp_path / "cache")
    ).load()
    assert corpus.languages == ["deu", "fra"] and len(corpus.items) == 24
    # translations share content ids (each content in both languages: fails if ids were unique per language),
    # and re-splitting by content keeps them together
    languages_of, split_of = {}, {}
    for item in corpus.items:
        languages_of.setdefault(item.content_id, set()).add(item.language)
        assert split_of.setdefault(item.content_id, item.split) == item.split
    assert len(languages_of) == 12 and all(langs == {"deu", "fra"} for langs in languages_of.values())


def test_sib_fleurs_config_language_from_config_name(tmp_path):
    sib_fleurs_fixture(tmp_path / "sib")
    corpus = source_from_config(
        "sib_fleurs", path=str(tmp_path / "sib"), configs=["eng_Latn", "deu_Latn"], cache_dir=str(tmp_path / "cache")
    ).load()
    assert corpus.languages == ["deu", "eng"]
    assert corpus.counts()["eng"] == {"dev": 2, "test": 2, "train": 7}
    assert corpus.label_names[corpus.items[1].label] == "travel"


def test_hf_dataset_missing_column_is_named(tmp_path):
    minds14_fixture(tmp_path / "minds14")
    source = HFDataset(
        path=str(tmp_path / "minds14"),
        configs=["en-US"],
        columns={"label": "intent", "audio": "audio"},
        cache_dir=str(tmp_path / "cache"),
    )
    with pytest.raises(DataError, match="intent"):
        source.load()


def write_manifest(path: Path, rows: list[dict]) -> Path:
    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    else:
        columns = list(rows[0])
        lines = [",".join(columns)] + [",".join(str(r.get(c, "")) for c in columns) for r in rows]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def manifest_rows(tmp_path: Path) -> list[dict]:
    rows = []
    for i in range(6):
        write_audio(tmp_path / "audio" / f"{i}.wav", tone(0.3, freq=200 + 50 * i))
        rows.append(
            {
                "id": f"u{i}",
                "content_id": f"c{i % 3}",
                "language": ["eng", "rus"][i % 2],
                "label": ["yes", "no"][i % 2],
                "split": "train" if i < 4 else "test",
                "audio": f"audio/{i}.wav",
                "text": f"text {i}",
            }
        )
    return rows


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_manifest_csv_and_jsonl(tmp_path, suffix):
    path = write_manifest(tmp_path / f"m{suffix}", manifest_rows(tmp_path))
    corpus = Manifest(str(path)).load()
    assert corpus.label_names == ["no", "yes"]
    assert [i.id for i in corpus.items] == [f"u{i}" for i in range(6)]
    assert Path(corpus.items[0].audio).is_absolute() and Path(corpus.items[0].audio).is_file()
    assert corpus.items[3].content_id == "c0" and corpus.items[5].split == "test"


def test_manifest_missing_columns_named(tmp_path):
    rows = [{k: v for k, v in r.items() if k not in ("label", "split")} for r in manifest_rows(tmp_path)]
    with pytest.raises(DataError, match=r"label, split.*missing column"):
        Manifest(str(write_manifest(tmp_path / "m.csv", rows))).load()


@pytest.mark.parametrize(
    "change, field",
    [
        ({"label": "maybe"}, "label"),
        ({"label": ""}, "label"),
        ({"language": "xxx"}, "language"),
        ({"split": "nope"}, "split"),
    ],
)
def test_manifest_bad_row_raises_naming_item_or_is_skipped(tmp_path, change, field):
    rows = manifest_rows(tmp_path)
    rows[2].update(change)
    path = write_manifest(tmp_path / "m.jsonl", rows)
    with pytest.raises(DataError, match=f"item 'u2' field '{field}'"):
        Manifest(str(path), label_names=["no", "yes"], languages=["eng", "rus"]).load()
    corpus = Manifest(str(path), label_names=["no", "yes"], languages=["eng", "rus"], on_bad_item="skip").load()
    assert len(corpus.items) == 5 and corpus.meta["skipped"]["skipped"] == 1
    assert "u2" in next(iter(corpus.meta["skipped"]["items"]))


def test_audio_folder_with_metadata(tmp_path):
    for split, label, name in [("train", "cat", "a"), ("train", "dog", "b"), ("test", "cat", "c")]:
        write_audio(tmp_path / split / label / f"{name}.flac", tone(0.2), fmt="FLAC")
    (tmp_path / "metadata.csv").write_text("file_name,language,content_id\ntrain/cat/a.flac,deu,x1\n")
    corpus = AudioFolder(str(tmp_path), language="eng").load()
    assert corpus.label_names == ["cat", "dog"]
    by_id = {i.id: i for i in corpus.items}
    assert by_id["train-cat-a"].language == "deu" and by_id["train-cat-a"].content_id == "x1"
    assert by_id["test-cat-c"].language == "eng" and by_id["test-cat-c"].split == "test"
    assert by_id["train-dog-b"].label == 1


def test_audio_folder_without_language_is_named(tmp_path):
    write_audio(tmp_path / "train" / "cat" / "a.wav", tone(0.2))
    with pytest.raises(DataError, match="a.wav' field 'language'"):
        AudioFolder(str(tmp_path)).load()


def test_no_train_split_says_why_each_alias_failed(tmp_path):
    script = tmp_path / "scripted"
    script.mkdir()
    (script / "scripted.py").write_text("import datasets\n")  # a loading script, as SpeechTaxi's repository has
    source = HFDataset(path=str(script), columns={"label": "label", "audio": "audio"}, cache_dir=str(tmp_path / "c"))
    with pytest.raises(ConfigError, match=r"no train split \(train: \w+Error: .+\)"):
        source.load()
