"""Language codes across tools: the workbench speaks ISO 639-3, Whisper speaks its own codes.

Whisper's codes are mostly ISO 639-1 (``ru``, ``el``, ``ka``) with a few exceptions
(``haw``, ``yue``, ``jw``). The 3 -> 2 letter table comes from uroman's ISO 639-3 list
(already a dependency, so no extra package), plus the exceptions below.
"""

from __future__ import annotations

from functools import cache

from workbench.errors import ConfigError

# Whisper codes the ISO table does not give (macrolanguages, Whisper's own "jw")
_WHISPER_EXTRA = {"zho": "zh", "cmn": "zh", "yue": "yue", "haw": "haw", "jav": "jw", "nno": "nn", "nob": "no"}


@cache
def _iso3_to_iso1() -> dict[str, str]:
    from workbench.romanize import read_language_codes

    table: dict[str, str] = {}
    for alias, code in read_language_codes().items():
        if len(alias) == 2:
            table.setdefault(code, alias)
    return table


def whisper_language(language: str | None) -> str | None:
    """The Whisper code for an ISO 639-3 / ISO 639-1 / BCP-47 code; None stays None.

    Raises:
        ConfigError: Whisper does not know the language.
    """
    if language is None:
        return None
    from whisper.tokenizer import LANGUAGES, TO_LANGUAGE_CODE

    base = language.strip().lower().replace("_", "-").split("-")[0]
    if base in LANGUAGES:
        return base
    if base in TO_LANGUAGE_CODE:  # an English name ("english")
        return TO_LANGUAGE_CODE[base]
    code = _WHISPER_EXTRA.get(base) or _iso3_to_iso1().get(base)
    if code is None or code not in LANGUAGES:
        raise ConfigError(f"language '{language}': Whisper has no such language (known: {sorted(LANGUAGES)})")
    return code
