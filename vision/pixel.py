"""PIXEL-family pixel language models (``Team-PIXEL/pixel-base``...) as the image tower, by hub id or folder.

Their ``config.json`` declares ``"model_type": "pixel"`` and ``PIXELForPreTraining`` (github.com/xplip/pixel,
``src/pixel/models/pixel``, written for transformers 4.17), which transformers' Auto classes do not
know (``AutoConfig`` raises "does not recognize this architecture"). The encoder is ViT-MAE's, so
``ViTMAEConfig`` / ``ViTMAEModel`` read it by class: the decoder's weights are left out, and
transformers 5 maps the 4.17 key names (``attention.attention.query`` -> ``q_proj``). Two changes
for classification: ``mask_ratio`` 0 (pretraining hid 25% of the patches) and position embeddings
interpolated to the image's grid: PIXEL was pretrained on one 16-pixel line of 529 patches
(``image_size [16, 8464]``), our images are 2-D blocks of text, a layout it never saw.

Only a head classifies with it (``model.loss: head``): it has no text tower for prompts.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from open_clip.transform import image_transform
from torch import nn

from vision.bundle import PIXEL_PREFIX, ByteTokenizer, ClipBundle
from workbench.errors import ConfigError

MEAN = STD = (0.5, 0.5, 0.5)  # pixel values in [-1, 1]


def load_encoder(path: str, pretrained: bool, field: str):
    """The ViT-MAE encoder of the PIXEL checkpoint at ``path`` (hub id or folder), masking off; its hub
    weights, or random ones of the same shape. ``field`` names the config field in errors."""
    from transformers import ViTMAEConfig, ViTMAEModel

    try:
        config = ViTMAEConfig.from_pretrained(path, mask_ratio=0.0)
    except OSError as error:
        raise ConfigError(f"{field}: no PIXEL config at '{path}' ({error})") from None
    return ViTMAEModel.from_pretrained(path, config=config) if pretrained else ViTMAEModel(config)


class PixelTower(nn.Module):
    """ViT-MAE encoder (no masking) -> mean of the patch states -> linear to ``embed_dim``.

    Images ``[B, 3, H, W]`` (H, W multiples of the patch size) -> ``[B, embed_dim]``.
    """

    def __init__(self, path: str, embed_dim: int, image_size: tuple[int, int], pretrained: bool):
        super().__init__()
        self.encoder = load_encoder(path, pretrained, "model.model_name")
        patch = self.encoder.config.patch_size
        if any(side % patch for side in image_size):
            raise ConfigError(f"model.image_size: {list(image_size)} must be multiples of the patch size {patch}")
        self.proj = nn.Linear(self.encoder.config.hidden_size, embed_dim)
        self.output_dim, self.image_size = embed_dim, tuple(image_size)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(pixel_values=images, interpolate_pos_encoding=True).last_hidden_state
        return self.proj(hidden[:, 1:].mean(dim=1))  # [CLS] left out: it was not trained to pool


class PixelModel(nn.Module):
    """What :class:`vision.module.VisionCLIP` uses of an open_clip model: ``visual``, ``encode_image``,
    ``logit_scale``; parameters under ``visual.`` count as the image tower."""

    def __init__(self, visual: PixelTower):
        super().__init__()
        self.visual = visual
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    def encode_image(self, images: torch.Tensor, normalize: bool = False) -> torch.Tensor:
        features = self.visual(images)
        return F.normalize(features, dim=-1) if normalize else features

    def encode_text(self, tokens: torch.Tensor, normalize: bool = False) -> torch.Tensor:
        raise ConfigError("model: a PIXEL tower has no text tower; classify with model.loss=head")


def load_pixel(model_name: str, pretrained: str | None, aug_cfg: dict | None, image_size, embed_dim: int):
    """A :class:`vision.bundle.ClipBundle` around a PIXEL encoder; ``pretrained="weights"`` loads its
    weights, None builds the architecture with random weights (trained from scratch)."""
    if pretrained not in (None, "weights"):
        raise ConfigError(f"model.pretrained: '{pretrained}' for a PIXEL tower: 'weights' (the hub's) or null")
    size = tuple(image_size)
    tower = PixelTower(model_name[len(PIXEL_PREFIX) :], embed_dim, size, pretrained == "weights")
    preprocess = {"size": size, "mean": MEAN, "std": STD, "interpolation": "bicubic", "resize_mode": "shortest"}

    def transform(train: bool):
        return image_transform(size, train, MEAN, STD, resize_mode="shortest", aug_cfg=aug_cfg if train else None)

    return ClipBundle(PixelModel(tower), transform(True), transform(False), ByteTokenizer(), None, preprocess)
