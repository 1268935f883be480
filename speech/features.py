"""The from-scratch front end: 16 kHz waves -> normalised 40-bin log-mel at 100 frames/s.

Shared by the E2E ConvEncoder and the cascade's CTC recognizer, so both see identical
features. Constants with units live here once. The log-mel of a clip is computed once and
then read from :mod:`speech.feature_cache` (normalisation and SpecAugment run on the cached
tensor), in training, evaluation, the frozen-encoder path and the demo alike.
"""

from __future__ import annotations

import functools
from pathlib import Path

import torch
import torchaudio
from torch import nn

from speech.audio import SAMPLE_RATE
from speech.feature_cache import FeatureCache, cache_root, front_end_digest

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


# -- pretrained encoders' front ends, batched in torch on the batch's device -------------------
# The same math as the transformers feature extractors (numpy, clip by clip on the CPU), so a
# training step never waits for the host: tests/test_device_features.py holds them equal.

KALDI_SCALE = 2**15  # Kaldi reads 16-bit samples: waves in [-1, 1] are scaled to that range
FBANK_WINDOW = 400  # samples: 25 ms frames
FBANK_HOP = 160  # samples: 10 ms shift
FBANK_FFT = 512  # samples: the frame zero-padded to a power of two
FBANK_PREEMPHASIS = 0.97
FBANK_LOW_HZ = 20.0  # lowest mel filter edge (SeamlessM4T's extractor)
FBANK_FLOOR = 1.192092955078125e-07  # float32 epsilon: floor of the mel energies before the log
FBANK_POVEY_POWER = 0.85  # Kaldi's "povey" window: a symmetric Hann window to this power


def fbank_frames(lengths: torch.Tensor) -> torch.Tensor:
    """Valid samples ``(B,)`` -> Kaldi fbank frames ``(B,)`` (no centering: whole windows only, at least 1)."""
    return (torch.div(lengths - FBANK_WINDOW, FBANK_HOP, rounding_mode="floor") + 1).clamp(min=1)


def kaldi_fbank(
    waves: torch.Tensor, lengths: torch.Tensor, num_mel_bins: int = 80
) -> tuple[torch.Tensor, torch.Tensor]:
    """Kaldi-compatible log mel filterbank of a padded batch, as SeamlessM4TFeatureExtractor computes it per clip.

    Per 25 ms frame: remove the DC offset, pre-emphasise, povey window, 512-point power
    spectrum, Kaldi mel filters from 20 Hz to Nyquist, floor, natural log (no dither). The
    frames are transformed in float64, as the extractor does: in float32 the FFT's rounding,
    relative to a frame's whole energy, swamps the quiet low bins after pre-emphasis (log
    energies off by up to 3e-3).

    Args:
        waves: ``(B, T)`` float 16 kHz in [-1, 1], zero-padded.
        lengths: ``(B,)`` valid samples.
    Returns:
        ``(B, F, num_mel_bins)`` log energies (frames past a clip's end are garbage: mask them),
        ``(B,)`` valid frames.
    """
    frames = fbank_frames(lengths)
    parts = [fbank_part(w[:, : int(n.max())], n, num_mel_bins) for w, n in batch_parts(waves, lengths)]
    total = max(part.shape[1] for part in parts)
    return torch.cat([torch.nn.functional.pad(part, (0, 0, 0, total - part.shape[1])) for part in parts]), frames


def batch_parts(waves: torch.Tensor, lengths: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The pieces a batch's front end is computed in: the whole batch on an accelerator, clip by clip
    on the CPU, where one clip's frames stay in cache and a batch's do not (twice as fast measured)."""
    if waves.device.type != "cpu":
        return [(waves, lengths)]
    return list(zip(waves.split(1), lengths.split(1), strict=True))


def fbank_part(waves: torch.Tensor, lengths: torch.Tensor, num_mel_bins: int) -> torch.Tensor:
    """:func:`kaldi_fbank`'s log energies ``(B, F, num_mel_bins)`` of one piece of a batch."""
    frames = fbank_frames(lengths)
    samples = waves.double() * KALDI_SCALE
    needed = FBANK_WINDOW + FBANK_HOP * (int(frames.max()) - 1)
    samples = torch.nn.functional.pad(samples, (0, max(0, needed - samples.shape[1])))[:, :needed]
    strided = samples.unfold(1, FBANK_WINDOW, FBANK_HOP)  # (B, F, window)
    strided = strided - strided.mean(-1, keepdim=True)
    # y[0] = x[0] - p x[0], y[n] = x[n] - p x[n-1]: Kaldi pre-emphasis, first sample against itself
    previous = torch.cat([strided[..., :1], strided[..., :-1]], dim=-1)
    strided = strided - FBANK_PREEMPHASIS * previous
    window = torch.hann_window(FBANK_WINDOW, periodic=False, dtype=torch.float64, device=waves.device)
    power = torch.fft.rfft(strided * window**FBANK_POVEY_POWER, n=FBANK_FFT).abs() ** 2  # (B, F, FFT/2 + 1)
    energies = torch.clamp(power @ kaldi_mel_banks(num_mel_bins).to(waves.device).T, min=FBANK_FLOOR)
    return energies.log().float()


@functools.cache
def kaldi_mel_banks(num_mel_bins: int) -> torch.Tensor:
    """Kaldi's triangular mel filters ``(num_mel_bins, FFT/2 + 1)`` in float64 (torchaudio's; none on Nyquist).

    torchaudio builds them in the default dtype; in float32 their edges are off by 1e-5.
    """
    from torchaudio.compliance.kaldi import get_mel_banks

    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        banks, _ = get_mel_banks(num_mel_bins, FBANK_FFT, float(SAMPLE_RATE), FBANK_LOW_HZ, 0.0, 100.0, -500.0, 1.0)
    finally:
        torch.set_default_dtype(default)
    return torch.nn.functional.pad(banks, (0, 1))


def seamless_features(
    waves: torch.Tensor, lengths: torch.Tensor, num_mel_bins: int = 80, stride: int = 2
) -> tuple[torch.Tensor, torch.Tensor]:
    """w2v-BERT 2.0's input: SeamlessM4TFeatureExtractor's stacked, normalised fbank, for a whole batch.

    Each clip's fbank is normalised per mel bin over its own frames (mean, unbiased variance),
    padded with zeros to the batch's longest clip (rounded up to ``stride`` frames), and
    ``stride`` consecutive frames are stacked.

    Returns:
        ``input_features (B, F / stride, stride * num_mel_bins)``, ``attention_mask (B, F / stride)``
        (1 where every stacked frame is valid).
    """
    feats, frames = kaldi_fbank(waves, lengths, num_mel_bins)
    valid = (torch.arange(feats.shape[1], device=feats.device)[None, :] < frames[:, None]).unsqueeze(-1)
    count = frames.to(feats.dtype)[:, None, None]
    mean = (feats * valid).sum(1, keepdim=True) / count
    var = (((feats - mean) * valid) ** 2).sum(1, keepdim=True) / (count - 1).clamp(min=1)
    feats = (feats - mean) / torch.sqrt(var + 1e-7) * valid
    total = -(-int(frames.max()) // stride) * stride
    feats = torch.nn.functional.pad(feats[:, :total], (0, 0, 0, total - min(total, feats.shape[1])))
    stacked = feats.reshape(feats.shape[0], total // stride, stride * num_mel_bins)
    steps = torch.arange(total // stride, device=feats.device)
    mask = (steps[None, :] < torch.div(frames, stride, rounding_mode="floor")[:, None]).long()
    return stacked, mask


def whisper_log_mel(
    waves: torch.Tensor, lengths: torch.Tensor, samples: int, filters: torch.Tensor, hop: int = 160
) -> torch.Tensor:
    """Whisper's log-mel of a whole batch: each clip zero-padded to ``samples``, as the extractors do per clip.

    Centered STFT (reflect padding, periodic Hann window of ``n_fft`` = ``(filters.shape[1] - 1) * 2``
    samples, ``hop``), power spectrum without its last frame, mel ``filters (n_mels, n_fft / 2 + 1)``, log10
    floored at 1e-10, then each clip floored at its own peak - 8 and scaled: ``(x + 4) / 4``.

    Returns:
        ``(B, n_mels, samples // hop)``.
    """
    parts = batch_parts(waves, lengths)
    return torch.cat([whisper_log_mel_part(w, n, samples, filters, hop) for w, n in parts])


def whisper_log_mel_part(
    waves: torch.Tensor, lengths: torch.Tensor, samples: int, filters: torch.Tensor, hop: int
) -> torch.Tensor:
    """:func:`whisper_log_mel` of one piece of a batch."""
    n_fft = (filters.shape[1] - 1) * 2
    x = waves.float()[:, :samples]
    keep = torch.arange(x.shape[1], device=x.device)[None, :] < lengths[:, None]
    x = torch.nn.functional.pad(x * keep, (0, samples - x.shape[1]))
    # torch.stft(center=True) framed by hand: on the CPU its batched form is slower than one clip at a time
    x = torch.nn.functional.pad(x[:, None], (n_fft // 2, n_fft // 2), mode="reflect")[:, 0]
    frames = x.unfold(1, n_fft, hop)[:, :-1]  # (B, samples // hop, n_fft): the last frame is dropped
    spectrum = torch.fft.rfft(frames * torch.hann_window(n_fft, device=x.device))
    power = spectrum.real**2 + spectrum.imag**2
    log_spec = torch.clamp(power @ filters.to(x.device, torch.float32).T, min=1e-10).log10().transpose(1, 2)
    peak = log_spec.amax(dim=(1, 2), keepdim=True)
    return (torch.maximum(log_spec, peak - 8.0) + 4.0) / 4.0
