"""The text of the embedded default: six semantic classes of CLDR names, in many languages.

Every class is a fixed list of CLDR keys (territory codes, currency codes, unit ids...),
the same in every language, so that one key names the same thing everywhere and a
combination of keys identifies the same content across languages. The names come from
``babel``'s copy of CLDR at run time; nothing is downloaded.

Example:
    >>> names = item_names("rus")
    >>> names["months"]["jan"]
    'январь'
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache

from babel import Locale

from workbench.errors import ConfigError, DataError


@dataclass(frozen=True)
class LanguageSpec:
    """How one language is written (CLDR locale, script) and spoken (espeak-ng voice)."""

    babel_locale: str
    espeak_voice: str
    script: str


#: ISO 639-3 code -> locale, voice, script. The first eight are the default languages.
LANGUAGES: dict[str, LanguageSpec] = {
    "eng": LanguageSpec("en", "en-us", "Latin"),
    "deu": LanguageSpec("de", "de", "Latin"),
    "spa": LanguageSpec("es", "es", "Latin"),
    "rus": LanguageSpec("ru", "ru", "Cyrillic"),
    "ell": LanguageSpec("el", "el", "Greek"),
    "hin": LanguageSpec("hi", "hi", "Devanagari"),
    "kat": LanguageSpec("ka", "ka", "Georgian"),
    "tha": LanguageSpec("th", "th", "Thai"),
    "fra": LanguageSpec("fr", "fr", "Latin"),
    "ita": LanguageSpec("it", "it", "Latin"),
    "por": LanguageSpec("pt", "pt-br", "Latin"),
    "nld": LanguageSpec("nl", "nl", "Latin"),
    "pol": LanguageSpec("pl", "pl", "Latin"),
    "swe": LanguageSpec("sv", "sv", "Latin"),
    "tur": LanguageSpec("tr", "tr", "Latin"),
    "ukr": LanguageSpec("uk", "uk", "Cyrillic"),
}
DEFAULT_LANGUAGES = ("eng", "deu", "spa", "rus", "ell", "hin", "kat", "tha")

#: Unicode blocks of each script (letters only; digits and punctuation are not checked).
SCRIPT_RANGES: dict[str, tuple[tuple[int, int], ...]] = {
    "Latin": ((0x41, 0x5A), (0x61, 0x7A), (0xC0, 0x24F), (0x1E00, 0x1EFF)),
    "Cyrillic": ((0x400, 0x52F),),
    "Greek": ((0x370, 0x3FF), (0x1F00, 0x1FFF)),
    "Devanagari": ((0x900, 0x97F),),
    "Georgian": ((0x10A0, 0x10FF), (0x1C90, 0x1CBF)),
    "Thai": ((0xE00, 0xE7F),),
}

#: Class names in label order (the label index of a class is its position here).
CLASSES = ("months", "weekdays", "territories", "currencies", "languages", "units")

MONTH_KEYS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
WEEKDAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # babel: Monday is day 0
# Chosen so that every supported language has a CLDR name for each key, in its own script.
TERRITORY_KEYS = ("FR DE IT ES PT GB US CA MX BR AR CL PE CO CN JP IN RU EG NG KE ZA AU NZ SE NO FI PL GR TH").split()
CURRENCY_KEYS = "USD EUR JPY GBP CHF CNY INR RUB BRL MXN CAD AUD SEK NOK PLN TRY THB ZAR KRW EGP".split()
LANGUAGE_KEYS = "en de es fr it pt ru zh ja ar hi tr pl nl sv el ka th ko vi fa he uk sw id".split()
UNIT_KEYS = (
    "length-meter length-kilometer length-centimeter length-millimeter mass-kilogram mass-gram "
    "mass-milligram mass-tonne volume-liter volume-milliliter duration-second electric-volt electric-ohm "
    "frequency-hertz temperature-celsius temperature-kelvin pressure-pascal angle-degree concentr-percent "
    "speed-kilometer-per-hour"
).split()

CLASS_KEYS: dict[str, tuple[str, ...]] = {
    "months": MONTH_KEYS,
    "weekdays": WEEKDAY_KEYS,
    "territories": tuple(TERRITORY_KEYS),
    "currencies": tuple(CURRENCY_KEYS),
    "languages": tuple(LANGUAGE_KEYS),
    "units": tuple(UNIT_KEYS),
}

_PARENTHESES = re.compile(r"\s*[(\[（][^)\]）]*[)\]）]")
_SPACES = re.compile(r"\s+")


def language_spec(language: str) -> LanguageSpec:
    """The spec of a supported ISO 639-3 code; a ConfigError lists the supported ones."""
    try:
        return LANGUAGES[language]
    except KeyError:
        raise ConfigError(
            f"language '{language}' is not supported by the embedded dataset; "
            f"supported ISO 639-3 codes: {sorted(LANGUAGES)}"
        ) from None


def clean_name(name: str) -> str:
    """A CLDR name made speakable: no parentheses, hyphens, commas or unit placeholders.

    >>> clean_name("Южно-Африканская Республика")
    'Южно Африканская Республика'
    >>> clean_name("{0} meter")
    'meter'
    """
    name = name.replace("{0}", " ")
    name = _PARENTHESES.sub(" ", name)
    # Hyphens and commas would be read as pauses or minus signs; commas also separate items.
    name = re.sub(r"[-‐‑–—,;/&]", " ", name)
    return _SPACES.sub(" ", name).strip()


def _unit_name(locale: Locale, key: str) -> str | None:
    long = locale._data["unit_patterns"].get(key, {}).get("long", {})
    # The singular reads as a name ("meter"); some languages only have "other".
    return long.get("one") or long.get("other")


def _raw_names(locale: Locale, cls: str) -> dict[str, str | None]:
    keys = CLASS_KEYS[cls]
    if cls == "months":
        # 'stand-alone', not 'format': the format forms are genitive in many languages (ru "января").
        wide = locale.months["stand-alone"]["wide"]
        return {key: wide.get(i + 1) for i, key in enumerate(keys)}
    if cls == "weekdays":
        wide = locale.days["stand-alone"]["wide"]
        return {key: wide.get(i) for i, key in enumerate(keys)}
    table = {"territories": locale.territories, "currencies": locale.currencies, "languages": locale.languages}
    if cls in table:
        return {key: table[cls].get(key) for key in keys}
    return {key: _unit_name(locale, key) for key in keys}


def in_script(text: str, script: str) -> bool:
    """Whether every letter and mark of ``text`` lies in the Unicode blocks of ``script``.

    Spaces, digits, punctuation and format characters (the zero-width joiner of Devanagari)
    are not checked; generic combining accents (U+0300-U+036F) and spacing modifier letters
    (U+02B0-U+02FF, the Ukrainian apostrophe) are allowed in any script.
    """
    ranges = SCRIPT_RANGES[script]
    for char in text:
        code = ord(char)
        if unicodedata.category(char)[0] not in "LM" or 0x2B0 <= code <= 0x36F:
            continue
        if not any(lo <= code <= hi for lo, hi in ranges):
            return False
    return True


@cache
def item_names(language: str) -> dict[str, dict[str, str]]:
    """``{class: {key: clean name}}`` for one language, checked for gaps, clashes and script.

    Raises:
        ConfigError: the language is not supported.
        DataError: the installed CLDR lacks a name, or two names of one class collide.
    """
    spec = language_spec(language)
    locale = Locale.parse(spec.babel_locale)
    names: dict[str, dict[str, str]] = {}
    for cls in CLASSES:
        cleaned = {}
        for key, raw in _raw_names(locale, cls).items():
            where = f"CLDR {spec.babel_locale} {cls} '{key}'"
            name = clean_name(raw) if raw else ""
            if not name:
                raise DataError(where, "name", f"no name in babel {Locale.__module__} data")
            if not in_script(name, spec.script):
                raise DataError(where, "name", f"'{name}' is not written in {spec.script} script")
            cleaned[key] = name
        if len(set(cleaned.values())) != len(cleaned):
            raise DataError(f"CLDR {spec.babel_locale} {cls}", "name", "two keys share one name")
        names[cls] = cleaned
    return names
