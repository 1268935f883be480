"""faster-whisper (CTranslate2) with batched decoding of short clips: int8 on CPU, float16 on GPU.

The same recipe as :mod:`cascade.recognizers.whisper_asr`, on CTranslate2's Whisper: clips
are length-sorted and cut into batches; each batch goes through one encoder call and one
``generate`` call, every clip with its own prompt (``<|startoftranscript|> <|lang|>
<|transcribe|> <|notimestamps|>``), so clips of different languages share a batch. A clip
whose language is not given (``language_mode: detect``) or that Whisper lacks (``unsupported:
detect``) gets the language CTranslate2 detects on the same encoder output.

Each clip's window is, by default (``window: full``), the one faster-whisper's
``BatchedInferencePipeline`` builds: the clip's log-mel frames zero-padded to 3000 (no VAD:
the clips are short utterances), so transcripts equal openai-whisper's ``transcribe``. On a
CPU that encoder pass over 30 s is most of the cost for 1-3 s clips. ``window: clip`` feeds
the encoder only the clip, rounded up to whole seconds (at least ``min_window_s``):
CTranslate2 accepts windows shorter than 3000 frames (OpenNMT/CTranslate2#1446) and adds
the first positional embeddings, like whisper.cpp's ``audio_ctx``. Whisper was
trained on 30 s windows only, so this changes transcripts and can cost accuracy (reported
for large-v3-turbo on 1-3.5 s Korean telephone clips, OpenNMT/CTranslate2#2100; a 10 s floor
showed no WER loss on one small ru/en corpus, handy-computer/transcribe.cpp#149): it is an
explicit opt-in, to be checked on the data at hand. Models
are read by name (``large-v3``: faster-whisper fetches the CTranslate2 conversion) or from a
folder converted with ``ct2-transformers-converter`` (``model.bin``, ``tokenizer.json``,
``preprocessor_config.json``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np

from cascade.recognizers.base import Recognizer, pick_device
from cascade.recognizers.whisper_common import GivenLanguages, Unsupported, check_policy, describe_whisper, is_silence
from workbench.errors import ConfigError

N_FRAMES = 3000  # log-mel frames of Whisper's 30 s window
WINDOW_STEP = 100  # clip windows are whole seconds: a clip's transcript does not depend on its batch


def compute_type_for(device: str, compute_type: str) -> str:
    """``auto`` -> ``int8`` on CPU, ``float16`` on CUDA; anything else as given."""
    if compute_type != "auto":
        return compute_type
    return "float16" if device.startswith("cuda") else "int8"


def suppress_list(suppress_tokens: str | list[int]) -> list[int]:
    """``"-1"`` / ``"-1,220"`` / ``[-1]`` -> token ids (-1: Whisper's non-speech symbols)."""
    if isinstance(suppress_tokens, str):
        return [int(t) for t in suppress_tokens.split(",") if t.strip()]
    return [int(t) for t in suppress_tokens]


class FasterWhisperRecognizer(GivenLanguages, Recognizer):
    """faster-whisper / CTranslate2 Whisper with batched, length-sorted decoding.

    Args:
        model: a faster-whisper model name (``large-v3``, ``small``...) or a converted folder.
        language_mode: ``given`` tells Whisper each item's language; ``detect`` detects it per clip.
        unsupported: with ``given``, what a clip of a language Whisper lacks gets: ``detect``
            (counted in the run's metrics) or ``error``.
        batch_size: clips per encoder / generate call.
        sample_len: most tokens generated per clip (None: up to Whisper's 448-token context).
        beam_size: beam search width; None is greedy.
        compute_type: CTranslate2 compute type; ``auto`` is ``int8`` on CPU, ``float16`` on GPU
            (``float32`` to compare with openai-whisper).
        no_speech_threshold: as ``transcribe``'s: a clip with ``no_speech_prob`` above it and
            ``avg_logprob`` below ``logprob_threshold`` gets an empty transcript; None disables it.
        logprob_threshold: see ``no_speech_threshold``.
        suppress_tokens: token ids never generated (``"-1"``: Whisper's non-speech symbols).
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:1``...
        window: ``full`` (30 s windows: ``transcribe``'s transcripts) or ``clip`` (each clip's
            own length, rounded up to whole seconds: several times faster on short clips, other
            transcripts; see the module docs). With ``clip``, a detected language is detected
            on the clip window too.
        min_window_s: with ``window: clip``, the shortest window in seconds (up to 30).
        cpu_threads: CTranslate2 threads on CPU (0: its default).
        download_root: where named models are cached.
    """

    def __init__(
        self,
        model: str = "large-v3",
        language_mode: Literal["given", "detect"] = "given",
        unsupported: Unsupported = "detect",
        batch_size: int = 16,
        sample_len: int | None = None,
        beam_size: int | None = None,
        compute_type: str = "auto",
        no_speech_threshold: float | None = None,
        logprob_threshold: float | None = -1.0,
        suppress_tokens: str | list[int] = "-1",
        device: str | None = "auto",
        window: Literal["full", "clip"] = "full",
        min_window_s: float = 0.0,
        cpu_threads: int = 0,
        download_root: str | None = None,
    ):
        if language_mode not in ("given", "detect"):
            raise ConfigError(f"recognizer.language_mode: '{language_mode}' is neither given nor detect")
        if window not in ("full", "clip"):
            raise ConfigError(f"recognizer.window: '{window}' is neither full nor clip")
        if not 0 <= min_window_s <= N_FRAMES / WINDOW_STEP:
            raise ConfigError(f"recognizer.min_window_s: {min_window_s} is not between 0 and 30 seconds")
        self.window, self.min_window_s = window, min_window_s
        self.model_name, self.language_mode, self.unsupported = model, language_mode, check_policy(unsupported)
        self.batch_size, self.sample_len, self.beam_size = batch_size, sample_len, beam_size
        self.device = pick_device(device)
        self.compute_type = compute_type_for(self.device.type, compute_type)
        self.no_speech_threshold, self.logprob_threshold = no_speech_threshold, logprob_threshold
        self.suppress_tokens = suppress_tokens
        self.cpu_threads, self.download_root = cpu_threads, download_root
        self.uses_language = language_mode == "given"
        self._model = None
        self._tokenizer = None

    def describe(self) -> dict:
        settings = {
            "compute_type": self.compute_type,
            **self.decoding_options(),
            # only clip windows add keys: cached full-window transcripts stay valid
            **({"window": "clip", "min_window_s": self.min_window_s} if self.window == "clip" else {}),
        }
        return describe_whisper(
            "faster-whisper", self.model_name, Path(self.model_name) / "model.bin", "model_sha256", settings
        )

    @property
    def model(self):
        """The ``faster_whisper.WhisperModel`` (loaded on first use)."""
        if self._model is None:
            from faster_whisper import WhisperModel
            from faster_whisper.tokenizer import Tokenizer

            self._model = WhisperModel(
                self.model_name,
                device=self.device.type,
                device_index=self.device.index or 0,
                compute_type=self.compute_type,
                cpu_threads=self.cpu_threads,
                download_root=self.download_root,
            )
            multilingual = self._model.model.is_multilingual
            self._tokenizer = Tokenizer(
                self._model.hf_tokenizer, multilingual, task="transcribe", language="en" if multilingual else None
            )
        return self._model

    def supported_languages(self) -> set[str]:
        """The model's language codes (its language tokens); before loading, faster-whisper's full list."""
        from faster_whisper.tokenizer import _LANGUAGE_CODES

        if self._model is None:
            return set(_LANGUAGE_CODES)
        if not self._model.model.is_multilingual:
            return {"en"}
        sot, count = self._tokenizer.sot, self._model.model.num_languages
        token_id = self._model.hf_tokenizer.token_to_id
        return {c for c in _LANGUAGE_CODES if (t := token_id(f"<|{c}|>")) is not None and sot < t <= sot + count}

    def window_frames(self, samples: int) -> int:
        """The encoder window of a clip of ``samples``: 3000 frames, or with ``window: clip`` its
        frames rounded up to whole seconds, at least ``min_window_s``, at most 3000."""
        if self.window == "full":
            return N_FRAMES
        frames = max(1, samples // self.model.feature_extractor.hop_length, round(self.min_window_s * WINDOW_STEP))
        return min(N_FRAMES, -(-frames // WINDOW_STEP) * WINDOW_STEP)

    def features(self, waves: list[np.ndarray], frames: int = N_FRAMES) -> np.ndarray:
        """``[B, n_mels, frames]`` windows: each clip's own log-mel frames, zero-padded to ``frames``.

        The frames are those ``WhisperModel.transcribe`` (and openai-whisper's ``transcribe``)
        decode for a clip of up to 30 s: ``len // hop`` of them (``BatchedInferencePipeline``
        keeps one more, half padding).
        """
        from faster_whisper.audio import pad_or_trim

        extract = self.model.feature_extractor
        windows = []
        for wave in waves:
            wave = np.asarray(wave, dtype=np.float32)
            windows.append(pad_or_trim(extract(wave)[:, : min(frames, len(wave) // extract.hop_length)], frames))
        return np.stack(windows)

    def transcribe(self, waves: list[np.ndarray], languages: list[str | None]) -> list[str]:
        model = self.model
        codes = self.given_codes(languages) if self.uses_language else [None] * len(waves)
        texts = [""] * len(waves)
        for frames, batch in self._batches(waves):
            encoded = self._encode(self.features([waves[i] for i in batch], frames))
            missing = [i for i in batch if codes[i] is None]
            if self.window == "clip":  # on the clip windows just encoded: no 30 s encoder pass
                detected = self._languages(model.model.detect_language(encoded))
                found = {i: detected[k] for k, i in enumerate(batch) if codes[i] is None}
            else:
                found = dict(zip(missing, self.detect([waves[i] for i in missing]), strict=True)) if missing else {}
            for i, text in zip(batch, self._generate(encoded, [codes[i] or found[i] for i in batch]), strict=True):
                texts[i] = text
        return texts

    def _encode(self, features: np.ndarray):
        """The encoder output of ``features``, on a CPU in chunks of at most 3000 frames (one 30 s
        window, or e.g. 15 two-second ones): more rows gain the GEMMs nothing there and grow the
        ``B x heads x T x T`` attention buffers (tiny shape, 1 thread: 1.7 s per 30 s window in
        batches of 16, 1.2 s one by one). Whole on a GPU, where the batch is the gain."""
        if self.device.type != "cpu" or len(features) * features.shape[-1] <= N_FRAMES:
            return self.model.encode(features)
        import ctranslate2

        step = max(1, N_FRAMES // features.shape[-1])
        parts = [np.array(self.model.encode(features[i : i + step])) for i in range(0, len(features), step)]
        return ctranslate2.StorageView.from_array(np.concatenate(parts))

    def _batches(self, waves: list[np.ndarray]):
        """``(frames, clip indices)`` per batch: longest clips first, at most ``batch_size``, one window length each."""
        batch, width = [], 0
        for i in sorted(range(len(waves)), key=lambda i: -len(waves[i])):
            frames = self.window_frames(len(waves[i]))
            if batch and (frames != width or len(batch) == self.batch_size):
                yield width, batch
                batch = []
            batch, width = [*batch, i], frames
        if batch:
            yield width, batch

    def detect(self, waves: list[np.ndarray]) -> list[str]:
        """The most likely language per clip, on the window ``transcribe`` detects on (the clip
        followed by 30 s of silence, not zeros: the same decisions as openai-whisper's)."""
        extract = self.model.feature_extractor
        windows = np.stack(
            [extract(np.asarray(w, dtype=np.float32), padding=extract.n_samples)[:, :N_FRAMES] for w in waves]
        )
        return self._languages(self.model.model.detect_language(self.model.encode(windows)))

    @staticmethod
    def _languages(found) -> list[str]:
        return [langs[0][0][2:-2] for langs in found]  # "<|en|>" -> "en"

    def _generate(self, encoded, codes: list[str]) -> list[str]:
        from faster_whisper.transcribe import get_suppressed_tokens

        tokenizer, model = self._tokenizer, self._model
        prompts = [self._prompt(code) for code in codes]
        results = model.model.generate(
            encoded,
            prompts,
            beam_size=self.beam_size or 1,
            max_length=self._max_length(len(prompts[0])),
            suppress_blank=True,
            suppress_tokens=list(get_suppressed_tokens(tokenizer, suppress_list(self.suppress_tokens))),
            return_scores=True,
            return_no_speech_prob=True,
        )
        texts = []
        for result in results:
            tokens = result.sequences_ids[0]
            avg_logprob = result.scores[0] * len(tokens) / (len(tokens) + 1)  # scores are length-normalised
            silent = is_silence(result.no_speech_prob, avg_logprob, self.no_speech_threshold, self.logprob_threshold)
            texts.append("" if silent else tokenizer.decode([t for t in tokens if t < tokenizer.eot]).strip())
        return texts

    def _max_length(self, prompt_length: int) -> int:
        """CTranslate2's ``max_length`` that lets ``sample_len`` tokens be generated: its Whisper
        generates at most ``min(max_length / 2, max_length - prompt)`` (openai-whisper's rule of
        half the context, 224 by default)."""
        limit = self._model.max_length  # 448: the text context
        new = min(self.sample_len or limit // 2, limit // 2)
        return min(limit, max(2 * new, new + prompt_length))

    def _prompt(self, code: str | None) -> list[int]:
        tokenizer = self._tokenizer
        if not self._model.model.is_multilingual:
            return [tokenizer.sot, tokenizer.no_timestamps]
        return [
            tokenizer.sot,
            self._model.hf_tokenizer.token_to_id(f"<|{code}|>"),
            tokenizer.transcribe,
            tokenizer.no_timestamps,
        ]
