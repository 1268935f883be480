"""Romanization with uroman: any script to Latin letters, the cascade's bridge across scripts.

uroman takes seconds to load and about a millisecond per string, and corpora repeat the
same strings (one transcript per item, one label name per class), so a :class:`Romanizer`
loads it lazily, once, and romanizes each distinct ``(language, text)`` once.

Language codes go through the workbench's language table (:mod:`workbench.languages`): any
ISO 639-3 / 639-1, BCP-47 (``pt-BR``), FLORES (``por_Latn``) or SpeechTaxi (``tw-akuapem``)
code becomes the code uroman's rules are keyed by; a known language uroman has no rules for
(``bht``) is romanized without a code, as uroman would anyway. An unknown code is an error
(a typo would silently lose the language-specific rules) unless the caller asks to fall back
to uroman without a code.

Example:
    >>> romanize("январь", "rus")
    'yanvar'
"""

from __future__ import annotations

import threading
from pathlib import Path

from workbench.errors import ConfigError
from workbench.languages import uroman_code, uroman_codes


def read_language_codes(path: Path | None = None) -> dict[str, str]:
    """``{code or alias: ISO 639-3 code}`` from uroman's language list (aliases are old codes)."""
    return dict(uroman_codes(str(path) if path else None))


_ENGINE: tuple[dict[str, str], object] | None = None
_ENGINE_LOCK = threading.Lock()


def _engine() -> tuple[dict[str, str], object]:
    """The language codes and the ``uroman.Uroman`` instance, loaded once per process."""
    global _ENGINE
    with _ENGINE_LOCK:
        if _ENGINE is None:
            import uroman

            _ENGINE = (read_language_codes(), uroman.Uroman())
        return _ENGINE


class Romanizer:
    """uroman, loaded on first use, with an in-memory cache of every string romanized.

    The uroman engine is loaded once per process and shared by all romanizers; each
    romanizer has its own cache and its own policy for unknown language codes.

    Args:
        allow_unknown_language: romanize text of an unknown language code without a code
            (uroman's language-independent rules) instead of raising :class:`ConfigError`.

    Thread-safe: one lock guards loading and the cache, so worker threads can share one.
    """

    def __init__(self, allow_unknown_language: bool = False):
        self.allow_unknown_language = allow_unknown_language
        self._uroman = None
        self._codes: dict[str, str] | None = None
        self._cache: dict[tuple[str | None, str], str] = {}
        self._lock = threading.RLock()
        self.hits = 0
        self.misses = 0

    def _load(self):
        with self._lock:
            if self._uroman is None:
                self._codes, self._uroman = _engine()
        return self._uroman

    def language_code(self, language: str | None, allow_unknown_language: bool | None = None) -> str | None:
        """The uroman code for an ISO 639-3 / 639-1 / BCP-47 / FLORES / SpeechTaxi code; None means no code.

        Args:
            allow_unknown_language: overrides the romanizer's setting for this call.

        Raises:
            ConfigError: the code is unknown to uroman and unknown languages are not allowed.
        """
        allow = self.allow_unknown_language if allow_unknown_language is None else allow_unknown_language
        if language is None or language == "":
            return None
        try:
            return uroman_code(language)
        except ConfigError as err:
            if allow:
                return None
            raise ConfigError(f"{err}; pass allow_unknown_language=True to romanize without one") from None

    def romanize(self, text: str, language: str | None = None, allow_unknown_language: bool | None = None) -> str:
        """The uroman romanization of ``text`` (str in, str out; '' stays '').

        Args:
            text: any Unicode text, in any mix of scripts.
            language: ISO 639-3 code (or ISO 639-1 / BCP-47); None romanizes without one.
            allow_unknown_language: overrides the romanizer's setting for this call.
        """
        code = self.language_code(language, allow_unknown_language)
        key = (code, text)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self.hits += 1
                return cached
            self.misses += 1
            result = self._load().romanize_string(text, lcode=code) if text else ""
            self._cache[key] = result
            return result

    def romanize_many(self, texts: list[str], language: str | None = None) -> list[str]:
        """Romanize a list of strings of one language; repeats cost nothing."""
        code = self.language_code(language)  # check the code once, not once per string
        return [self.romanize(text, code) for text in texts]

    def cache_size(self) -> int:
        return len(self._cache)


_DEFAULT: Romanizer | None = None
_DEFAULT_LOCK = threading.Lock()


def default_romanizer() -> Romanizer:
    """The process-wide strict :class:`Romanizer`, shared so uroman loads only once."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            _DEFAULT = Romanizer()
        return _DEFAULT


def romanize(text: str, language: str | None = None, allow_unknown_language: bool = False) -> str:
    """Romanize one string with the shared romanizer (see :class:`Romanizer`)."""
    return default_romanizer().romanize(text, language, allow_unknown_language)
