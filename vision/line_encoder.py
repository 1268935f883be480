"""The image front end of the CTC recognizer: text lines read as columns by the speech ConvEncoder.

:func:`vision.lines.line_strip` turns an image into one ink strip of height ``height``;
:class:`LineColumns` turns the strip's columns into frames (each column's ``height`` pixels,
or the features of a small 2-D conv stem); from there the frames go through the very
:class:`~speech.encoders.conv.ConvEncoder` the speech recognizer uses (stride-``stride``
subsampling, residual separable blocks), so :class:`cascade.ctc.CTCRecognizer`, its
program and its checkpoint loader are the speech ones. The encoder carries its front end
(:meth:`LineEncoder.prepare`, ``preprocess_config``) and ``signal = "image"``, so a
checkpoint alone tells the cascade it reads images and how to prepare them.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from speech.encoders.conv import ConvEncoder
from vision import lines


class LineColumns(nn.Module):
    """``(B, H, W)`` ink strips -> ``(B, W, C)`` column frames.

    Args:
        height: strip height H in pixels.
        stem_channels: 0: a frame is the column's H pixels (C = H); else two 3x3 conv layers of
            this many channels, the second halving the height (C = channels * ceil(H / 2)),
            which sees strokes rather than pixels and tolerates small vertical shifts.
    """

    def __init__(self, height: int, stem_channels: int = 0):
        super().__init__()
        self.height, self.channels = height, stem_channels
        self.stem = None
        self.dim = height
        if stem_channels:
            c = stem_channels
            self.stem = nn.Sequential(
                nn.Conv2d(1, c, 3, padding=1),
                nn.BatchNorm2d(c),
                nn.GELU(),
                nn.Conv2d(c, c, 3, stride=(2, 1), padding=1),
                nn.BatchNorm2d(c),
                nn.GELU(),
            )
            self.dim = c * ((height + 1) // 2)

    @property
    def config(self) -> dict:
        return {"signal": "image", "height": self.height, "stem_channels": self.channels}

    def forward(self, strips: torch.Tensor, widths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``strips (B, H, W)`` in [0, 1], ``widths (B,)`` columns -> ``(B, W, C)`` frames, ``widths``."""
        if strips.shape[1] != self.height:
            raise ValueError(f"line strips are {strips.shape[1]} pixels high, the encoder expects {self.height}")
        x = strips
        if self.stem is not None:
            x = self.stem(strips[:, None]).flatten(1, 2)  # (B, C, W)
        else:
            x = x * 2 - 1  # centred, as normalised log-mel frames are
        mask = torch.arange(x.shape[-1], device=x.device)[None, :] < widths[:, None]
        return (x * mask[:, None]).transpose(1, 2), widths


class LineEncoder(ConvEncoder):
    """Images of text -> frames: :func:`vision.lines.line_strip` + :class:`LineColumns` + the conv encoder.

    Args:
        height: strip height in pixels (the line's glyphs are scaled to about 0.7 of it).
        stem_channels: see :class:`LineColumns` (0: raw columns).
        dim, num_blocks, kernel, stride, dropout: as :class:`~speech.encoders.conv.ConvEncoder`;
            ``stride`` columns make one frame, ``kernel`` frames one depthwise window.

    Example:
        >>> enc = LineEncoder(height=16, dim=32, num_blocks=1, stride=4)
        >>> out = enc(torch.rand(2, 16, 40), torch.tensor([40, 20]))
        >>> tuple(out.hidden.shape), out.lengths.tolist()
        ((2, 10, 32), [10, 5])
    """

    signal = "image"

    def __init__(
        self,
        height: int = 24,
        stem_channels: int = 0,
        dim: int = 128,
        num_blocks: int = 4,
        kernel: int = 11,
        stride: int = 4,
        dropout: float = 0.1,
    ):
        # plain ints may be set before nn.Module.__init__; front_end() reads them during it
        self.height, self.stem_channels = height, stem_channels
        width = LineColumns(height, stem_channels).dim
        super().__init__(dim, num_blocks, kernel, stride, dropout, n_mels=width, specaugment=False)
        self.preprocess_config = {  # the conv encoder's, with columns instead of audio frames
            **self.features.config,
            "lines": {"max_skew": lines.MAX_SKEW, "line_gap": lines.LINE_GAP, "margin": lines.MARGIN},
            "encoder": self.preprocess_config["encoder"],
        }

    def front_end(self, n_mels: int, specaugment: bool) -> nn.Module:
        return LineColumns(self.height, self.stem_channels)

    def prepare(self, grey: np.ndarray) -> np.ndarray:
        """``(H, W)`` uint8 grey image -> ``(height, W')`` float32 strip: what :meth:`forward` reads."""
        return lines.line_strip(grey, self.height)
