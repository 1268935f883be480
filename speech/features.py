"""The from-scratch front end: 16 kHz waves -> normalised 40-bin log-mel at 100 frames/s.

Shared by the E2E ConvEncoder and the cascade's CTC recognizer, so both see identical
features. Constants with units live here once. The log-mel of a clip is computed once and
then read from :mod:`speech.feature_cache` (normalisation and SpecAugment run on the cached
tensor), in training, evaluation, the frozen-encoder path and the demo alike.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torchaudio
from torch import nn

from speech.feature_cache import FeatureCache, cache_root, front_end_digest
from workbench.audio import SAMPLE_RATE

N_MELS = 40  # mel bins
N_FFT = 400  # samples: 25 ms window at 16 kHz
HOP_LENGTH = 160  # samples: 10 ms -> 100 frames/s
FRAMES_PER_SECOND = SAMPLE_RATE // HOP_LENGTH  # 100
LOG_FLOOR = 1e-6  # added before the log so silence stays finite


def num_frames(lengths: torch.Tensor) -> torch.Tensor:
    """Valid samples ``(B,)`` -> valid log-mel frames ``(B,)`` (centered STFT: 1 + samples // hop)."""
    return torch.div(lengths, HOP_LENGTH, rounding_mode="floor") + 1


def masked_normalize(feats: torch.Tensor, lengths: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Per-utterance, per-bin mean/variance normalisation over valid frames only.

    Args:
        feats: ``(B, F, C)``.
        lengths: ``(B,)`` valid frames.
    Returns:
        ``(B, F, C)``, padded frames set to 0.
    """
    mask = (torch.arange(feats.shape[1], device=feats.device)[None, :] < lengths[:, None]).unsqueeze(-1)
    count = lengths.clamp(min=1).to(feats.dtype)[:, None, None]
    mean = (feats * mask).sum(1, keepdim=True) / count
    var = (((feats - mean) * mask) ** 2).sum(1, keepdim=True) / count
    return ((feats - mean) / torch.sqrt(var + eps)) * mask


class SpecAugment(nn.Module):
    """Time and frequency masking (Park et al., 2019); active only in training mode.

    Args:
        freq_masks: number of frequency masks.
        freq_width: maximum width of a frequency mask (bins).
        time_masks: number of time masks.
        time_width: maximum width of a time mask, as a fraction of the utterance's valid frames.
    """

    def __init__(self, freq_masks: int = 2, freq_width: int = 8, time_masks: int = 2, time_width: float = 0.05):
        super().__init__()
        self.freq_masks, self.freq_width = freq_masks, freq_width
        self.time_masks, self.time_width = time_masks, time_width

    def forward(self, feats: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``(B, F, C)`` -> ``(B, F, C)`` with masked regions set to 0 (the normalised mean)."""
        if not self.training:
            return feats
        batch, frames, bins = feats.shape
        keep = torch.ones_like(feats, dtype=torch.bool)
        bin_idx = torch.arange(bins, device=feats.device)
        frame_idx = torch.arange(frames, device=feats.device)
        for _ in range(self.freq_masks):
            width = torch.randint(0, self.freq_width + 1, (batch, 1), device=feats.device)
            start = (torch.rand(batch, 1, device=feats.device) * (bins - width + 1)).long()
            keep &= ~((bin_idx[None] >= start) & (bin_idx[None] < start + width))[:, None, :]
        for _ in range(self.time_masks):
            max_w = (lengths.float() * self.time_width).long().clamp(min=1)[:, None]
            width = (torch.rand(batch, 1, device=feats.device) * (max_w + 1)).long()
            start = (torch.rand(batch, 1, device=feats.device) * (lengths[:, None] - width + 1).clamp(min=1)).long()
            keep &= ~((frame_idx[None] >= start) & (frame_idx[None] < start + width))[:, :, None]
        return feats * keep


class LogMel(nn.Module):
    """16 kHz waves -> per-utterance normalised log-mel frames (+ SpecAugment in training).

    Args:
        n_mels: mel bins.
        specaugment: apply :class:`SpecAugment` in training mode.
        freq_masks, freq_width, time_masks, time_width: SpecAugment settings.
        cache: read and write the on-disk feature cache (:mod:`speech.feature_cache`; its folder
            is ``WORKBENCH_FEATURE_CACHE``). Used on CPU only: on an accelerator the spectrogram
            costs less than copying the clips back to hash them.

    Example:
        >>> feats, lengths = LogMel()(torch.randn(2, 16000), torch.tensor([16000, 8000]))
        >>> tuple(feats.shape), lengths.tolist()
        ((2, 101, 40), [101, 51])
    """

    def __init__(
        self,
        n_mels: int = N_MELS,
        specaugment: bool = True,
        freq_masks: int = 2,
        freq_width: int = 8,
        time_masks: int = 2,
        time_width: float = 0.05,
        cache: bool = True,
    ):
        super().__init__()
        self.n_mels, self.cache = n_mels, cache
        self._caches: dict[Path, FeatureCache] = {}
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=SAMPLE_RATE, n_fft=N_FFT, hop_length=HOP_LENGTH, n_mels=n_mels
        )
        self.augment = SpecAugment(freq_masks, freq_width, time_masks, time_width) if specaugment else None

    @property
    def config(self) -> dict:
        """What a checkpoint must carry to reproduce these features."""
        return {
            "features": "logmel",
            "sample_rate": SAMPLE_RATE,
            "n_mels": self.n_mels,
            "n_fft": N_FFT,
            "hop_length": HOP_LENGTH,
            "normalize": "utterance",
        }

    def log_mel(self, waves: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``waves (B, T)``, ``lengths (B,)`` samples -> un-normalised log-mel ``(B, F, n_mels)``, frames ``(B,)``."""
        # zero-pad the right edge first: the last valid frames then see zeros whether or not the
        # item is padded in its batch (the STFT's reflect padding would differ), so an item's
        # features never depend on its batch mates (which the feature cache relies on)
        frames = num_frames(lengths)
        waves = torch.nn.functional.pad(waves.float(), (0, N_FFT // 2))
        with torch.autocast(device_type=waves.device.type, enabled=False):
            power = self.mel(waves)  # (B, n_mels, F)
            feats = torch.log(power + LOG_FLOOR).transpose(1, 2)
        feats = feats[:, : int(frames.max())]
        return feats, frames.clamp(max=feats.shape[1])

    def feature_cache(self) -> FeatureCache | None:
        """The on-disk cache of this front end's features, or None when caching is off."""
        root = cache_root() if self.cache else None
        if root is None:
            return None
        if root not in self._caches:
            tensors = {"mel_fb": self.mel.mel_scale.fb, "window": self.mel.spectrogram.window}
            config = {**self.spectrogram_config, "log_floor": LOG_FLOOR}
            self._caches[root] = FeatureCache(root, front_end_digest(config, tensors), self.n_mels, config)
        return self._caches[root]

    @property
    def spectrogram_config(self) -> dict:
        """Every setting of the mel spectrogram (a change is a new feature-cache folder)."""
        spec, mel = self.mel.spectrogram, self.mel.mel_scale
        return {
            **self.config,
            "power": spec.power,
            "center": spec.center,
            "pad_mode": spec.pad_mode,
            "normalized": spec.normalized,
            "win_length": spec.win_length,
            "f_min": mel.f_min,
            "f_max": mel.f_max,
            "mel_scale": mel.mel_scale,
            "norm": mel.norm,
            "right_pad": N_FFT // 2,
        }

    def forward(self, waves: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``waves (B, T)`` float32 16 kHz, ``lengths (B,)`` valid samples -> ``(B, F, n_mels)``, ``(B,)`` frames."""
        cache = self.feature_cache() if waves.device.type == "cpu" and not waves.requires_grad else None
        if cache is None:
            feats, frames = self.log_mel(waves, lengths)
        else:
            frames = num_frames(lengths)
            feats = cache.features(waves, lengths, frames, self.log_mel)
        feats = masked_normalize(feats, frames)
        if self.augment is not None:
            feats = self.augment(feats, frames)
        return feats, frames
