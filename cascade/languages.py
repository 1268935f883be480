"""Whisper's language codes, from the workbench's one language table (:mod:`workbench.languages`).

Whisper's codes are mostly ISO 639-1 (``ru``, ``el``, ``ka``) with a few of its own (``jw``,
``haw``, ``yue``); the table maps every code form the workbench reads (ISO 639-3, BCP-47,
FLORES, SpeechTaxi's ``tw-*``) to them. This module adds what is Whisper's alone: its list
of languages and its English language names (``english``) as codes.
"""

from __future__ import annotations

from workbench.errors import ConfigError
from workbench.languages import resolve, whisper_code


def whisper_languages() -> dict[str, str]:
    """openai-whisper's ``{code: English name}`` (the largest model's list)."""
    from whisper.tokenizer import LANGUAGES

    return LANGUAGES


def whisper_language(language: str | None, supported: dict[str, str] | None = None) -> str | None:
    """The Whisper code for an ISO 639-3 / ISO 639-1 / BCP-47 / FLORES code; None stays None.

    Args:
        supported: the model's ``{code: name}`` (default: openai-whisper's list).

    Raises:
        ConfigError: the code names no language, or Whisper does not know the language.
    """
    if language is None:
        return None
    supported = whisper_languages() if supported is None else supported
    base = language.strip().lower()
    if base in supported:
        return base
    from whisper.tokenizer import TO_LANGUAGE_CODE

    if base in TO_LANGUAGE_CODE and TO_LANGUAGE_CODE[base] in supported:  # an English name ("english")
        return TO_LANGUAGE_CODE[base]
    code = whisper_code(language, supported)
    if code is None:
        raise ConfigError(
            f"language '{language}' ({resolve(language).name}): Whisper has no such language "
            f"(known: {sorted(supported)})"
        )
    return code
