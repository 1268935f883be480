"""Shared speech building blocks: LogMel features, EncoderOutput, ConvEncoder, init_from."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from speech.encoders.base import EncoderOutput, SpeechEncoder
from speech.encoders.conv import ConvEncoder
from speech.features import FRAMES_PER_SECOND, LogMel, SpecAugment, masked_normalize, num_frames


def test_logmel_shapes_rate_and_normalisation():
    waves = torch.randn(2, 32000)
    lengths = torch.tensor([32000, 16000])
    feats, frames = LogMel(specaugment=False)(waves, lengths)
    assert feats.shape == (2, 201, 40) and frames.tolist() == [201, 101]
    assert FRAMES_PER_SECOND == 100
    # normalised over the valid frames only; padding is zero
    short = feats[1, :101]
    assert short.mean(0).abs().max() < 1e-4 and (short.std(0, unbiased=False) - 1).abs().max() < 1e-2
    assert feats[1, 101:].abs().max() == 0


def test_logmel_padding_does_not_change_valid_frames():
    wave = torch.randn(1, 16000)
    alone, _ = LogMel(specaugment=False)(wave, torch.tensor([16000]))
    padded, _ = LogMel(specaugment=False)(torch.cat([wave, torch.zeros(1, 8000)], 1), torch.tensor([16000]))
    assert torch.allclose(alone[0], padded[0, :101], atol=1e-4)


def test_specaugment_only_in_training():
    feats = torch.randn(3, 100, 40)
    lengths = torch.tensor([100, 80, 50])
    aug = SpecAugment(freq_masks=2, freq_width=8, time_masks=2, time_width=0.2)
    aug.eval()
    assert torch.equal(aug(feats, lengths), feats)
    aug.train()
    torch.manual_seed(0)
    out = aug(feats, lengths)
    assert (out == 0).any() and not torch.equal(out, feats)


def test_masked_normalize_ignores_padding():
    feats = torch.randn(1, 10, 4)
    a = masked_normalize(feats, torch.tensor([6]))
    b = masked_normalize(feats[:, :6], torch.tensor([6]))
    assert torch.allclose(a[:, :6], b, atol=1e-6)


def test_conv_encoder_interface_and_size():
    enc = ConvEncoder()  # d256 x 6
    assert isinstance(enc, SpeechEncoder)
    params = sum(p.numel() for p in enc.parameters())
    assert 300_000 <= params <= 500_000
    enc.eval()
    out = enc(torch.randn(2, 16000), torch.tensor([16000, 9600]))
    assert isinstance(out, EncoderOutput)
    assert out.hidden.shape == (2, 33, 256) and len(out.layers) == enc.num_layers == 7
    assert out.lengths.tolist() == [33, math.floor(num_frames(torch.tensor(9600)).item() / 3)]
    assert out.mask().sum(1).tolist() == out.lengths.tolist()
    assert out.hidden[1, out.lengths[1] :].abs().max() == 0
    assert enc.preprocess_config["n_mels"] == 40 and enc.preprocess_config["hop_length"] == 160


def test_conv_encoder_batch_invariance_in_eval():
    """An item's valid frames do not depend on what it is batched with (padding is masked)."""
    enc = ConvEncoder(dim=32, num_blocks=2).eval()
    wave = torch.randn(1, 12000)
    alone = enc(wave, torch.tensor([12000])).hidden
    batch = torch.cat([torch.cat([wave, torch.zeros(1, 4000)], 1), torch.randn(1, 16000)])
    together = enc(batch, torch.tensor([12000, 16000]))
    n = alone.shape[1]
    assert torch.allclose(alone[0], together.hidden[0, :n], atol=1e-4)


class Recognizer(nn.Module):
    """Stand-in for the cascade's CTC module: an ``encoder`` attribute plus a head."""

    def __init__(self):
        super().__init__()
        self.encoder = ConvEncoder(dim=32, num_blocks=2)
        self.head = nn.Linear(32, 28)


@pytest.mark.parametrize("fmt", ["lightning", "safetensors"])
def test_init_from_recognizer_checkpoint(tmp_path, fmt):
    from speech.encoders import from_checkpoint

    source = Recognizer()
    with torch.no_grad():
        for p in source.parameters():
            p.normal_()
    if fmt == "lightning":
        path = tmp_path / "asr.ckpt"
        torch.save({"state_dict": source.state_dict(), "epoch": 1}, path)
    else:
        from safetensors.torch import save_file

        path = tmp_path / "asr.safetensors"
        save_file(source.state_dict(), str(path))
    target = from_checkpoint(ConvEncoder(dim=32, num_blocks=2), str(path))
    for name, tensor in source.encoder.state_dict().items():
        assert torch.equal(target.state_dict()[name], tensor), name


def test_init_from_rejects_mismatched_checkpoint(tmp_path):
    from speech.encoders import from_checkpoint
    from workbench.errors import ConfigError

    path = tmp_path / "asr.ckpt"
    torch.save({"state_dict": Recognizer().state_dict()}, path)
    with pytest.raises(ConfigError, match="does not fit"):
        from_checkpoint(ConvEncoder(dim=64, num_blocks=2), str(path))
    with pytest.raises(ConfigError, match="no 'encoder"):
        torch.save({"state_dict": {"head.weight": torch.zeros(1)}}, path)
        from_checkpoint(ConvEncoder(dim=32, num_blocks=2), str(path))


@pytest.mark.parametrize("family", ["wav2vec2", "hubert", "wavlm", "w2v_bert2", "whisper"])
def test_hf_encoder_families_load_from_a_local_folder(family, tmp_path):
    from speech.encoders.hf import HFEncoder
    from tests.helpers.speech_stand_ins import stand_in

    enc = HFEncoder(stand_in(family)).eval()
    assert isinstance(enc, SpeechEncoder) and enc.preprocess_config["model_type"]
    waves = torch.randn(2, 16000)
    with torch.no_grad():
        out = enc(waves, torch.tensor([16000, 8000]))
    assert out.hidden.shape[0] == 2 and out.hidden.shape[2] == enc.dim == 32
    assert len(out.layers) == enc.num_layers == 3
    # the shorter clip has about half the valid frames, and never more than the padded width
    full, short = out.lengths.tolist()
    assert full <= out.hidden.shape[1] and abs(short - full / 2) <= 2
    assert enc.lora_targets()


@pytest.mark.parametrize("family", ["wav2vec2", "hubert", "wavlm"])
def test_the_conv_feature_encoder_is_frozen_as_shipped(family):
    """``freeze_feature_encoder: true`` freezes every wav2vec2-family front end (HuBERT has no
    freeze_feature_encoder() in transformers 5: it was silently trained) and nothing else."""
    from speech.encoders.hf import HFEncoder
    from tests.helpers.speech_stand_ins import stand_in

    enc = HFEncoder(stand_in(family), freeze_feature_encoder=True)
    front = {id(p) for p in enc.model.feature_extractor.parameters()}
    assert front and all(not p.requires_grad for p in enc.model.feature_extractor.parameters())
    assert all(p.requires_grad for p in enc.model.parameters() if id(p) not in front)


def test_ecapa_encoder_frames_and_masking():
    from speech.encoders.ecapa import EcapaEncoder

    enc = EcapaEncoder(channels=(32, 32, 32, 32, 64), attention_channels=16, se_channels=16).eval()
    out = enc(torch.randn(2, 16000), torch.tensor([16000, 8000]))
    assert out.hidden.shape == (2, 101, 64) and out.lengths.tolist() == [101, 51]
    assert out.hidden[1, 51:].abs().max() == 0 and out.layers is None


def test_hf_encoder_starts_in_training_mode():
    # found by the benchmark: a from_pretrained encoder stayed in eval mode during fine-tuning
    from speech.encoders.hf import HFEncoder
    from tests.helpers.speech_stand_ins import stand_in

    enc = HFEncoder(stand_in("wav2vec2"))
    assert enc.training and all(m.training for m in enc.modules())


def invariance_encoder(family: str) -> SpeechEncoder:
    from speech.encoders.hf import HFEncoder
    from speech.encoders.whisper_openai import WhisperEncoder
    from tests.helpers.speech_stand_ins import stand_in

    if family == "openai-whisper-30s":
        return WhisperEncoder(stand_in("openai-whisper"), trim=False)
    if family == "hf-whisper-30s":
        return HFEncoder(stand_in("whisper"), trim=False)
    return HFEncoder(stand_in(family))


def short_and_long_clips() -> tuple[dict, dict]:
    """The same 0.75 s clip alone, and padded in a batch after a 1.25 s clip."""
    import numpy as np

    from speech.data import collate_waves
    from tests.helpers.audio_fixtures import synthetic_wave

    rng = np.random.default_rng(0)
    short, long = synthetic_wave(0.75, 1, rng), synthetic_wave(1.25, 2, rng)
    return collate_waves([(0, short, 1, "short")]), collate_waves([(1, long, 2, "long"), (0, short, 1, "short")])


# Batch-invariant: the large wav2vec2-style configs the shipped encoders use (LayerNorm per
# frame, attention mask), GroupNorm "base" configs (front end run per clip, padding masked),
# w2v-BERT 2.0 (fbank + attention mask), and Whisper on its 30 s window (every clip padded
# alike). Not invariant, by design of the model: Whisper trimmed to the batch's longest clip
# (trim=True, the default; its encoder has no attention mask, so valid frames attend to the
# padding: tests/test_speech_whisper.py measures that).
INVARIANT = ["wav2vec2", "wav2vec2-base", "hubert", "wavlm", "w2v_bert2", "hf-whisper-30s", "openai-whisper-30s"]


@pytest.mark.parametrize("family", INVARIANT)
@torch.no_grad()
def test_encoder_is_batch_invariant(family):
    """A clip's frames (every layer) and logits are the same alone and padded in a batch:
    evaluation runs in length buckets, the demo one clip at a time."""
    from speech.model import SpeechClassifier

    torch.manual_seed(0)
    model = SpeechClassifier(invariance_encoder(family), num_classes=4, layer_weighting=True).eval()
    alone, batch = short_and_long_clips()
    one = model.encoder(alone["waves"], alone["lengths"])
    both = model.encoder(batch["waves"], batch["lengths"])
    frames = int(one.lengths[0])
    assert int(both.lengths[1]) == frames and both.hidden.shape[1] > frames  # really padded
    for layer_alone, layer_batched in zip(one.layers, both.layers, strict=True):
        assert torch.allclose(layer_alone[0, :frames], layer_batched[1, :frames], atol=1e-4), family
    assert torch.allclose(model(alone)[0], model(batch)[1], atol=1e-4), family


@torch.no_grad()
def test_groupnorm_base_config_runs_each_clip_as_if_alone():
    """wav2vec2-base-style configs normalise the first conv over the whole input (GroupNorm) and
    were pre-trained on unpadded crops; the stock model on a zero-padded batch changes a clip's
    frames. The encoder runs such a front end clip by clip and masks the padding, so a clip in a
    batch gives what the stock model gives on that clip alone."""
    from transformers import Wav2Vec2Model

    from speech.encoders.hf import HFEncoder, masked_standardize
    from tests.helpers.speech_stand_ins import stand_in

    path = stand_in("wav2vec2-base")
    encoder = HFEncoder(path).eval()
    assert encoder.per_clip_front_end
    stock = Wav2Vec2Model.from_pretrained(path).eval()
    alone, batch = short_and_long_clips()
    out = encoder(batch["waves"], batch["lengths"])
    for row in range(2):
        n = int(batch["lengths"][row])
        clip = masked_standardize(batch["waves"][row : row + 1, :n], batch["lengths"][row : row + 1])
        expected = stock(clip).last_hidden_state[0]
        assert torch.allclose(out.hidden[row, : expected.shape[0]], expected, atol=1e-4), row
    # the stock model on the padded batch does differ: what the per-clip front end is for
    padded = stock(masked_standardize(batch["waves"], batch["lengths"])).last_hidden_state
    frames = int(out.lengths[1])
    assert not torch.allclose(padded[1, :frames], out.hidden[1, :frames], atol=1e-3)
