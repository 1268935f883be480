"""What the openai-whisper and faster-whisper recognizers share: given languages, the silence rule.

Each clip's language goes through the workbench's language table to Whisper's code; a
language the model lacks (12 of SpeechTaxi's 28) is detected per clip (``unsupported:
detect``, counted for the run's metrics) or stops the run (``unsupported: error``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from cascade.cache import file_digest
from workbench.errors import ConfigError
from workbench.languages import resolve, whisper_code

Unsupported = Literal["detect", "error"]


def check_policy(unsupported: str) -> str:
    """``unsupported`` checked: ``detect`` or ``error``."""
    if unsupported not in ("detect", "error"):
        raise ConfigError(f"recognizer.unsupported: '{unsupported}' is neither detect nor error")
    return unsupported


class GivenLanguages:
    """Mixin for Whisper-family recognizers; needs ``unsupported``, ``uses_language``, the
    decoding options and ``supported_languages()`` (the model's Whisper codes)."""

    unsupported: str = "detect"
    uses_language: bool = True

    def supported_languages(self) -> set[str]:  # pragma: no cover - every subclass has its own
        raise NotImplementedError

    def decoding_options(self) -> dict:
        """The decoding settings transcripts depend on (part of :meth:`describe`: the cache key)."""
        return {
            "language_mode": self.language_mode,
            "sample_len": self.sample_len,
            "beam_size": self.beam_size,
            "no_speech_threshold": self.no_speech_threshold,
            "logprob_threshold": self.logprob_threshold if self.no_speech_threshold is not None else None,
            "suppress_tokens": self.suppress_tokens,
        }

    def given_codes(self, languages: list[str | None]) -> list[str | None]:
        """Whisper's code per clip; None where none is given or where Whisper lacks the
        language (then the recognizer detects it, with ``unsupported: detect``).

        Raises:
            ConfigError: a code names no language, or Whisper lacks it and ``unsupported`` is ``error``.
        """
        supported, codes = self.supported_languages(), {}
        for lang in dict.fromkeys(languages):
            codes[lang] = None if lang is None else whisper_code(lang, supported)
            if lang is not None and codes[lang] is None and self.unsupported == "error":
                raise ConfigError(
                    f"language '{lang}' ({resolve(lang).name}): Whisper has no such language; "
                    f"set recognizer.unsupported: detect to detect the language of its clips"
                )
        return [codes[lang] for lang in languages]

    def language_report(self, languages: list[str | None]) -> dict:
        """How many of the clips of ``languages`` had their language detected because Whisper lacks it."""
        if not self.uses_language:
            return {}
        supported = self.supported_languages()
        lacking = [lang for lang in languages if lang is not None and not whisper_code(lang, supported)]
        per_language = {lang: lacking.count(lang) for lang in sorted(set(lacking))}
        return {"unsupported_language": {"policy": self.unsupported, "n": len(lacking), "per_language": per_language}}


def is_silence(no_speech_prob: float, avg_logprob: float, no_speech_threshold, logprob_threshold) -> bool:
    """``transcribe``'s rule for skipping a window: likely no speech and not confidently decoded."""
    if no_speech_threshold is None or no_speech_prob <= no_speech_threshold:
        return False
    return not (logprob_threshold is not None and avg_logprob > logprob_threshold)


def describe_whisper(recognizer: str, name: str, weights: Path, digest_key: str, settings: dict) -> dict:
    """A Whisper recognizer's identity for caches and the run record: the digest of its local
    ``weights`` file under ``digest_key`` (else the model ``name``), then its ``settings``."""
    identity = {digest_key: file_digest(weights)} if weights.is_file() else {"name": name}
    return {"recognizer": recognizer, **identity, **settings}
