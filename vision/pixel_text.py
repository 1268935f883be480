"""A PIXEL-family model as the cascade's text classifier: the text is rendered, not tokenised, and read as pixels.

``cascade.fit`` passes strings (a transcript, a romanization, a gold text); each is drawn as one line of
16-pixel patches by :func:`vision.pixel_render.render_line` (PIXEL-M4's bigram rendering) and encoded
by the checkpoint's ViT-MAE encoder (:func:`vision.pixel.load_encoder`: Team-PIXEL/pixel-m4,
Team-PIXEL/pixel-base, or a folder). As in PIXEL's own classifiers, the encoder attends to the text
patches and the black end patch only (the blank ones are masked out), their states are averaged and a
linear head classifies them. No OCR and no tokenizer: the rendered-text cascade.

The line is as wide as the checkpoint's ``image_size`` (PIXEL: 16 x 8464 = 529 patches), so its
position embeddings are used as pretrained, not interpolated.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from cascade.text_models import TextModel
from vision.bundle import PIXEL_PREFIX
from vision.pixel import load_encoder
from vision.pixel_render import LineSettings, render_line
from workbench.errors import ConfigError

FIELD = "model.model.init_args.model"


class PixelTextClassifier(TextModel):
    """Strings -> rendered lines -> PIXEL encoder (text patches attended) -> mean -> dropout -> linear.

    Args:
        model: ``hf-pixel:<hub id or folder>`` of a PIXEL-family checkpoint (``config.json`` readable as
            ViT-MAE's: model_type ``pixel``).
        pretrained: load its weights (False: the same architecture with random weights).
        font_px: character height in pixels (PIXEL-M4: font size 8 at 120 dpi = 13 px).
        dropout: on the pooled state.
    """

    def __init__(
        self,
        model: str = "hf-pixel:Team-PIXEL/pixel-m4",
        pretrained: bool = True,
        font_px: int = 13,
        dropout: float = 0.1,
    ):
        super().__init__()
        if not model.startswith(PIXEL_PREFIX):
            raise ConfigError(f"{FIELD}: '{model}' must name a PIXEL checkpoint as {PIXEL_PREFIX}<hub id or folder>")
        self.name = model
        self.encoder = load_encoder(model[len(PIXEL_PREFIX) :], pretrained, FIELD)
        config = self.encoder.config
        size = config.image_size
        height, width = (size, size) if isinstance(size, int) else size
        if height != config.patch_size or width % config.patch_size:
            raise ConfigError(
                f"{FIELD}: image_size {config.image_size} is not one line of {config.patch_size}-pixel patches"
            )
        self.line = LineSettings(patch=config.patch_size, patches=width // config.patch_size, font_px=font_px)
        self.dropout = nn.Dropout(dropout)
        self.head: nn.Linear | None = None

    def build(self, num_classes: int, label_names: list[str] | None = None) -> None:
        if self.head is None or self.head.out_features != num_classes:
            self.head = nn.Linear(self.encoder.config.hidden_size, num_classes)

    def render(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Pixel values ``[B, C, H, W]`` in [0, 1] (PIXEL normalises nothing) and the attended patches ``[B]``."""
        lines = [render_line(text or "", self.line) for text in texts]
        grey = torch.from_numpy(np.stack([pixels for pixels, _ in lines])).float().div_(255)
        pixels = grey[:, None].expand(-1, self.encoder.config.num_channels, -1, -1)
        return pixels, torch.tensor([patches for _, patches in lines])

    def pool(self, pixels: torch.Tensor, attended: torch.Tensor) -> torch.Tensor:
        """Mean encoder state ``[B, D]`` of the first ``attended`` patches of each line; the rest are masked out."""
        batch, patches, device = pixels.shape[0], self.line.patches, pixels.device
        keep = torch.arange(patches, device=device)[None] < attended.to(device)[:, None]  # text + end patch
        attention = torch.cat([keep.new_ones(batch, 1), keep], dim=1).long()  # the [CLS] first
        order = torch.arange(patches, dtype=torch.float, device=device).expand(batch, -1)  # ViT-MAE's shuffle: none
        hidden = self.encoder(pixel_values=pixels, noise=order, attention_mask=attention).last_hidden_state[:, 1:]
        weights = keep.to(hidden.dtype)[..., None]
        return (hidden * weights).sum(1) / weights.sum(1)

    def forward(self, texts: list[str], languages: list[str] | None = None) -> torch.Tensor:
        pixels, attended = self.render(texts)
        return self.head(self.dropout(self.pool(pixels.to(self.head.weight.device), attended)))

    def make_optimizers(self, lr: float, weight_decay: float) -> list[torch.optim.Optimizer]:
        named = list(self.named_parameters())
        groups = [
            {"params": [p for _, p in named if p.ndim > 1], "weight_decay": weight_decay},
            {"params": [p for _, p in named if p.ndim <= 1], "weight_decay": 0.0},
        ]
        return [torch.optim.AdamW(groups, lr=lr)]
