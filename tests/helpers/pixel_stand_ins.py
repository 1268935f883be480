"""A tiny random PIXEL checkpoint saved as Team-PIXEL ships it: config.json of model_type "pixel"
(PIXELForPreTraining), transformers-4.17 key names, a decoder; read back through ViT-MAE (vision.pixel)."""

from __future__ import annotations

import json
from pathlib import Path

import torch

# Team-PIXEL/pixel-base's config.json (huggingface.co/Team-PIXEL/pixel-base), sizes shrunk
PIXEL_CONFIG = {
    "architectures": ["PIXELForPreTraining"], "attention_probs_dropout_prob": 0.1, "decoder_hidden_size": 16,
    "decoder_intermediate_size": 32, "decoder_num_attention_heads": 2, "decoder_num_hidden_layers": 1,
    "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "hidden_size": 32, "image_size": [16, 8464],
    "initializer_range": 0.02, "intermediate_size": 64, "layer_norm_eps": 1e-12, "mask_ratio": 0.25,
    "model_type": "pixel", "norm_pix_loss": True, "num_attention_heads": 2, "num_channels": 3,
    "num_hidden_layers": 2, "patch_size": 16, "qkv_bias": True, "torch_dtype": "float32",
    "transformers_version": "4.17.0",
}  # fmt: skip


def legacy_name(key: str) -> str:
    """transformers-5 ViT-MAE key -> the 4.17 name a PIXEL checkpoint holds."""
    key = key.replace("vit.layers.", "vit.encoder.layer.").replace("mlp.fc1", "intermediate.dense")
    for new, old in (("q_proj", "attention.query"), ("k_proj", "attention.key"), ("v_proj", "attention.value")):
        key = key.replace(f"attention.{new}", f"attention.{old}")
    return key.replace("attention.o_proj", "attention.output.dense").replace("mlp.fc2", "output.dense")


def save_tiny_pixel(folder: Path, **changes) -> Path:
    """A tiny PIXEL checkpoint in ``folder`` (``changes`` replace config values, e.g. ``image_size``)."""
    from safetensors.torch import save_file
    from transformers import ViTMAEConfig, ViTMAEForPreTraining

    folder.mkdir(parents=True, exist_ok=True)
    config = PIXEL_CONFIG | changes
    torch.manual_seed(0)
    shape = {k: v for k, v in config.items() if k not in ("architectures", "model_type")}
    model = ViTMAEForPreTraining(ViTMAEConfig(**shape))
    state = {legacy_name(k): v.contiguous() for k, v in model.state_dict().items()}
    assert "vit.encoder.layer.0.attention.attention.query.weight" in state  # as PIXEL's checkpoint names it
    save_file(state, str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return folder
