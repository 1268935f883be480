"""openai-whisper's audio encoder, by model name (``small``, ``large-v3``) or checkpoint path.

Whisper's encoder was trained on 30 s windows: 3000 mel frames -> 1500 positions. A short
clip padded to 30 s wastes almost all of the compute, so with ``trim=True`` the encoder
runs on the batch's true length and adds only the first positions of the (sinusoidal)
positional embedding. What is and is not the same as the padded run (measured in
``tests/test_speech_whisper.py``):

- the convolutional front end's frames are identical on the valid region, except the last
  output frame, whose kernel reaches into the next (silence) frame;
- the transformer attends over all frames (no mask, non-causal), so on the padded run the
  valid frames also attend to ~28 s of silence: the outputs differ (a real change of the
  function, not an approximation error);
- the trimmed run is exactly the stock ``AudioEncoder.forward`` of a model whose
  positional embedding is the sliced one, fed the same trimmed mel.
"""

from __future__ import annotations

import torch
from torch import nn

from speech.encoders.base import EncoderOutput, SpeechEncoder
from speech.encoders.hf import WHISPER_WINDOW, whisper_input
from speech.features import whisper_log_mel


class WhisperEncoder(SpeechEncoder):
    """openai-whisper's ``AudioEncoder`` over its own log-mel front end.

    Args:
        name: a model name known to ``whisper.load_model`` (``tiny``, ``small``,
            ``large-v3``...) or the path of a checkpoint (``{"dims", "model_state_dict"}``).
        download_root: where named models are cached.
        trim: run on the true length instead of 30 s of padding.
    """

    def __init__(self, name: str = "small", download_root: str | None = None, trim: bool = True):
        super().__init__()
        import whisper

        model = whisper.load_model(name, device="cpu", download_root=download_root)
        self.encoder = model.encoder
        self.n_mels = model.dims.n_mels
        self.trim = trim
        self.dim, self.num_layers = model.dims.n_audio_state, model.dims.n_audio_layer + 1
        self.preprocess_config = {"features": "whisper-logmel", "name": name, "n_mels": self.n_mels, "trim": trim}

    def lora_targets(self) -> list[str]:
        return ["query", "value"]

    def mel(self, waves: torch.Tensor, lengths: torch.Tensor, samples: int = WHISPER_WINDOW) -> torch.Tensor:
        """Stock log-mel ``(B, n_mels, samples // 160)``: each clip zero-padded to ``samples``, the whole batch at once.

        With the default 30 s this is exactly Whisper's input (``log_mel_spectrogram`` of
        ``pad_or_trim`` per clip, with each clip's own peak; whisper's own function would take
        the peak over the whole batch). A shorter ``samples`` that still leaves a window (400
        samples) of zeros after the frames kept gives the same values on them: STFT frames are
        local and the clip's peak sets the normalisation either way.
        """
        import whisper

        filters = whisper.audio.mel_filters(waves.device, self.n_mels)
        with torch.autocast(device_type=waves.device.type, enabled=False):  # the STFT needs float32
            return whisper_log_mel(waves, lengths, samples, filters, whisper.audio.HOP_LENGTH)

    def forward(self, waves: torch.Tensor, lengths: torch.Tensor) -> EncoderOutput:
        frames, mel = whisper_input(self.mel, waves, lengths, self.trim)
        hidden, layers = audio_encoder_forward(self.encoder, mel.to(self.encoder.conv1.weight.dtype))
        return EncoderOutput(hidden, frames.clamp(max=hidden.shape[1]), layers)


def audio_encoder_forward(encoder: nn.Module, mel: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
    """``AudioEncoder.forward`` for a mel of any even length <= 3000, with per-layer outputs."""
    x = nn.functional.gelu(encoder.conv1(mel))
    x = nn.functional.gelu(encoder.conv2(x)).permute(0, 2, 1)
    x = (x + encoder.positional_embedding[: x.shape[1]]).to(x.dtype)
    states = [x]
    for block in encoder.blocks:
        x = block(x)
        states.append(x)
    x = encoder.ln_post(x)
    states[-1] = x
    return x, tuple(states)
