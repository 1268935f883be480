"""Tiny randomly initialised stand-ins for pretrained encoders, saved locally (tests, CI).

Nothing is downloaded: each builder creates a model of the real family from a small
config and saves it (with its feature extractor) where the real loading code reads it.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import lightning as L
import torch

CONV = {"conv_dim": (16, 16, 16), "conv_stride": (10, 8, 4), "conv_kernel": (10, 8, 4)}  # 320-sample hop
# The shipped encoders (MMS-300m, XLS-R 300m, HuBERT large, WavLM large) are "large" configs: a
# LayerNorm after every feature-encoder conv and pre-norm transformer layers, trained with an
# attention mask. ("base" configs put a GroupNorm over the whole padded clip in the first conv,
# so their frames depend on the padding: see tests/test_speech_encoders.py.)
LARGE = {"feat_extract_norm": "layer", "do_stable_layer_norm": True}
SIZES = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64}
TRANSFORMER = {**SIZES, "num_conv_pos_embeddings": 16, "num_conv_pos_embedding_groups": 4}


def _save_wave_extractor(folder: Path) -> None:
    from transformers import Wav2Vec2FeatureExtractor

    Wav2Vec2FeatureExtractor(do_normalize=True, return_attention_mask=True).save_pretrained(folder)


def tiny_hf(folder: str | Path, family: str = "wav2vec2", seed: int = 0) -> str:
    """Save a tiny ``family`` model (wav2vec2, hubert, wavlm, w2v_bert2, whisper; wav2vec2-base) to ``folder``.

    wav2vec2, hubert and wavlm are built like the large checkpoints the configs name;
    ``wav2vec2-base`` like facebook/wav2vec2-base (GroupNorm front end, no attention mask).
    """
    import transformers as tf

    folder = Path(folder)
    torch.manual_seed(seed)
    if family == "wav2vec2":
        model = tf.Wav2Vec2Model(tf.Wav2Vec2Config(**TRANSFORMER, **CONV, **LARGE))
        _save_wave_extractor(folder)
    elif family == "wav2vec2-base":
        model = tf.Wav2Vec2Model(tf.Wav2Vec2Config(**TRANSFORMER, **CONV, feat_extract_norm="group"))
        tf.Wav2Vec2FeatureExtractor(do_normalize=True, return_attention_mask=False).save_pretrained(folder)
    elif family == "hubert":
        model = tf.HubertModel(tf.HubertConfig(**TRANSFORMER, **CONV, **LARGE))
        _save_wave_extractor(folder)
    elif family == "wavlm":
        config = tf.WavLMConfig(**TRANSFORMER, **CONV, **LARGE, num_buckets=16, max_bucket_distance=32)
        model = tf.WavLMModel(config)
        _save_wave_extractor(folder)
    elif family == "w2v_bert2":
        config = tf.Wav2Vec2BertConfig(
            **SIZES, output_hidden_size=32, conv_depthwise_kernel_size=3, feature_projection_input_dim=160
        )
        model = tf.Wav2Vec2BertModel(config)
        tf.SeamlessM4TFeatureExtractor().save_pretrained(folder)
    elif family == "whisper":
        config = tf.WhisperConfig(
            d_model=32,
            encoder_layers=2,
            decoder_layers=1,
            encoder_attention_heads=2,
            decoder_attention_heads=2,
            encoder_ffn_dim=64,
            decoder_ffn_dim=64,
            num_mel_bins=80,
            vocab_size=64,
            max_target_positions=16,
            pad_token_id=0,
            bos_token_id=1,
            eos_token_id=2,
            decoder_start_token_id=1,
            begin_suppress_tokens=None,
            suppress_tokens=None,
        )
        model = tf.WhisperModel(config)
        tf.WhisperFeatureExtractor(feature_size=80).save_pretrained(folder)
    else:
        raise ValueError(f"unknown family '{family}'")
    model.save_pretrained(folder)
    return str(folder)


def tiny_whisper_checkpoint(path: str | Path, seed: int = 0) -> str:
    """Save a tiny openai-whisper checkpoint that ``whisper.load_model(path)`` reads."""
    from whisper.model import ModelDimensions, Whisper

    torch.manual_seed(seed)
    dims = ModelDimensions(
        n_mels=80,
        n_audio_ctx=1500,
        n_audio_state=32,
        n_audio_head=2,
        n_audio_layer=2,
        n_vocab=51865,
        n_text_ctx=8,
        n_text_state=32,
        n_text_head=2,
        n_text_layer=1,
    )
    model = Whisper(dims)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"dims": asdict(dims), "model_state_dict": model.state_dict()}, path)
    return str(path)


class StopAtStep(L.Callback):
    """Stops training after ``step`` optimizer steps, mid-epoch: a stand-in for a crash.

    Unlike ``trainer.max_steps`` it leaves the learning-rate schedule (planned from
    ``max_epochs``) unchanged, so a resumed run can match an uninterrupted one.

    Args:
        step: global step after which to stop.
    """

    def __init__(self, step: int):
        self.step = step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step >= self.step:
            trainer.should_stop = True


_STAND_INS: dict[str, str] = {}


def stand_in(family: str) -> str:
    """A tiny model of ``family`` (or ``openai-whisper``), built once per process; returns its path.

    Tests only read these, so one copy serves every test module of a pytest session.
    """
    if family not in _STAND_INS:
        import atexit
        import shutil
        import tempfile

        if not _STAND_INS:
            folder = tempfile.mkdtemp(prefix="speech-stand-ins-")
            atexit.register(shutil.rmtree, folder, ignore_errors=True)
            _STAND_INS["_folder"] = folder
        folder = Path(_STAND_INS["_folder"])
        if family == "openai-whisper":
            _STAND_INS[family] = tiny_whisper_checkpoint(folder / "whisper.pt")
        else:
            _STAND_INS[family] = tiny_hf(folder / family, family)
    return _STAND_INS[family]


def random_whisper_checkpoint(path: str | Path, dims: dict, seed: int = 0, std: float = 0.2) -> Path:
    """A random openai-whisper model saved as ``{"dims", "model_state_dict"}`` (``whisper.load_model`` reads it).

    Every parameter is drawn explicitly (some are ``torch.empty`` in whisper's constructor);
    a large ``std`` makes the decoder's output depend on the audio instead of repeating one
    token, so comparing transcripts (batched vs sequential decoding) compares something.

    Args:
        dims: ``whisper.model.ModelDimensions`` fields.
    """
    from dataclasses import asdict

    from whisper.model import ModelDimensions, Whisper

    torch.manual_seed(seed)
    model_dims = ModelDimensions(**dims)
    model = Whisper(model_dims)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.ndim == 1 and "ln" in name and name.endswith("weight"):
                p.fill_(1.0)
            elif name.endswith("bias"):
                p.zero_()
            else:
                p.normal_(0.0, std)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"dims": asdict(model_dims), "model_state_dict": model.state_dict()}, path)
    return path
