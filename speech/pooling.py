"""Frames -> one vector per utterance, always masked to the valid frames.

- :class:`MeanPooling`: masked mean.
- :class:`MeanMaxPooling`: masked mean and max, concatenated (the probe's recipe).
- :class:`AttentiveStatsPooling`: attention-weighted mean and standard deviation.
- :class:`LayerWeightedSum`: SUPERB-style softmax-weighted sum over all encoder layers,
  applied before pooling.
"""

from __future__ import annotations

import torch
from torch import nn


def _mask(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """``(B, F, D)``, ``(B,)`` -> ``(B, F, 1)`` float mask of valid frames."""
    frames = torch.arange(x.shape[1], device=x.device)
    return (frames[None, :] < lengths[:, None]).unsqueeze(-1).to(x.dtype)


class Pooling(nn.Module):
    """Base: ``forward(x (B, F, D), lengths (B,)) -> (B, out_dim(D))``."""

    def out_dim(self, dim: int) -> int:
        return dim


class MeanPooling(Pooling):
    """Masked mean over valid frames."""

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        mask = _mask(x, lengths)
        return (x * mask).sum(1) / mask.sum(1).clamp(min=1)


class MeanMaxPooling(Pooling):
    """Masked mean and masked max, concatenated: ``(B, 2D)``."""

    def out_dim(self, dim: int) -> int:
        return 2 * dim

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        mask = _mask(x, lengths)
        mean = (x * mask).sum(1) / mask.sum(1).clamp(min=1)
        biggest = x.masked_fill(mask == 0, torch.finfo(x.dtype).min).amax(1)
        return torch.cat([mean, biggest], dim=-1)


class AttentiveStatsPooling(Pooling):
    """Attentive statistics pooling (Okabe et al., 2018): weighted mean and std, ``(B, 2D)``.

    Args:
        dim: input width D (set by the classifier when left at 0).
        attention_dim: hidden width of the attention scorer.
    """

    def __init__(self, dim: int = 0, attention_dim: int = 128):
        super().__init__()
        self.attention_dim = attention_dim
        self.scorer: nn.Module | None = self._scorer(dim) if dim else None

    def _scorer(self, dim: int) -> nn.Module:
        return nn.Sequential(nn.Linear(dim, self.attention_dim), nn.Tanh(), nn.Linear(self.attention_dim, 1))

    def out_dim(self, dim: int) -> int:
        if self.scorer is None:
            self.scorer = self._scorer(dim)
        return 2 * dim

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        mask = _mask(x, lengths)
        scores = self.scorer(x).masked_fill(mask == 0, float("-inf"))  # (B, F, 1)
        weights = torch.softmax(scores.float(), dim=1).to(x.dtype)
        mean = (weights * x).sum(1)
        var = (weights * (x - mean[:, None]) ** 2).sum(1)
        return torch.cat([mean, torch.sqrt(var.clamp(min=1e-6))], dim=-1)


class LayerWeightedSum(nn.Module):
    """SUPERB-style learned softmax weights over ``num_layers`` encoder layers.

    Example:
        >>> mix = LayerWeightedSum(3)
        >>> mix(tuple(torch.full((1, 2, 4), float(i)) for i in range(3)))[0, 0, 0].item()
        1.0
    """

    def __init__(self, num_layers: int):
        super().__init__()
        self.weights = nn.Parameter(torch.zeros(num_layers))

    def forward(self, layers: tuple[torch.Tensor, ...] | torch.Tensor) -> torch.Tensor:
        """``L x (B, F, D)`` (or stacked ``(L, B, F, D)``) -> ``(B, F, D)``."""
        stacked = layers if isinstance(layers, torch.Tensor) else torch.stack(layers)
        if stacked.shape[0] != self.weights.shape[0]:
            raise ValueError(f"expected {self.weights.shape[0]} layers, got {stacked.shape[0]}")
        w = torch.softmax(self.weights, dim=0).to(stacked.dtype)
        return (w[:, None, None, None] * stacked).sum(0)
