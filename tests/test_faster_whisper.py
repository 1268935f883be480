"""faster-whisper (CTranslate2) batched decoding gives openai-whisper's transcripts at float32, offline.

One random tiny Whisper, in openai-whisper's form and converted for CTranslate2 with its
converter (tests/helpers/ct2_testing.py): the same weights, so the same transcripts are expected.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from cascade.recognizers import FasterWhisperRecognizer
from cascade.recognizers.whisper_asr import WhisperRecognizer
from tests.helpers.cascade_testing import noise_clips, tiny_whisper
from tests.helpers.ct2_testing import ct2_whisper, openai_clip_window
from workbench.errors import ConfigError

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "recognizer" / "faster_whisper.yaml"
SAMPLE_LEN = 12  # random models loop: cap the tokens per clip
LANGUAGES = ["eng", "rus", "bgc", "tha", "eng", "tw-asante"]  # bgc, Twi: not in Whisper (detected)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("faster-whisper")
    openai = tiny_whisper(folder / "tiny.pt")
    return openai, ct2_whisper(openai, folder / "ct2")


@pytest.fixture(scope="module")
def clips():
    return noise_clips(len(LANGUAGES), seed=1)


def fast(models, **options) -> FasterWhisperRecognizer:
    return FasterWhisperRecognizer(str(models[1]), sample_len=SAMPLE_LEN, device="cpu", **options)


def test_float32_equals_openai_whisper_with_given_languages(models, clips):
    rec = fast(models, compute_type="float32", batch_size=4)
    reference = WhisperRecognizer(str(models[0]), sample_len=SAMPLE_LEN, device="cpu")
    texts = rec.transcribe(clips, LANGUAGES)
    assert texts == reference.transcribe(clips, LANGUAGES)
    assert all(texts) and len(set(texts)) > 1
    assert rec.given_codes(LANGUAGES) == ["en", "ru", None, "th", "en", None]
    assert rec.language_report(LANGUAGES)["unsupported_language"]["per_language"] == {"bgc": 1, "tw-asante": 1}
    assert len(rec.supported_languages()) == 99  # this model's language tokens (large-v3 has 100)


def test_float32_equals_openai_whisper_detecting_languages(models, clips):
    rec = fast(models, compute_type="float32", language_mode="detect", batch_size=3)
    reference = WhisperRecognizer(str(models[0]), language_mode="detect", sample_len=SAMPLE_LEN, device="cpu")
    assert rec.detect(clips) == reference.detect(clips)
    assert rec.transcribe(clips, [None] * len(clips)) == reference.transcribe(clips, [None] * len(clips))
    assert not rec.uses_language and rec.language_report(LANGUAGES) == {}


def test_int8_on_cpu_by_default_and_sample_len(models, clips):
    rec = fast(models, batch_size=8)
    assert rec.compute_type == "int8" and rec.describe()["compute_type"] == "int8"
    assert "model_sha256" in rec.describe()
    texts = rec.transcribe(clips, LANGUAGES)
    assert all(texts)
    short = FasterWhisperRecognizer(str(models[1]), sample_len=3, device="cpu").transcribe(clips[:2], ["eng"] * 2)
    tokenizer = rec.model.hf_tokenizer
    assert all(len(tokenizer.encode(" " + text, add_special_tokens=False).ids) <= 3 + 2 for text in short)


def test_clip_windows_equal_openai_whisper_on_the_same_windows(models, clips):
    """``window: clip``: CTranslate2 on each clip's own window decodes what openai-whisper decodes
    on that window (so only the window, not the engine, changes transcripts vs ``transcribe``)."""
    import whisper

    rec = fast(models, compute_type="float32", window="clip", batch_size=4)
    frames = [rec.window_frames(len(c)) for c in clips]
    assert frames == [-(-(len(c) // 160) // 100) * 100 for c in clips] and set(frames) != {3000}
    openai = whisper.load_model(str(models[0]), device="cpu")
    languages = ["eng", "rus", "eng", "tha", "eng", "eng"]  # detection is checked below
    texts = rec.transcribe(clips, languages)
    codes = ["en", "ru", "en", "th", "en", "en"]
    reference = [openai_clip_window(openai, *args, SAMPLE_LEN) for args in zip(clips, frames, codes, strict=True)]
    assert texts == reference and all(texts)
    assert texts != fast(models, compute_type="float32", batch_size=4).transcribe(clips, languages)  # 30 s windows
    detected = rec.transcribe(clips, [None] * len(clips))  # detected on the clip windows
    assert len(detected) == len(clips) and all(detected)
    assert rec.describe()["window"] == "clip" and "window" not in fast(models).describe()


def test_clip_window_floor_and_bad_windows(models):
    rec = fast(models, window="clip", min_window_s=5)
    assert [rec.window_frames(n) for n in (0, 16000, 9 * 16000, 45 * 16000)] == [500, 500, 900, 3000]
    assert fast(models).window_frames(16000) == 3000
    with pytest.raises(ConfigError, match="recognizer.window: 'short' is neither full nor clip"):
        fast(models, window="short")
    with pytest.raises(ConfigError, match="recognizer.min_window_s: 40 is not between 0 and 30 seconds"):
        fast(models, window="clip", min_window_s=40)


def test_unsupported_language_can_be_an_error(models, clips):
    with pytest.raises(ConfigError, match="'bgc' \\(Haryanvi\\): Whisper has no such language"):
        fast(models, unsupported="error").transcribe(clips[:3], LANGUAGES[:3])
    with pytest.raises(ConfigError, match="neither detect nor error"):
        fast(models, unsupported="skip")


def test_shipped_config():
    spec = yaml.safe_load(CONFIG.read_text())["data"]["recognizer"]
    assert spec["class_path"] == "cascade.recognizers.FasterWhisperRecognizer"
    rec = FasterWhisperRecognizer(**{**spec["init_args"], "device": "cpu"})
    assert rec.compute_type == "int8" and rec.uses_language  # float16 on a GPU
    assert rec.window == "full" and "window" not in rec.describe()  # transcribe's 30 s windows
    assert rec.describe()["name"] == "large-v3"  # by name: nothing loaded
