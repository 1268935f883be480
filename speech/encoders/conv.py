"""A small depthwise-separable 1-D conv encoder over LogMel, trained from scratch.

The recipe the probe found to learn in minutes on 2 CPU cores (d=192-256, kernel 11,
stride-3 subsampling, 5-6 residual blocks, 0.3-0.5 M parameters). The cascade's CTC
recognizer is built on the same class, so its encoder weights load here (``init_from``).
"""

from __future__ import annotations

import torch
from torch import nn

from speech.encoders.base import EncoderOutput, SpeechEncoder, frames_after_conv
from speech.features import FRAMES_PER_SECOND, N_MELS, LogMel


class SeparableBlock(nn.Module):
    """Residual block: depthwise conv (kernel k) -> pointwise conv -> BatchNorm -> GELU -> dropout."""

    def __init__(self, dim: int, kernel: int, dropout: float):
        super().__init__()
        self.depthwise = nn.Conv1d(dim, dim, kernel, padding=kernel // 2, groups=dim)
        self.pointwise = nn.Conv1d(dim, dim, 1)
        self.norm = nn.BatchNorm1d(dim)
        self.act = nn.GELU()
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``x (B, D, F)``, ``mask (B, 1, F)`` -> ``(B, D, F)``; padding re-zeroed so it never leaks in."""
        y = self.drop(self.act(self.norm(self.pointwise(self.depthwise(x)))))
        return (x + y) * mask


class ConvEncoder(SpeechEncoder):
    """LogMel -> stride-``stride`` conv -> ``num_blocks`` residual separable blocks.

    Args:
        dim: channel width D.
        num_blocks: residual blocks.
        kernel: depthwise kernel size (frames).
        stride: subsampling of the first convolution (3 -> ~33 frames/s).
        dropout: dropout inside the blocks.
        n_mels: log-mel bins.
        specaugment: SpecAugment in training mode.

    ``layers`` holds the subsampled input and every block's output: ``num_blocks + 1`` entries.

    Example:
        >>> enc = ConvEncoder(dim=32, num_blocks=2)
        >>> out = enc(torch.randn(2, 16000), torch.tensor([16000, 8000]))
        >>> tuple(out.hidden.shape), out.lengths.tolist(), len(out.layers)
        ((2, 33, 32), [33, 17], 3)
    """

    def __init__(
        self,
        dim: int = 256,
        num_blocks: int = 6,
        kernel: int = 11,
        stride: int = 3,
        dropout: float = 0.1,
        n_mels: int = N_MELS,
        specaugment: bool = True,
    ):
        super().__init__()
        self.dim, self.num_layers = dim, num_blocks + 1
        self.stride, self.kernel = stride, kernel
        self.features = self.front_end(n_mels, specaugment)
        self.subsample = nn.Conv1d(n_mels, dim, kernel_size=stride, stride=stride)
        self.subsample_norm = nn.BatchNorm1d(dim)
        self.blocks = nn.ModuleList(SeparableBlock(dim, kernel, dropout) for _ in range(num_blocks))
        self.preprocess_config = {
            **self.features.config,
            "frames_per_second": FRAMES_PER_SECOND / stride,
            "encoder": {"dim": dim, "num_blocks": num_blocks, "kernel": kernel, "stride": stride},
        }

    def front_end(self, n_mels: int, specaugment: bool) -> nn.Module:
        """The input -> ``(B, F, n_mels)`` frames module (log-mel); the image encoder swaps in its own."""
        return LogMel(n_mels=n_mels, specaugment=specaugment)

    def forward(self, waves: torch.Tensor, lengths: torch.Tensor) -> EncoderOutput:
        """``waves (B, T)``, ``lengths (B,)`` samples -> hidden ``(B, F', D)`` with F' ~ F / stride."""
        feats, frames = self.features(waves, lengths)  # (B, F, C)
        x = self.subsample(feats.transpose(1, 2))  # (B, D, F')
        out_lengths = frames_after_conv(frames, self.stride, self.stride).clamp(min=1, max=x.shape[-1])
        mask = (torch.arange(x.shape[-1], device=x.device)[None, :] < out_lengths[:, None]).unsqueeze(1)
        x = torch.nn.functional.gelu(self.subsample_norm(x)) * mask
        layers = [x]
        for block in self.blocks:
            x = block(x, mask)
            layers.append(x)
        layers_t = tuple(layer.transpose(1, 2) for layer in layers)
        return EncoderOutput(hidden=layers_t[-1], lengths=out_lengths, layers=layers_t)

    def lora_targets(self) -> list[str]:
        return ["pointwise", "subsample"]
