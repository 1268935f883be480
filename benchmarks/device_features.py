"""Pretrained encoders' front ends on the CPU: ours in torch vs the feature extractors over numpy clips.

    python -m benchmarks.device_features [--quick | --full]

The same padded batch of real speech (embedded corpus utterances joined into clips of
2-12 s: a wider spread than a length bucket's) goes through, interleaved round by round:

- w2v-BERT 2.0's stacked fbank: :func:`speech.features.seamless_features` (on the CPU clip by
  clip in torch, where a clip's frames stay in cache; a whole batch at once on an accelerator) vs what
  ``HFEncoder`` did before, ``SeamlessM4TFeatureExtractor`` over the clips as numpy arrays;
- Whisper's 30 s log-mel: :func:`speech.features.whisper_log_mel` (the same split) vs
  ``WhisperFeatureExtractor`` over numpy clips (``HFEncoder``'s former path) and vs
  openai-whisper's ``log_mel_spectrogram(pad_or_trim(clip))`` clip by clip
  (``WhisperEncoder``'s former path).

On an accelerator the batched form also saves the copies to the host and back, which this
CPU figure does not count. It prints seconds per batch and one ``RATIO`` line per front end.
"""

from __future__ import annotations

import numpy as np
import soundfile as sf
import torch

from benchmarks.common import base_parser, header, interleave, load_clips, size_of
from speech.audio import SAMPLE_RATE
from speech.features import seamless_features, whisper_log_mel

SETTINGS = {  # clips per batch, repetitions per timed call, rounds
    "quick": dict(clips=4, repeat=1, rounds=2, tiny=True),
    "default": dict(clips=16, repeat=3, rounds=5, tiny=True),
    "full": dict(clips=32, repeat=5, rounds=7, tiny=True),
}
WHISPER_SAMPLES = 30 * SAMPLE_RATE  # Whisper's window


def speech_batch(items: list, clips: int) -> tuple[torch.Tensor, torch.Tensor, list[np.ndarray]]:
    """``clips`` clips of 2 to 12 s joined from utterances: padded ``(B, T)``, lengths, numpy clips."""
    waves = iter(sf.read(item.audio, dtype="float32")[0] for item in items * 50)
    out = []
    for index in range(clips):
        target = int((2 + 10 * index / max(1, clips - 1)) * SAMPLE_RATE)
        parts = []
        while sum(map(len, parts)) < target:
            parts.append(next(waves))
        out.append(np.concatenate(parts)[:target])
    lengths = torch.tensor([len(clip) for clip in out])
    batch = torch.zeros(len(out), int(lengths.max()))
    for row, clip in enumerate(out):
        batch[row, : len(clip)] = torch.from_numpy(clip)
    return batch, lengths, out


def extractor_fbank(extractor, waves: torch.Tensor, lengths: torch.Tensor):
    """The former ``HFEncoder._fbank_model`` front end: numpy clips through the extractor."""
    clips = [w[: int(n)].float().cpu().numpy() for w, n in zip(waves, lengths, strict=True)]
    return extractor(clips, sampling_rate=SAMPLE_RATE, return_tensors="pt", padding=True, return_attention_mask=True)


def extractor_whisper(extractor, waves: torch.Tensor, lengths: torch.Tensor):
    """The former ``HFEncoder.whisper_mel``: numpy clips through WhisperFeatureExtractor."""
    clips = [w[: int(n)].float().cpu().numpy() for w, n in zip(waves, lengths, strict=True)]
    return extractor(
        clips,
        sampling_rate=SAMPLE_RATE,
        return_tensors="pt",
        padding="max_length",
        max_length=WHISPER_SAMPLES,
        truncation=True,
    )["input_features"]


def openai_per_clip(waves: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """The former ``WhisperEncoder.mel``: openai-whisper's log-mel clip by clip."""
    import whisper

    clips = [whisper.pad_or_trim(w[: int(n)], WHISPER_SAMPLES) for w, n in zip(waves, lengths, strict=True)]
    return torch.stack([whisper.log_mel_spectrogram(clip) for clip in clips])


def repeated(fn, times: int):
    def run():
        for _ in range(times):
            fn()

    return run


def main() -> None:
    import whisper
    from transformers import SeamlessM4TFeatureExtractor, WhisperFeatureExtractor

    args = base_parser(__doc__.splitlines()[0]).parse_args()
    settings = SETTINGS[size_of(args)]
    torch.set_num_threads(args.threads)
    items, _ = load_clips(args.data_root, settings["tiny"], None, "train", None)
    waves, lengths, _ = speech_batch(items, settings["clips"])
    seamless, hf_whisper = SeamlessM4TFeatureExtractor(), WhisperFeatureExtractor(feature_size=80)
    hf_filters = torch.from_numpy(hf_whisper.mel_filters).T.float()
    openai_filters = whisper.audio.mel_filters("cpu", 80)
    times, rounds = settings["repeat"], args.rounds or settings["rounds"]
    sides = {
        "fbank_w2v_bert": (
            lambda: seamless_features(waves, lengths),
            lambda: extractor_fbank(seamless, waves, lengths),
            "SeamlessM4TFeatureExtractor",
        ),
        "logmel_whisper_transformers": (
            lambda: whisper_log_mel(waves, lengths, WHISPER_SAMPLES, hf_filters),
            lambda: extractor_whisper(hf_whisper, waves, lengths),
            "WhisperFeatureExtractor",
        ),
        "logmel_whisper_openai": (
            lambda: whisper_log_mel(waves, lengths, WHISPER_SAMPLES, openai_filters),
            lambda: openai_per_clip(waves, lengths),
            "log_mel_spectrogram per clip",
        ),
    }
    lines = header("pretrained front ends on the CPU", args)
    seconds = float(lengths.sum()) / SAMPLE_RATE
    lines.append(f"one batch: {len(lengths)} clips, {seconds:.0f} s of speech; {times} batches per timed call")
    with torch.no_grad():
        for name, (ours, theirs, baseline) in sides.items():
            result = interleave(name, "torch", baseline, repeated(ours, times), repeated(theirs, times), rounds)
            lines += result.lines(quick=args.quick)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
