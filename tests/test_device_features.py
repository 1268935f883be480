"""The pretrained encoders' front ends, batched in torch, equal the feature extractors they replace.

w2v-BERT 2.0's stacked fbank (``SeamlessM4TFeatureExtractor``) and Whisper's log-mel
(``WhisperFeatureExtractor``; openai-whisper's ``log_mel_spectrogram`` of ``pad_or_trim``)
are computed for a whole padded batch on its device (:mod:`speech.features`); on real
speech of several lengths they match the extractors run clip by clip within 1e-4 (values,
attention mask, shapes), and the encoders' outputs match the models run on the extractors'
features.
"""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from speech import features
from speech.features import seamless_features, whisper_log_mel
from tests.helpers.speech_stand_ins import stand_in

TOLERANCE = 1e-4
DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU"))]
# samples kept of each clip: odd and even frame counts, a clip shorter than its batch mates, one of 0.3 s
CUTS = [None, 12345, 4011, 48000, 16161]


@pytest.fixture(params=["by device", "whole batch"])
def parts(request, monkeypatch):
    """The CPU computes clip by clip (cache); "whole batch" forces the accelerator's one piece here too."""
    if request.param == "whole batch":
        monkeypatch.setattr(features, "batch_parts", lambda waves, lengths: [(waves, lengths)])
    return request.param


@pytest.fixture(scope="module")
def speech_clips(tiny_corpus) -> list[np.ndarray]:
    """Real synthetic speech (espeak-ng, the embedded corpus) cut to several lengths."""
    items = sorted(tiny_corpus.items, key=lambda item: item.id)[: len(CUTS)]
    clips = [sf.read(item.audio, dtype="float32")[0] for item in items]
    return [clip if cut is None else clip[:cut] for clip, cut in zip(clips, CUTS, strict=True)]


def padded(clips: list[np.ndarray], device: str = "cpu", extra: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """The collated batch: ``(B, longest + extra)`` zero-padded waves and ``(B,)`` lengths."""
    lengths = torch.tensor([len(clip) for clip in clips])
    waves = torch.zeros(len(clips), int(lengths.max()) + extra)
    for row, clip in enumerate(clips):
        waves[row, : len(clip)] = torch.from_numpy(clip)
    return waves.to(device), lengths.to(device)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("extra", [0, 777])
def test_fbank_equals_seamless_extractor(speech_clips, device, extra, parts):
    from transformers import SeamlessM4TFeatureExtractor

    extractor = SeamlessM4TFeatureExtractor()
    expected = extractor(
        speech_clips, sampling_rate=16000, return_tensors="pt", padding=True, return_attention_mask=True
    )
    features, mask = seamless_features(*padded(speech_clips, device, extra))
    assert features.device.type == device and mask.device.type == device
    assert features.shape == expected["input_features"].shape
    assert torch.equal(mask.cpu(), expected["attention_mask"].long())
    assert (features.cpu() - expected["input_features"]).abs().max() < TOLERANCE


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("seconds", [30, 7])
def test_whisper_log_mel_equals_both_extractors(speech_clips, device, seconds, parts):
    import whisper
    from transformers import WhisperFeatureExtractor

    samples = seconds * 16000
    waves, lengths = padded(speech_clips, device)
    hf = WhisperFeatureExtractor(feature_size=80)
    expected = hf(
        speech_clips,
        sampling_rate=16000,
        return_tensors="pt",
        padding="max_length",
        max_length=samples,
        truncation=True,
    )["input_features"]
    ours = whisper_log_mel(waves, lengths, samples, torch.from_numpy(hf.mel_filters).T.float())
    assert ours.device.type == device and ours.shape == expected.shape
    assert (ours.cpu() - expected).abs().max() < TOLERANCE
    # openai-whisper, clip by clip (its own function takes one peak over a whole batch)
    expected = torch.stack(
        [whisper.log_mel_spectrogram(whisper.pad_or_trim(torch.from_numpy(c), samples)) for c in speech_clips]
    )
    ours = whisper_log_mel(waves, lengths, samples, whisper.audio.mel_filters(device, 80))
    assert (ours.cpu() - expected).abs().max() < TOLERANCE


def test_w2v_bert_outputs_equal_the_model_on_extractor_features(speech_clips):
    from speech.encoders.hf import HFEncoder

    encoder = HFEncoder(stand_in("w2v_bert2")).eval()
    expected_inputs = encoder.extractor(
        speech_clips, sampling_rate=16000, return_tensors="pt", padding=True, return_attention_mask=True
    )
    with torch.no_grad():
        ours = encoder(*padded(speech_clips))
        expected = encoder.model(**expected_inputs, output_hidden_states=True)
    assert torch.equal(ours.lengths, expected_inputs["attention_mask"].sum(1))
    assert ours.hidden.shape == expected.last_hidden_state.shape
    assert (ours.hidden - expected.last_hidden_state).abs().max() < TOLERANCE


@pytest.mark.parametrize("family", ["whisper", "openai-whisper"])
def test_whisper_encoders_equal_the_model_on_extractor_features(speech_clips, family):
    """On Whisper's 30 s window: both encoders' outputs equal the stock encoders on the stock mels."""
    import whisper
    from transformers import WhisperFeatureExtractor

    from speech.encoders.hf import HFEncoder
    from speech.encoders.whisper_openai import WhisperEncoder

    if family == "whisper":
        encoder = HFEncoder(stand_in("whisper"), trim=False).eval()
        extractor = WhisperFeatureExtractor(feature_size=80)
        mel = extractor(speech_clips, sampling_rate=16000, return_tensors="pt")["input_features"]
        stock = encoder.model
    else:
        encoder = WhisperEncoder(stand_in("openai-whisper"), trim=False).eval()
        mel = torch.stack([whisper.log_mel_spectrogram(whisper.pad_or_trim(torch.from_numpy(c))) for c in speech_clips])
        stock = encoder.encoder
    with torch.no_grad():
        ours = encoder(*padded(speech_clips)).hidden
        expected = stock(mel)
        expected = expected.last_hidden_state if family == "whisper" else expected
    assert ours.shape == expected.shape
    assert (ours - expected).abs().max() < TOLERANCE


@pytest.mark.slow
def test_device_features_benchmark_quick(tiny_corpus, tiny_root):
    from tests.helpers.benchmark_runs import ratios, run

    output = run("device_features", "--quick", "--data-root", str(tiny_root))
    assert set(ratios(output)) == {"fbank_w2v_bert", "logmel_whisper_transformers", "logmel_whisper_openai"}
