"""The one interface every speech encoder implements.

``forward(waves (B, T) float32 16 kHz, lengths (B,) valid samples) -> EncoderOutput``.
Each encoder owns its front end (log-mel, fbank, raw waveform normalisation) so the
checkpoint, the cascade and the demo can never disagree about features; the settings are
in ``preprocess_config``, which checkpoints carry.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class EncoderOutput:
    """What an encoder returns.

    Attributes:
        hidden: ``(B, F, D)`` last-layer frames.
        lengths: ``(B,)`` valid frames per item.
        layers: every layer's ``(B, F, D)`` output (input embedding first where the
            model has one), or None when not requested/available.
    """

    hidden: torch.Tensor
    lengths: torch.Tensor
    layers: tuple[torch.Tensor, ...] | None = None

    def mask(self) -> torch.Tensor:
        """``(B, F)`` True on valid frames."""
        frames = torch.arange(self.hidden.shape[1], device=self.hidden.device)
        return frames[None, :] < self.lengths[:, None]


class SpeechEncoder(nn.Module):
    """Base class: waves -> frames.

    Subclasses set ``dim`` (output width D), ``num_layers`` (entries of ``layers``) and
    ``preprocess_config`` (a JSON-able dict describing the front end).
    """

    dim: int
    num_layers: int
    preprocess_config: dict

    def forward(self, waves: torch.Tensor, lengths: torch.Tensor) -> EncoderOutput:  # pragma: no cover
        raise NotImplementedError

    @property
    def config_key(self) -> dict:
        """Identifies this encoder's outputs in caches: class, preprocessing, size."""
        return {
            "class": f"{type(self).__module__}.{type(self).__qualname__}",
            "preprocess": self.preprocess_config,
            "dim": self.dim,
            "num_layers": self.num_layers,
        }

    def lora_targets(self) -> list[str]:
        """Module name patterns LoRA should adapt (peft ``target_modules``)."""
        return []


def frames_after_conv(lengths: torch.Tensor, kernel: int, stride: int, padding: int = 0) -> torch.Tensor:
    """Output length of a 1-D convolution for each input length ``(B,)``."""
    return torch.div(lengths + 2 * padding - kernel, stride, rounding_mode="floor") + 1
