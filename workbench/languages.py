"""One language table for every tool: ISO 639-3 / 639-1, BCP-47, FLORES-200 and SpeechTaxi codes.

Each corpus and each model speaks its own dialect of language codes. Items carry what their
corpus uses: ISO 639-3 (``rus``, the embedded corpus and SpeechTaxi), SpeechTaxi's Twi
varieties (``tw-akuapem``, ``tw-asante``), BCP-47 locales (``de-DE``, Speech-MASSIVE and
MINDS-14) or FLORES-200 codes (``deu_Latn``, SIB-Fleurs). uroman wants ISO 639-3, Whisper its
own mostly two-letter codes (``ru``, but ``jw`` for Javanese), MMS adapters ISO 639-3 with a
script suffix where a language has several (``urd-script_arabic``), NLLB FLORES-200 codes.
:func:`resolve` reads any of those forms into one :class:`Language`; its fields and the
functions below give each tool its code, so no tool keeps a table of its own.

The facts come from CLDR through babel (already a dependency: ISO 639-3 -> 639-1 aliases,
macrolanguage members, each language's likely script, English names) and from uroman's ISO
639-3 list (the codes its rules know); the small tables below add only what neither has.

Example:
    >>> lang = resolve("ur-PK")
    >>> lang.code, lang.iso1, lang.flores, uroman_code("urd")
    ('urd', 'ur', 'urd_Arab', 'urd')
    >>> resolve("tw-asante").iso3, whisper_code("tw-asante", {"en", "ru"})
    ('twi', None)
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from workbench.errors import ConfigError

# SpeechTaxi's two Twi varieties: both are the language Twi (ISO 639-3 twi), written in Latin
VARIETIES = {"tw-akuapem": ("twi", "Latn", "Akuapem Twi"), "tw-asante": ("twi", "Latn", "Asante Twi")}

# FLORES-200 names a macrolanguage by one member (Arabic is arb_Arab, Persian pes_Arab): macro -> member
FLORES_MEMBER = {
    "ara": "arb",
    "aze": "azj",
    "fas": "pes",
    "fil": "tgl",
    "ful": "fuv",
    "lav": "lvs",
    "mlg": "plt",
    "mon": "khk",
    "msa": "zsm",
    "nep": "npi",
    "nor": "nob",
    "orm": "gaz",
    "pus": "pbt",
    "que": "quy",
    "sqi": "als",
    "swa": "swh",
    "uzb": "uzn",
    "yid": "ydd",
}

# FLORES-200 writes Korean as Hangul where CLDR's likely script is Kore (Hangul + Han)
FLORES_SCRIPT = {"Kore": "Hang"}

# English names CLDR lacks (SpeechTaxi and FLORES languages), for messages
NAMES = {"bht": "Bhattiyali", "nag": "Naga Pidgin", "nlx": "Nahali", "peg": "Pengo", "fuv": "Nigerian Fulfulde"}

# Whisper's codes that are not the language's ISO 639-1 code (its own "jw", no-ISO-639-1 languages)
WHISPER_EXCEPTIONS = {"jav": "jw", "nob": "no", "nor": "no", "nno": "nn", "yue": "yue", "haw": "haw"}

# MMS adapter suffixes (``xxx-script_<name>``) where CLDR's English script name differs
MMS_SCRIPT_NAMES = {"Beng": "bengali", "Orya": "oriya", "Hans": "simplified", "Hant": "traditional"}

# scripts written without spaces between words: a WER over space-separated words is close to a phrase error rate
SPACELESS_SCRIPTS = {"Thai", "Laoo", "Khmr", "Mymr", "Tibt", "Hans", "Hant", "Jpan"}

NOT_LANGUAGES = {"und", "mul", "mis", "zxx"}  # ISO 639's "undetermined", "multiple", ... : no language

_UROMAN_LINE = re.compile(r"::lang-code\s+([a-z]{3})\b(?:.*?::deprecated-lang-codes\s+([^:]*))?")
_SUPER = re.compile(r"::super\s+([a-z]{3})\b")


@dataclass(frozen=True)
class Language:
    """One language (or SpeechTaxi variety) with the code every tool needs.

    Attributes:
        code: the workbench's canonical code: ISO 639-3, or the variety code (``tw-akuapem``).
        iso3: the ISO 639-3 code of the language (``twi`` for both Twi varieties).
        iso1: ISO 639-1 (two letters) when the language or its macrolanguage has one.
        script: ISO 15924 script (``Latn``, ``Cyrl``...): given in the code, or CLDR's likely one.
        name: English name (CLDR), for messages.
    """

    code: str
    iso3: str
    iso1: str | None
    script: str | None
    name: str

    @property
    def flores(self) -> str | None:
        """The FLORES-200 code (``rus_Cyrl``; a macrolanguage as FLORES's member: ``arb_Arab``)."""
        if self.script is None:
            return None
        return f"{FLORES_MEMBER.get(self.iso3, self.iso3)}_{FLORES_SCRIPT.get(self.script, self.script)}"


def _normalise(code: str) -> str:
    return str(code).strip().replace("_", "-")


@cache
def uroman_codes(path: str | None = None) -> dict[str, str]:
    """``{code or alias: ISO 639-3 code}`` from uroman's language list (aliases are old or 2-letter codes)."""
    if path is None:
        import uroman

        path = str(Path(uroman.__file__).parent / "data" / "ISO-639-3-list.txt")
    codes: dict[str, str] = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        match = _UROMAN_LINE.match(line.strip())
        if not match:
            continue
        code, aliases = match.group(1), match.group(2) or ""
        codes[code] = code
        for alias in re.split(r"[;,]\s*", aliases.strip()):
            if re.fullmatch(r"[a-z]{2,3}", alias):
                codes.setdefault(alias, code)
    return codes


@cache
def _cldr() -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """CLDR's language aliases (``rus`` -> ``ru``, ``arb`` -> ``ar``), likely subtags and English names."""
    from babel import Locale
    from babel.core import get_global

    return dict(get_global("language_aliases")), dict(get_global("likely_subtags")), dict(Locale("en").languages)


@cache
def _iso1_to_iso3() -> dict[str, str]:
    """Two-letter -> ISO 639-3: CLDR where one code has that alias, else uroman's list (``ar`` -> ``ara``).

    CLDR first: uroman lists a few wrong old codes (``ch``, Chamorro, under Chinese).
    """
    reverse: dict[str, set[str]] = {}
    for key, value in _cldr()[0].items():
        if len(key) == 3 and len(value) == 2 and key.isalpha():
            reverse.setdefault(value, set()).add(key)
    table = {two: next(iter(threes)) for two, threes in reverse.items() if len(threes) == 1}
    for alias, code in uroman_codes().items():
        if len(alias) == 2:
            table.setdefault(alias, code)
    return table


@cache
def _iso1_of(iso3: str) -> str | None:
    """ISO 639-1 of a language: its own two-letter code (CLDR's or uroman's: ``twi`` -> ``tw``, which CLDR
    folds into Akan), else its macrolanguage's (``arb`` -> ``ar``)."""
    cldr = _cldr()[0].get(iso3)
    own = [a for a, code in uroman_codes().items() if code == iso3 and len(a) == 2]
    for alias in [cldr, *own]:
        if alias and len(alias) == 2 and _iso1_to_iso3().get(alias) == iso3:
            return alias
    return cldr if cldr and len(cldr) == 2 else None


def _known(iso3: str) -> bool:
    aliases, likely, names = _cldr()
    return iso3 in uroman_codes() or iso3 in likely or iso3 in aliases or iso3 in names


def _likely_script(keys: list[str]) -> str | None:
    likely = _cldr()[1]
    for key in keys:
        if key in likely:
            parts = likely[key].split("_")
            if len(parts) > 1 and len(parts[1]) == 4:
                return parts[1]
    return None


@cache
def resolve(code: str) -> Language:
    """The :class:`Language` of any code form: ``rus``, ``ru``, ``ru-RU``, ``rus_Cyrl``, ``sr-Latn``, ``tw-akuapem``.

    Raises:
        ConfigError: the code names no language (neither CLDR nor uroman knows it).
    """
    text = _normalise(code)
    if text.lower() in VARIETIES:
        iso3, script, name = VARIETIES[text.lower()]
        return Language(text.lower(), iso3, _iso1_of(iso3), script, name)
    parts = text.split("-")
    base = parts[0].lower()
    renamed = _cldr()[0].get(base, "")
    if len(base) == 2 and len(renamed) == 2 and base not in _iso1_to_iso3():  # withdrawn: iw -> he, jw -> jv
        base = renamed
    if len(base) == 3 and uroman_codes().get(base, base) != base:  # ISO 639-2/B codes: ger -> deu, chi -> zho
        base = uroman_codes()[base]
    iso3 = base if len(base) == 3 else _iso1_to_iso3().get(base) if len(base) == 2 else None
    if iso3 is None or not base.isalpha() or iso3 in NOT_LANGUAGES or not _known(iso3):
        raise ConfigError(
            f"language code '{code}' is not an ISO 639-3, ISO 639-1, BCP-47 or FLORES code of a known language "
            f"(e.g. 'rus', 'ru', 'ru-RU', 'rus_Cyrl', 'tw-akuapem')"
        )
    iso1 = _iso1_of(iso3)
    script = next((p.title() for p in parts[1:] if len(p) == 4 and p.isalpha()), None)
    region = next((p.upper() for p in parts[1:] if len(p) == 2 or (len(p) == 3 and p.isdigit())), None)
    if script is None:
        keys = [f"{k}_{region}" for k in (iso1, iso3) if k and region] + [k for k in (iso1, iso3) if k]
        script = _likely_script(keys)
    names = _cldr()[2]
    name = names.get(iso3) or NAMES.get(iso3) or (names.get(iso1) if iso1 else None) or iso3
    return Language(iso3, iso3, iso1, script, name)


def iso3(code: str) -> str:
    """The workbench's canonical code of ``code`` (ISO 639-3, or a variety code such as ``tw-akuapem``)."""
    return resolve(code).code


def hub_language(code: object) -> tuple[str, str | None]:
    """A corpus's own language id -> ``(workbench code, the id as the hub wrote it, or None when they agree)``.

    Items carry the workbench's code (``eng``, ``ukr``) whatever the hub calls the language
    (``eng_Latn``, ``en-US``, ``uk-UA``); the hub's id stays beside it for traceability. Two hub ids
    of one language (``en-GB``, ``en-US``) become that one language.

    Raises:
        ConfigError: the id names no language the table knows.

    Example:
        >>> hub_language("uk-UA"), hub_language("eng")
        (('ukr', 'uk-UA'), ('eng', None))
    """
    given = str(code).strip()
    canonical = iso3(given)
    return canonical, (given if given != canonical else None)


def language_in(code: str, languages: Collection[str]) -> str | None:
    """The language of ``languages`` (a corpus's codes) that ``code`` names, or None.

    ``code`` may be the code itself or any form of the table naming it: the hub's own id that
    the items keep (``uk-UA``, ``ukr_Cyrl``), ISO 639-1 (``uk``).

    Example:
        >>> language_in("eng_Latn", ["eng", "rus"]), language_in("uk-UA", ["eng", "ukr"]), language_in("de", ["eng"])
        ('eng', 'ukr', None)
    """
    if code in languages:
        return code
    try:
        canonical = iso3(code)
    except ConfigError:
        return None
    return canonical if canonical in languages else None


def written_without_spaces(code: str) -> bool:
    """Whether the language is written without spaces between words (Thai, Lao, Khmer, Burmese, Chinese,
    Japanese, Tibetan), by its script; False for a code the table does not know.

    Example:
        >>> written_without_spaces("tha"), written_without_spaces("tha_Thai"), written_without_spaces("rus")
        (True, True, False)
    """
    try:
        return resolve(code).script in SPACELESS_SCRIPTS
    except ConfigError:
        return False


def uroman_code(code: str) -> str | None:
    """The code uroman's rules are keyed by, or None when uroman has no rules for a known language.

    A member of a macrolanguage uroman lists (``arb``, ``pes``) gets the macrolanguage's code.
    """
    lang = resolve(code)
    codes = uroman_codes()
    if lang.iso3 in codes:
        return codes[lang.iso3]
    if lang.iso1 and lang.iso1 in codes:
        return codes[lang.iso1]
    return None


def whisper_code(code: str, supported: Collection[str]) -> str | None:
    """The Whisper language code of ``code`` when the model knows it (``supported``: its codes), else None.

    Args:
        supported: the model's language codes (openai-whisper ``whisper.tokenizer.LANGUAGES``,
            faster-whisper ``model.supported_languages``).
    """
    lang = resolve(code)
    for candidate in (WHISPER_EXCEPTIONS.get(lang.iso3), lang.iso1, lang.iso3):
        if candidate and candidate in supported:
            return candidate
    return None


def _script_suffixes(script: str | None) -> set[str]:
    if script is None:
        return set()
    from babel import Locale

    names = {MMS_SCRIPT_NAMES.get(script, "")} | {w.lower() for w in Locale("en").scripts.get(script, "").split()}
    return {f"script_{n}" for n in names if n}


def mms_code(code: str, available: Collection[str]) -> str:
    """The MMS adapter key for ``code`` among the model's ``available`` keys (its vocab.json's languages).

    Tries the ISO 639-3 code, then ``<iso3>-script_<script>`` (``urd-script_arabic``; the only
    scripted key when there is one), then the same for the macrolanguage or its FLORES member.

    Raises:
        ConfigError: no adapter fits; the message names the language and the keys that share its code.
    """
    lang = resolve(code)
    members = [lang.iso3, FLORES_MEMBER.get(lang.iso3)]
    if lang.iso1 and _iso1_to_iso3().get(lang.iso1) not in members:
        members.append(_iso1_to_iso3().get(lang.iso1))  # the macrolanguage (arb -> ara)
    suffixes = _script_suffixes(lang.script)
    for iso in filter(None, members):
        if iso in available:
            return iso
        scripted = sorted(k for k in available if k.startswith(f"{iso}-"))
        matching = [k for k in scripted if k.split("-", 1)[1] in suffixes]
        if matching or len(scripted) == 1:
            return (matching or scripted)[0]
    near = sorted(k for k in available if k[:3] in members)
    raise ConfigError(
        f"language '{code}' ({lang.name}): the model has no adapter for it (tried {[m for m in members if m]}; "
        f"keys with that code: {near or 'none'}); map it with language_map"
    )
