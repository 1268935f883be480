"""Batched Whisper decoding gives the transcripts of per-file ``whisper.transcribe``, offline."""

from __future__ import annotations

import pytest
import whisper

from cascade.recognize import transcribe_items
from cascade.recognizers.whisper_asr import WhisperRecognizer
from tests.helpers.cascade_testing import noise_clips, tiny_whisper, transcribe_per_file

SAMPLE_LEN = 12  # random models loop: cap the tokens per clip


@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory):
    return tiny_whisper(tmp_path_factory.mktemp("whisper") / "tiny.pt")


@pytest.fixture(scope="module")
def clips():
    return noise_clips(5, seed=1)


def sequential(model, clips, languages):
    """The reference: one transcribe() call per file, greedy, no conditioning, same options."""
    return transcribe_per_file(model, clips, languages, SAMPLE_LEN)


def test_batched_equals_sequential_with_given_languages(tiny_path, clips):
    languages = ["eng", "rus", "eng", "tha", "rus"]
    rec = WhisperRecognizer(str(tiny_path), batch_size=2, sample_len=SAMPLE_LEN, device="cpu")
    batched = rec.transcribe(clips, languages)
    assert batched == sequential(rec.model, clips, languages)
    assert len(set(batched)) > 1 and all(batched)  # the model says different, non-empty things


def test_batched_equals_sequential_with_detected_language(tiny_path, clips):
    rec = WhisperRecognizer(str(tiny_path), language_mode="detect", batch_size=3, sample_len=SAMPLE_LEN, device="cpu")
    assert not rec.uses_language
    assert rec.transcribe(clips[:3], [None] * 3) == sequential(rec.model, clips[:3], [None] * 3)


def test_sample_len_caps_the_output(tiny_path, clips):
    rec = WhisperRecognizer(str(tiny_path), sample_len=3, device="cpu")
    tokenizer = whisper.tokenizer.get_tokenizer(True, num_languages=rec.model.num_languages)
    for text in rec.transcribe(clips[:2], ["eng", "eng"]):
        assert len(tokenizer.encode(" " + text)) <= 3 + 2  # decode/encode may re-split a little


def test_multilingual_tokenizer_is_bundled_and_offline():
    from pathlib import Path

    assert (Path(whisper.__file__).parent / "assets" / "multilingual.tiktoken").is_file()
    tokenizer = whisper.tokenizer.get_tokenizer(True, num_languages=99, language="ru", task="transcribe")
    ids = tokenizer.encode(" январь, March")
    assert tokenizer.decode(ids) == " январь, March"
    assert tokenizer.sot_sequence[1] == tokenizer.to_language_token("ru")


def test_whisper_cache_key_uses_checkpoint_hash(tiny_path, tmp_path):
    rec = WhisperRecognizer(str(tiny_path), sample_len=SAMPLE_LEN, device="cpu")
    described = rec.describe()
    assert "file_sha256" in described and described["sample_len"] == SAMPLE_LEN
    assert WhisperRecognizer("large-v3").describe()["name"] == "large-v3"  # by name: nothing loaded


def test_whisper_through_the_cached_stage(tiny_path, tiny_corpus, tmp_path):
    items = tiny_corpus.where("test")[:3]
    rec = WhisperRecognizer(str(tiny_path), sample_len=4, device="cpu")
    first = transcribe_items(rec, items, tmp_path)
    calls = []
    rec.transcribe = lambda waves, langs: calls.append(len(waves)) or [""] * len(waves)
    assert transcribe_items(rec, items, tmp_path) == first
    assert not calls


def test_given_language_whisper_lacks_is_detected_per_clip(tiny_path, clips):
    languages = ["eng", "bgc", "tw-akuapem", "rus", "bgc"]  # Haryanvi and Twi: not in Whisper
    rec = WhisperRecognizer(str(tiny_path), batch_size=2, sample_len=SAMPLE_LEN, device="cpu")
    assert rec.given_codes(languages) == ["en", None, None, "ru", None]
    # detected like transcribe(language=None) does it: on the clip's own detection window
    reference = sequential(rec.model, clips, ["eng", None, None, "rus", None])
    assert rec.transcribe(clips, languages) == reference
    report = rec.language_report(languages)["unsupported_language"]
    assert report == {"policy": "detect", "n": 3, "per_language": {"bgc": 2, "tw-akuapem": 1}}
    assert rec.language_report(["eng", "rus"])["unsupported_language"]["n"] == 0


def test_given_language_whisper_lacks_can_be_an_error(tiny_path, clips):
    from workbench.errors import ConfigError

    rec = WhisperRecognizer(str(tiny_path), unsupported="error", sample_len=SAMPLE_LEN, device="cpu")
    with pytest.raises(ConfigError, match="'ibo' \\(Igbo\\): Whisper has no such language"):
        rec.transcribe(clips[:2], ["eng", "ibo"])
    with pytest.raises(ConfigError, match="'xyz'"):
        rec.given_codes(["xyz"])  # an unknown code is an error under either policy
    assert WhisperRecognizer("large-v3", language_mode="detect").language_report(["bgc"]) == {}


def test_the_count_reaches_the_cascade_asr_section(tiny_path):
    from types import SimpleNamespace

    from cascade.fit import asr_scores
    from workbench.items import Item

    items = [Item(f"i{n}", "c", lang, 0, "test", text="a b") for n, lang in enumerate(["eng", "ewe", "ewe"])]
    data = SimpleNamespace(
        recognizer=WhisperRecognizer(str(tiny_path)),
        eval_splits=["test"],
        eval_items=lambda split: items,
        script="native",
        transcripts={i.id: "a b" for i in items},
    )
    scores = asr_scores(data)["test"]
    assert scores["unsupported_language"]["per_language"] == {"ewe": 2}
    assert scores["per_language"]["ewe"]["cer"] == 0.0
