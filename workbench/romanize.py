"""Romanization with uroman: any script to Latin letters, the cascade's bridge across scripts.

uroman takes seconds to load and about a millisecond per string, and corpora repeat the
same strings (one transcript per item, one label name per class), so a :class:`Romanizer`
loads it lazily, once, and romanizes each distinct ``(language, text)`` once.

When ``uroman-fast`` (the Python package of uroman's Rust port, the ``fast`` extra) is
installed, it romanizes the languages where it was checked to write exactly what uroman
writes (:data:`FAST_VERIFIED`: every string of the embedded corpus, ``python -m
benchmarks.uroman_fast``); every other language falls back to uroman, the reference. A cold
first pass over the embedded corpus (engine load included) is about 12x faster with it.

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
from typing import Literal

from workbench.errors import ConfigError
from workbench.languages import uroman_code, uroman_codes

Engine = Literal["auto", "uroman", "uroman-fast"]
# the text a system reads: as written, or romanized by uroman (data.script)
Script = Literal["native", "romanized"]

# uroman codes whose strings uroman-fast romanizes exactly as uroman: all 8061 distinct strings of
# the embedded corpus (utterance texts and CLDR names, 8 languages, 5 scripts) identical, uroman
# 1.3.1.1 vs uroman-fast 0.1.0b0 (python -m benchmarks.uroman_fast); other languages: not checked, uroman.
FAST_VERIFIED = frozenset({"eng", "deu", "spa", "rus", "ell", "hin", "kat", "tha"})


def fast_romanizer():
    """``uroman_fast.romanize`` (text, lang) when the package is installed, else None."""
    try:
        from uroman_fast import romanize as fast
    except ImportError:
        return None
    return fast


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
        engine: ``auto`` (uroman-fast for its verified languages when installed, uroman
            otherwise), ``uroman`` (the reference only) or ``uroman-fast`` (required).
        fast_languages: the uroman codes uroman-fast romanizes (default
            :data:`FAST_VERIFIED`); ``all`` for every language, unchecked.

    Thread-safe: one lock guards loading and the cache, so worker threads can share one.
    """

    def __init__(
        self,
        allow_unknown_language: bool = False,
        engine: Engine = "auto",
        fast_languages: Literal["all"] | frozenset[str] | list[str] = FAST_VERIFIED,
    ):
        if engine not in ("auto", "uroman", "uroman-fast"):
            raise ConfigError(f"romanizer engine '{engine}' is none of auto, uroman, uroman-fast")
        self._fast = fast_romanizer() if engine != "uroman" else None
        if engine == "uroman-fast" and self._fast is None:
            raise ConfigError("romanizer engine 'uroman-fast': not installed (pip install -e '.[fast]')")
        self.fast_languages = fast_languages if fast_languages == "all" else frozenset(fast_languages)
        self.allow_unknown_language = allow_unknown_language
        self.engine_counts = {"uroman": 0, "uroman-fast": 0}  # strings romanized by each engine
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
            result = self._romanize(text, code) if text else ""
            self._cache[key] = result
            return result

    def engine_for(self, code: str | None) -> str:
        """``uroman-fast`` or ``uroman``: the engine that romanizes text of the uroman code ``code``."""
        if self._fast is not None and (self.fast_languages == "all" or code in self.fast_languages):
            return "uroman-fast"
        return "uroman"

    def _romanize(self, text: str, code: str | None) -> str:
        engine = self.engine_for(code)
        self.engine_counts[engine] += 1
        if engine == "uroman-fast":
            return self._fast(text, code)
        return self._load().romanize_string(text, lcode=code)

    def romanize_many(self, texts: list[str], language: str | None = None) -> list[str]:
        """Romanize a list of strings of one language; repeats cost nothing."""
        code = self.language_code(language)  # check the code once, not once per string
        return [self.romanize(text, code) for text in texts]

    def cache_size(self) -> int:
        return len(self._cache)

    def identity(self) -> str:
        """What the romanizations depend on beyond uroman's version: ``uroman`` when every
        string is (or equals, as checked) uroman's, else the unchecked fast engine's version."""
        if self._fast is None or self.fast_languages != "all":
            return "uroman"
        from importlib.metadata import version

        return f"uroman-fast-{version('uroman-fast')}"


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
