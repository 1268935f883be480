"""Whisper encoders (openai-whisper and transformers) on the true length of short clips.

What must hold exactly (up to float rounding): the conv front end on the valid frames (all but the last), a
30 s clip (nothing to trim), and the trimmed run == the stock forward of a model whose
positional embedding is sliced to the trimmed length. What does not hold: the padded run's
valid frames equal the trimmed run's (full attention over 28 s of silence changes them);
the test measures that difference instead of pretending it is zero.
"""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from speech.encoders.hf import HFEncoder
from speech.encoders.whisper_openai import WhisperEncoder
from tests.helpers.speech_stand_ins import stand_in


@pytest.fixture(scope="module")
def openai_encoder():
    return WhisperEncoder(stand_in("openai-whisper")).eval()


@pytest.fixture(scope="module")
def hf_encoder():
    return HFEncoder(stand_in("whisper")).eval()


def clip(seconds: float, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    wave = 0.1 * torch.randn(1, int(seconds * 16000), generator=torch.Generator().manual_seed(seed))
    return wave, torch.tensor([wave.shape[1]])


def front_end(conv1: nn.Module, conv2: nn.Module, mel: torch.Tensor) -> torch.Tensor:
    return nn.functional.gelu(conv2(nn.functional.gelu(conv1(mel))))


@torch.no_grad()
def test_openai_whisper_trimmed_vs_padded(openai_encoder):
    enc = openai_encoder
    wave, lengths = clip(1.0)
    mel = enc.mel(wave, lengths)  # (1, 80, 3000): the stock input
    out = enc(wave, lengths)
    assert out.hidden.shape == (1, 50, 32) and out.lengths.tolist() == [50] and len(out.layers) == 3
    # 0. the mel of the clip padded only a window past the frames kept == the 30 s mel on them
    assert torch.allclose(enc.mel(wave, lengths, 100 * 160 + 400)[..., :100], mel[..., :100], atol=1e-6)
    # 1. the conv front end: the same on every valid frame but the last (its kernel sees the next
    # frame), up to float rounding (the convolution kernel chosen depends on the input length)
    full = front_end(enc.encoder.conv1, enc.encoder.conv2, mel)
    trimmed = front_end(enc.encoder.conv1, enc.encoder.conv2, mel[..., :100])
    assert torch.allclose(full[..., :49], trimmed[..., :49], atol=1e-6, rtol=0)
    assert (full[..., 49] - trimmed[..., 49]).abs().max() > 1e-4
    # 2. trimmed run == stock AudioEncoder.forward with the positional embedding sliced
    stock = copy.deepcopy(enc.encoder)
    stock.register_buffer("positional_embedding", enc.encoder.positional_embedding[:50].clone())
    assert torch.allclose(out.hidden, stock(mel[..., :100]), atol=1e-6)
    # 3. the padded 30 s run differs on the valid frames: non-causal attention sees the silence
    padded = enc.encoder(mel)[:, :50]
    relative = ((padded - out.hidden).norm() / padded.norm()).item()
    assert relative > 1e-3, relative


@torch.no_grad()
def test_openai_whisper_30s_clip_is_the_stock_run(openai_encoder):
    wave, lengths = clip(30.0)
    out = openai_encoder(wave, lengths)
    stock = openai_encoder.encoder(openai_encoder.mel(wave, lengths))
    assert out.hidden.shape == stock.shape == (1, 1500, 32)
    assert torch.allclose(out.hidden, stock, atol=1e-6)


@torch.no_grad()
def test_hf_whisper_trimmed_vs_padded(hf_encoder):
    from transformers.models.whisper.modeling_whisper import WhisperEncoder as HFWhisperEncoder

    enc = hf_encoder
    wave, lengths = clip(1.4, seed=1)
    mel = enc.whisper_mel(wave, lengths)
    out = enc(wave, lengths)
    frames = 70
    assert torch.allclose(enc.whisper_mel(wave, lengths, 140 * 160 + 400)[..., :140], mel[..., :140], atol=1e-6)
    assert out.hidden.shape == (1, frames, 32) and out.lengths.tolist() == [frames]
    full = front_end(enc.model.conv1, enc.model.conv2, mel)
    trimmed = front_end(enc.model.conv1, enc.model.conv2, mel[..., : 2 * frames])
    assert torch.allclose(full[..., : frames - 1], trimmed[..., : frames - 1], atol=1e-6, rtol=0)
    # stock transformers forward of an encoder built for `frames` positions
    config = copy.deepcopy(enc.model.config)
    config.max_source_positions = frames
    stock = HFWhisperEncoder(config).eval()
    state = dict(enc.model.state_dict())
    state["embed_positions.weight"] = state["embed_positions.weight"][:frames]
    stock.load_state_dict(state)
    assert torch.allclose(out.hidden, stock(mel[..., : 2 * frames]).last_hidden_state, atol=1e-5)
    padded = enc.model(mel).last_hidden_state[:, :frames]
    assert ((padded - out.hidden).norm() / padded.norm()).item() > 1e-3


@torch.no_grad()
def test_untrimmed_option_runs_the_padded_window(openai_encoder):
    wave, lengths = clip(0.5)
    openai_encoder.trim = False
    try:
        out = openai_encoder(wave, lengths)
    finally:
        openai_encoder.trim = True
    assert out.hidden.shape[1] == 1500 and out.lengths.tolist() == [25]
