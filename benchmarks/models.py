"""Small randomly initialised wav2vec2-shaped encoders for speed benchmarks (no weights needed).

Saved with ``save_pretrained`` so both sides load the very same folder through their real
loading code: ``speech.encoders.hf.HFEncoder`` and ``transformers.AutoModelForAudioClassification``.
"""

from __future__ import annotations

from pathlib import Path

import torch

# XLS-R / MMS shape (layer-norm feature encoder, stable layer norm, 320-sample hop), scaled down
SIZES = {
    "tiny": dict(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, conv_dim=(16, 16, 16)
    ),
    "small": dict(
        hidden_size=128, num_hidden_layers=4, num_attention_heads=4, intermediate_size=256, conv_dim=(128, 128, 128)
    ),
}


def save_wav2vec2(folder: str | Path, size: str = "small", num_labels: int = 6, seed: int = 0) -> str:
    """Save a random wav2vec2 of ``size`` (see ``SIZES``) and its feature extractor to ``folder``."""
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2Model

    folder = Path(folder)
    torch.manual_seed(seed)
    config = Wav2Vec2Config(
        **SIZES[size],
        conv_stride=(10, 8, 4),
        conv_kernel=(10, 8, 4),
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=4,
        feat_extract_norm="layer",
        do_stable_layer_norm=True,
        num_labels=num_labels,
        mask_time_prob=0.0,  # SpecAugment off on both sides: the same compute
        layerdrop=0.0,
    )
    Wav2Vec2Model(config).save_pretrained(folder)
    Wav2Vec2FeatureExtractor(do_normalize=True, return_attention_mask=True).save_pretrained(folder)
    return str(folder)


# openai-whisper dimensions: "tiny" is the real tiny model's shape (39 M params), "stand-in" the
# 64-wide model the cascade tests use (tests/helpers/cascade_testing.py)
WHISPER_DIMS = {
    "tiny": dict(n_audio_state=384, n_audio_head=6, n_audio_layer=4, n_text_state=384, n_text_head=6, n_text_layer=4),
    "stand-in": dict(n_audio_state=64, n_audio_head=2, n_audio_layer=2, n_text_state=64, n_text_head=2, n_text_layer=2),
}


def save_whisper(path: str | Path, dims: str = "tiny", seed: int = 0) -> str:
    """Save a random openai-whisper checkpoint (``{"dims", "model_state_dict"}``) for ``whisper.load_model``.

    Weights are drawn with a spread (like tests/helpers/cascade_testing.py) so the decoder's tokens
    depend on the audio: the transcript comparison then compares something.
    """
    from tests.helpers.speech_stand_ins import random_whisper_checkpoint

    shape = dict(n_mels=80, n_audio_ctx=1500, n_vocab=51865, n_text_ctx=448, **WHISPER_DIMS[dims])
    # weights shrink with width so that wider models' activations stay in range
    std = 0.2 * (64 / shape["n_audio_state"]) ** 0.5
    return str(random_whisper_checkpoint(path, shape, seed, std))
