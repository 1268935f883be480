"""openai-whisper, by model name or checkpoint path, with batched decoding of short clips.

``whisper.transcribe`` decodes one file at a time, running the 30 s encoder window and the
token loop for a single clip. Corpora of short clips (SpeechTaxi verses, the embedded
utterances) decode much faster in batches: clips are length-sorted, grouped by language
(the language token is shared by a decode call), and each batch goes through whisper's
own :func:`whisper.decoding.decode`.

The window each clip gets is built exactly as ``transcribe`` builds its first window
(log-mel of the clip padded with 30 s of silence, cut to the clip's frames, zero-padded to
3000 frames), so with ``temperature=0``, ``condition_on_previous_text=False`` and the same
options the transcripts equal ``transcribe``'s for clips of up to 30 s (longer clips are
cut at 30 s: this recognizer is for short clips).

With ``language_mode: given``, a clip whose language Whisper lacks (12 of SpeechTaxi's 28,
e.g. ``bgc``, ``ibo``, ``tw-akuapem``) has its language detected instead (``unsupported:
detect``, counted by :meth:`WhisperRecognizer.language_report`) or stops the run
(``unsupported: error``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from cascade.languages import whisper_languages
from cascade.recognizers.base import Recognizer, pick_device
from cascade.recognizers.whisper_common import GivenLanguages, check_policy, describe_whisper, is_silence

log = logging.getLogger(__name__)


def whisper_windows(wave: np.ndarray | torch.Tensor, n_mels: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The two ``(n_mels, 3000)`` log-mel windows ``transcribe`` uses for a clip of <= 30 s.

    Returns:
        ``(detect, decode)``: ``transcribe`` detects the language on the first 3000 frames
        of the clip padded with 30 s of silence, and decodes the clip's own frames
        zero-padded to 3000 (not the same tensor: the padding differs).
    """
    from whisper.audio import N_FRAMES, N_SAMPLES, log_mel_spectrogram, pad_or_trim

    wave = torch.as_tensor(np.asarray(wave, dtype=np.float32))
    mel = log_mel_spectrogram(wave, n_mels, padding=N_SAMPLES)
    content_frames = mel.shape[-1] - N_FRAMES
    return pad_or_trim(mel, N_FRAMES), pad_or_trim(mel[:, : min(N_FRAMES, content_frames)], N_FRAMES)


class WhisperRecognizer(GivenLanguages, Recognizer):
    """Whisper with batched, length-sorted decoding.

    Args:
        model: a Whisper model name (``large-v3``, ``small``...; loaded from
            ``download_root`` or whisper's cache) or the path of a checkpoint file.
        language_mode: ``given`` tells Whisper each item's language (clips grouped by
            language); ``detect`` lets Whisper detect it per clip.
        unsupported: with ``given``, what a clip of a language Whisper lacks gets: ``detect``
            (its language detected, counted in the run's metrics) or ``error``.
        batch_size: clips per decode call.
        sample_len: most tokens generated per clip (None: Whisper's default, 224); cap it
            for random or weak models that loop.
        beam_size: beam search width; None is greedy.
        fp16: half precision (GPU only).
        no_speech_threshold: like ``transcribe``'s: a clip with ``no_speech_prob`` above it
            and ``avg_logprob`` below ``logprob_threshold`` gets an empty transcript. None
            disables the check.
        logprob_threshold: see ``no_speech_threshold``.
        suppress_tokens: token ids never generated, as in ``DecodingOptions`` (``"-1"``:
            Whisper's non-speech symbols).
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:1``...
        download_root: where named models are looked up (default whisper's cache).
    """

    def __init__(
        self,
        model: str = "large-v3",
        language_mode: Literal["given", "detect"] = "given",
        unsupported: Literal["detect", "error"] = "detect",
        batch_size: int = 16,
        sample_len: int | None = None,
        beam_size: int | None = None,
        fp16: bool = False,
        no_speech_threshold: float | None = None,
        logprob_threshold: float | None = -1.0,
        suppress_tokens: str | list[int] = "-1",
        device: str | None = "auto",
        download_root: str | None = None,
    ):
        self.model_name, self.language_mode, self.batch_size = model, language_mode, batch_size
        self.unsupported = check_policy(unsupported)
        self.sample_len, self.beam_size, self.fp16 = sample_len, beam_size, fp16
        self.no_speech_threshold, self.logprob_threshold = no_speech_threshold, logprob_threshold
        self.suppress_tokens = suppress_tokens
        self.device, self.download_root = device, download_root
        self.uses_language = language_mode == "given"
        self._model = None

    def describe(self) -> dict:
        settings = {"fp16": self.fp16, **self.decoding_options()}
        return describe_whisper("whisper", self.model_name, Path(self.model_name), "file_sha256", settings)

    @property
    def model(self):
        if self._model is None:
            import whisper

            self._model = whisper.load_model(
                self.model_name, device=pick_device(self.device), download_root=self.download_root
            )
            self._model.eval()
        return self._model

    def options(self, language: str | None):
        from whisper.decoding import DecodingOptions

        return DecodingOptions(
            language=language,
            task="transcribe",
            without_timestamps=True,
            fp16=self.fp16,
            sample_len=self.sample_len,
            beam_size=self.beam_size,
            suppress_tokens=self.suppress_tokens,
        )

    @torch.no_grad()
    def transcribe(self, waves: list[np.ndarray], languages: list[str | None]) -> list[str]:
        from whisper.decoding import decode
        from whisper.tokenizer import get_tokenizer

        model = self.model
        eot = get_tokenizer(model.is_multilingual, num_languages=model.num_languages).eot
        if self.uses_language:
            codes = self.given_codes(languages)
            missing = [i for i, code in enumerate(codes) if code is None and languages[i] is not None]
            for i, code in zip(missing, self.detect([waves[i] for i in missing]) if missing else [], strict=True):
                codes[i] = code
        else:
            codes = self.detect(waves)
        if any(len(w) > 30 * 16000 for w in waves):
            log.warning("whisper: clips longer than 30 s are cut at 30 s")
        # group by language (one language token per decode call), longest first within a group
        order = sorted(range(len(waves)), key=lambda i: (codes[i] or "", -len(waves[i])))
        texts: list[str] = [""] * len(waves)
        for batch in _batches(order, codes, self.batch_size):
            # windows are built per batch: 1 MB each, a chunk of hundreds would not fit comfortably
            mel = torch.stack([whisper_windows(waves[i], model.dims.n_mels)[1] for i in batch]).to(model.device)
            results = decode(model, mel.half() if self.fp16 else mel, self.options(codes[batch[0]]))
            for i, result in zip(batch, results, strict=True):
                # like transcribe(): the text of the tokens before end-of-text (no special tokens)
                text_tokens = [t for t in result.tokens if t < eot]
                texts[i] = "" if self._is_silence(result) else tokenizer_decode(model, codes[i], text_tokens)
        return texts

    def supported_languages(self) -> set[str]:
        """The model's language codes (99, or 100 with Cantonese for large-v3); before the
        model is loaded, openai-whisper's full list."""
        if self._model is None:
            return set(whisper_languages())
        from whisper.tokenizer import get_tokenizer

        model = self._model
        return set(get_tokenizer(model.is_multilingual, num_languages=model.num_languages).all_language_codes)

    @torch.no_grad()
    def detect(self, waves: list[np.ndarray]) -> list[str]:
        """Whisper's most likely language per clip (on ``transcribe``'s detection window), in batches."""
        model, codes = self.model, []
        for start in range(0, len(waves), self.batch_size):
            part = waves[start : start + self.batch_size]
            mel = torch.stack([whisper_windows(w, model.dims.n_mels)[0] for w in part]).to(model.device)
            _, probs = model.detect_language(mel.half() if self.fp16 else mel)
            codes += [max(p, key=p.get) for p in probs]
        return codes

    def _is_silence(self, result) -> bool:
        return is_silence(result.no_speech_prob, result.avg_logprob, self.no_speech_threshold, self.logprob_threshold)


def tokenizer_decode(model, language: str | None, tokens: list[int]) -> str:
    """Whisper's text for ``tokens`` (stripped, as ``DecodingResult.text`` is)."""
    from whisper.tokenizer import get_tokenizer

    tokenizer = get_tokenizer(model.is_multilingual, num_languages=model.num_languages, language=language)
    return tokenizer.decode(tokens).strip()


def _batches(order: list[int], codes: list[str | None], size: int):
    """Consecutive runs of ``order`` of at most ``size`` items sharing one language code."""
    batch: list[int] = []
    for i in order:
        if batch and (len(batch) == size or codes[i] != codes[batch[0]]):
            yield batch
            batch = []
        batch.append(i)
    if batch:
        yield batch
