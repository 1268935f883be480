"""speechbrain's ECAPA-TDNN over speechbrain's Fbank, trained from scratch.

The frame-level part of ECAPA-TDNN (SE-Res2Net blocks and multi-layer feature
aggregation) is the encoder; its own attentive statistics pooling is left out, because
pooling is the classifier's choice (``speech.pooling.AttentiveStatsPooling`` is the same
idea, masked).
"""

from __future__ import annotations

import torch

from speech.encoders.base import EncoderOutput, SpeechEncoder
from speech.features import HOP_LENGTH, SpecAugment, masked_normalize


class EcapaEncoder(SpeechEncoder):
    """Fbank -> ECAPA-TDNN blocks -> MFA frames ``(B, F, channels[-1])`` at 100 frames/s.

    Args:
        n_mels: Fbank bins.
        channels: ECAPA channel widths (first four: blocks; last: the aggregation).
        kernel_sizes, dilations: per block.
        attention_channels: width of ECAPA's attention (unused without its pooling, kept
            so its checkpoints load).
        res2net_scale, se_channels: SE-Res2Net settings.
        specaugment: time/frequency masking in training.
    """

    def __init__(
        self,
        n_mels: int = 40,
        channels: list[int] = (128, 128, 128, 128, 384),
        kernel_sizes: list[int] = (5, 3, 3, 3, 1),
        dilations: list[int] = (1, 2, 3, 4, 1),
        attention_channels: int = 64,
        res2net_scale: int = 4,
        se_channels: int = 64,
        specaugment: bool = True,
    ):
        super().__init__()
        from speechbrain.lobes.features import Fbank
        from speechbrain.lobes.models.ECAPA_TDNN import ECAPA_TDNN

        self.fbank = Fbank(n_mels=n_mels)
        self.tdnn = ECAPA_TDNN(
            input_size=n_mels,
            channels=list(channels),
            kernel_sizes=list(kernel_sizes),
            dilations=list(dilations),
            attention_channels=attention_channels,
            res2net_scale=res2net_scale,
            se_channels=se_channels,
            lin_neurons=8,
        )
        # the speaker-embedding pooling and projection are not used: drop their weights
        del self.tdnn.asp, self.tdnn.asp_bn, self.tdnn.fc
        self.augment = SpecAugment() if specaugment else None
        self.dim, self.num_layers = channels[-1], 0  # block widths differ from dim: no per-layer outputs
        self.preprocess_config = {
            "features": "speechbrain-fbank",
            "n_mels": n_mels,
            "hop_length": HOP_LENGTH,
            "normalize": "utterance",
            "encoder": {"channels": list(channels), "kernel_sizes": list(kernel_sizes), "dilations": list(dilations)},
        }

    def lora_targets(self) -> list[str]:
        return ["conv"]

    def forward(self, waves: torch.Tensor, lengths: torch.Tensor) -> EncoderOutput:
        """``waves (B, T)``, ``lengths (B,)`` -> ``(B, F, channels[-1])``, F = T // 160 + 1."""
        from speechbrain.lobes.models.ECAPA_TDNN import TDNNBlock

        with torch.autocast(device_type=waves.device.type, enabled=False):
            feats = self.fbank(waves.float())  # (B, F, n_mels)
        frames = (torch.div(lengths, HOP_LENGTH, rounding_mode="floor") + 1).clamp(max=feats.shape[1])
        feats = masked_normalize(feats, frames)
        if self.augment is not None:
            feats = self.augment(feats, frames)
        relative = frames.float() / feats.shape[1]
        mask = (torch.arange(feats.shape[1], device=feats.device)[None, :] < frames[:, None]).unsqueeze(1)
        x = feats.transpose(1, 2)
        outputs = []
        for block in self.tdnn.blocks:
            x = block(x) if isinstance(block, TDNNBlock) else block(x, lengths=relative)
            x = x * mask
            outputs.append(x)
        x = self.tdnn.mfa(torch.cat(outputs[1:], dim=1)) * mask
        return EncoderOutput(hidden=x.transpose(1, 2), lengths=frames, layers=None)
