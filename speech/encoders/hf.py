"""Any ``transformers`` speech encoder, by hub id or local path.

Families and their front ends (each model's own feature extractor, read from its folder; the
fbank and the log-mel are computed for the whole batch in torch on its device, with the
extractors' math: :mod:`speech.features`):

- wav2vec2 / XLS-R / MMS, HuBERT, WavLM: raw 16 kHz waves, per-utterance normalised over
  the valid samples when the extractor says ``do_normalize``, attention mask when the
  model was trained with one. "Base" configs (``feat_extract_norm="group"``) normalise the
  first conv over the whole input, padding included, and were pre-trained on equal-length
  crops (no padding at all): their conv front end runs clip by clip on the valid samples and
  the padded frames are masked, so a clip gives the same frames alone or in any batch.
- w2v-BERT 2.0 (``wav2vec2-bert``): the SeamlessM4TFeatureExtractor's stacked 80-bin fbank.
- Whisper (``whisper``): WhisperModel's encoder on log-mel; with ``trim=True`` it runs on
  the batch's true length instead of 30 s of padding (the positional embedding is sliced;
  see :mod:`speech.encoders.whisper_openai` for what that changes).
"""

from __future__ import annotations

import torch
from torch import nn

from speech.audio import SAMPLE_RATE
from speech.encoders.base import EncoderOutput, SpeechEncoder
from speech.features import seamless_features, whisper_log_mel

WHISPER_HOP = 160  # samples per mel frame
WHISPER_WINDOW = 30 * SAMPLE_RATE  # samples: Whisper's fixed input window
WHISPER_NFFT = 400  # samples per STFT window


def load_feature_extractor(name_or_path: str, model_type: str, revision: str | None = None):
    """The model's own feature extractor; a default one of its family when none is saved."""
    from transformers import AutoFeatureExtractor

    try:
        return AutoFeatureExtractor.from_pretrained(name_or_path, revision=revision)
    except (OSError, ValueError):
        from transformers import SeamlessM4TFeatureExtractor, Wav2Vec2FeatureExtractor, WhisperFeatureExtractor

        if model_type == "whisper":
            return WhisperFeatureExtractor()
        if model_type == "wav2vec2-bert":
            return SeamlessM4TFeatureExtractor()
        return Wav2Vec2FeatureExtractor(do_normalize=True, return_attention_mask=True)


def masked_standardize(waves: torch.Tensor, lengths: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """Zero mean, unit variance per utterance over valid samples (as Wav2Vec2FeatureExtractor); padding 0."""
    mask = torch.arange(waves.shape[1], device=waves.device)[None, :] < lengths[:, None]
    count = lengths.clamp(min=1)[:, None].to(waves.dtype)
    mean = (waves * mask).sum(1, keepdim=True) / count
    var = (((waves - mean) * mask) ** 2).sum(1, keepdim=True) / count
    return (waves - mean) / torch.sqrt(var + eps) * mask


def freeze_conv_feature_encoder(model) -> None:
    """Freeze the convolutional feature encoder of a wav2vec2-family model (as its papers fine-tune).
    HuBERT has no ``freeze_feature_encoder()`` in transformers 5, only its ``feature_extractor``;
    w2v-BERT and Whisper have no convolutional feature encoder: nothing to freeze."""
    if hasattr(model, "freeze_feature_encoder"):
        model.freeze_feature_encoder()
    elif hasattr(getattr(model, "feature_extractor", None), "_freeze_parameters"):
        model.feature_extractor._freeze_parameters()


class HFEncoder(SpeechEncoder):
    """A pretrained ``transformers`` speech encoder.

    Args:
        name_or_path: hub id (``facebook/mms-300m``, ``facebook/wav2vec2-xls-r-300m``,
            ``facebook/w2v-bert-2.0``, ``openai/whisper-small``, ``microsoft/wavlm-base-plus``,
            ``facebook/hubert-base-ls960``) or a local folder saved with ``save_pretrained``.
        revision: hub revision.
        freeze_feature_encoder: keep the wav2vec2-style CNN feature encoder fixed (standard
            for fine-tuning).
        trim: Whisper only: run on the true length instead of 30 s of padding.
        gradient_checkpointing: trade compute for memory on long clips.
    """

    def __init__(
        self,
        name_or_path: str,
        revision: str | None = None,
        freeze_feature_encoder: bool = True,
        trim: bool = True,
        gradient_checkpointing: bool = False,
    ):
        super().__init__()
        from transformers import AutoConfig, AutoModel

        config = AutoConfig.from_pretrained(name_or_path, revision=revision)
        self.model_type = config.model_type
        if self.model_type == "whisper":
            from transformers import WhisperModel

            self.model = WhisperModel.from_pretrained(name_or_path, revision=revision).get_encoder()
        else:
            self.model = AutoModel.from_pretrained(name_or_path, revision=revision)
        # from_pretrained returns eval mode and Lightning 2.6 keeps submodules' modes, so without
        # this, fine-tuning would silently run with no dropout, SpecAugment masking or layerdrop
        self.model.train()
        if freeze_feature_encoder:
            freeze_conv_feature_encoder(self.model)
        if gradient_checkpointing:
            self.model.gradient_checkpointing_enable()
        self.extractor = load_feature_extractor(name_or_path, self.model_type, revision)
        self.trim = trim
        self._mel_filters: torch.Tensor | None = None  # Whisper: the extractor's, as a tensor
        self.per_clip_front_end = getattr(config, "feat_extract_norm", None) == "group" and hasattr(
            self.model, "feature_extractor"
        )
        self._clip_lengths: torch.Tensor | None = None  # set for the duration of one forward
        if self.per_clip_front_end:
            self._batch_front_end = self.model.feature_extractor.forward
            self.model.feature_extractor.forward = self._front_end_per_clip
        self.dim = config.d_model if self.model_type == "whisper" else config.hidden_size
        layers = config.encoder_layers if self.model_type == "whisper" else config.num_hidden_layers
        self.num_layers = layers + 1  # input embedding + every layer
        self.preprocess_config = {
            "features": "hf",
            "name_or_path": name_or_path,
            "model_type": self.model_type,
            "trim": trim,
            "extractor": {k: v for k, v in self.extractor.to_dict().items() if isinstance(v, (int, float, str, bool))},
        }

    def lora_targets(self) -> list[str]:
        names = {name.rsplit(".", 1)[-1] for name, _ in self.model.named_modules()}
        if "q_proj" in names:
            return ["q_proj", "v_proj"]
        if "linear_q" in names:
            return ["linear_q", "linear_v"]
        return []

    def forward(self, waves: torch.Tensor, lengths: torch.Tensor) -> EncoderOutput:
        """``waves (B, T)`` 16 kHz, ``lengths (B,)`` samples -> every layer's ``(B, F, D)``."""
        if self.model_type == "whisper":
            return self._whisper(waves, lengths)
        if self.model_type == "wav2vec2-bert":
            return self._fbank_model(waves, lengths)
        return self._wave_model(waves, lengths)

    def _front_end_per_clip(self, values: torch.Tensor) -> torch.Tensor:
        """The conv feature encoder on each clip's valid samples, zero-padded: ``(B, C, frames)``."""
        lengths = self._clip_lengths
        if lengths is None or bool((lengths == values.shape[1]).all()):
            return self._batch_front_end(values)
        clips = [self._batch_front_end(wave[None, : int(n)])[0] for wave, n in zip(values, lengths, strict=True)]
        frames = int(self.model._get_feat_extract_output_lengths(values.shape[1]))
        out = clips[0].new_zeros(len(clips), clips[0].shape[0], frames)
        for row, clip in enumerate(clips):
            out[row, :, : clip.shape[1]] = clip
        return out

    def _wave_model(self, waves: torch.Tensor, lengths: torch.Tensor) -> EncoderOutput:
        if getattr(self.extractor, "do_normalize", False):
            waves = masked_standardize(waves.float(), lengths)
        mask = None
        if getattr(self.extractor, "return_attention_mask", False) or self.per_clip_front_end:
            mask = (torch.arange(waves.shape[1], device=waves.device)[None, :] < lengths[:, None]).long()
        self._clip_lengths = lengths
        try:
            out = self.model(waves, attention_mask=mask, output_hidden_states=True)
        finally:
            self._clip_lengths = None
        frames = self.model._get_feat_extract_output_lengths(lengths).clamp(max=out.last_hidden_state.shape[1])
        return EncoderOutput(out.last_hidden_state, frames.long(), tuple(out.hidden_states))

    def _fbank_model(self, waves: torch.Tensor, lengths: torch.Tensor) -> EncoderOutput:
        with torch.autocast(device_type=waves.device.type, enabled=False):  # the fbank needs float precision
            features, mask = seamless_features(waves, lengths, self.extractor.num_mel_bins, self.extractor.stride)
        out = self.model(features, attention_mask=mask, output_hidden_states=True)
        frames = mask.sum(1)
        hidden = out.last_hidden_state
        if hidden.shape[1] != features.shape[1]:  # an adapter subsampled the frames
            frames = torch.ceil(frames * hidden.shape[1] / features.shape[1])
        return EncoderOutput(hidden, frames.long().clamp(min=1), tuple(out.hidden_states))

    def whisper_mel(self, waves: torch.Tensor, lengths: torch.Tensor, samples: int = WHISPER_WINDOW) -> torch.Tensor:
        """Stock log-mel ``(B, n_mels, samples // 160)``, every clip zero-padded to ``samples`` (30 s).

        The WhisperFeatureExtractor's computation, for the whole batch on its device, with the
        extractor's own mel filters. A shorter ``samples`` leaving a window of zeros after the
        frames kept gives the same values on them (see
        :meth:`speech.encoders.whisper_openai.WhisperEncoder.mel`).
        """
        if self._mel_filters is None:
            self._mel_filters = torch.from_numpy(self.extractor.mel_filters).T.float()
        with torch.autocast(device_type=waves.device.type, enabled=False):  # the STFT needs float32
            return whisper_log_mel(waves, lengths, samples, self._mel_filters, self.extractor.hop_length)

    def _whisper(self, waves: torch.Tensor, lengths: torch.Tensor) -> EncoderOutput:
        frames, mel = whisper_input(self.whisper_mel, waves, lengths, self.trim)
        hidden, layers = whisper_hf_forward(self.model, mel.to(self.model.conv1.weight.dtype))
        return EncoderOutput(hidden, frames.clamp(max=hidden.shape[1]), layers)


def whisper_output_frames(lengths: torch.Tensor) -> torch.Tensor:
    """Valid encoder frames (50 per second) of clips of ``lengths`` samples, at least 1, at most 1500."""
    mel = torch.div(lengths, WHISPER_HOP, rounding_mode="floor")
    return torch.div(mel + 1, 2, rounding_mode="floor").clamp(min=1, max=WHISPER_WINDOW // WHISPER_HOP // 2)


def whisper_input(mel_fn, waves: torch.Tensor, lengths: torch.Tensor, trim: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """``(valid encoder frames, log-mel)`` for either Whisper encoder; ``mel_fn(waves, lengths[, samples])``.

    ``trim``: the mel covers only the longest clip (plus one STFT window of zeros, so the frames
    kept equal the 30 s computation's) instead of Whisper's fixed 30 s window.
    """
    frames = whisper_output_frames(lengths)
    if not trim:
        return frames, mel_fn(waves, lengths)
    mel_frames = 2 * int(frames.max())
    mel = mel_fn(waves, lengths, min(WHISPER_WINDOW, mel_frames * WHISPER_HOP + WHISPER_NFFT))
    return frames, mel[..., :mel_frames]


def whisper_hf_forward(encoder: nn.Module, mel: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
    """transformers' WhisperEncoder on a mel of any even length <= 3000, slicing the positions.

    The same computation as ``WhisperEncoder.forward`` (which insists on 3000 frames), plus
    the per-layer outputs: embedding, every layer, the last one after the final LayerNorm.
    """
    x = nn.functional.gelu(encoder.conv1(mel))
    x = nn.functional.gelu(encoder.conv2(x)).permute(0, 2, 1)
    x = x + encoder.embed_positions.weight[: x.shape[1]]
    x = nn.functional.dropout(x, p=encoder.dropout, training=encoder.training)
    states = [x]
    for layer in encoder.layers:
        if encoder.training and encoder.layerdrop > 0 and torch.rand([]) < encoder.layerdrop:
            states.append(x)
            continue
        out = layer(x, None)
        x = out[0] if isinstance(out, tuple) else out
        states.append(x)
    x = encoder.layer_norm(x)
    states[-1] = x
    return x, tuple(states)
