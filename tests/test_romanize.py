"""The uroman wrapper: real romanizations, caching, language codes, robustness."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.errors import ConfigError
from workbench.romanize import Romanizer, default_romanizer, read_language_codes, romanize

# Latin letters, digits, spaces, punctuation; uroman may keep a few apostrophes/accents.
ASCIIISH = re.compile(r"^[A-Za-z0-9 ,.'\-]*$")


@pytest.fixture(scope="module")
def romanizer() -> Romanizer:
    return default_romanizer()


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("январь, март", "rus", "yanvar, mart"),
        ("Ιανουάριος, Μάρτιος", "ell", "Ianouarios, Martios"),
        ("जनवरी, मार्च", "hin", None),
        ("იანვარი, მარტი", "kat", "ianvari, marti"),
        ("มกราคม, มีนาคม", "tha", None),
    ],
)
def test_non_latin_scripts_become_ascii_latin(romanizer, text, language, expected):
    result = romanizer.romanize(text, language)
    assert ASCIIISH.match(result), result
    assert result.count(",") == 1 and len(result) >= 6
    if expected is not None:  # Devanagari and Thai spellings are lossy; only the shape is checked
        assert result == expected


def test_umlauts_follow_the_language(romanizer):
    assert romanizer.romanize("März", "deu") == "Maerz"


def test_cache_romanizes_each_distinct_string_once(romanizer):
    text = "Соединенные Штаты, Канада"
    romanizer.romanize(text, "rus")
    hits, misses, size = romanizer.hits, romanizer.misses, romanizer.cache_size()
    assert romanizer.romanize(text, "rus") == romanizer.romanize(text, "ru")  # alias, same cache entry
    assert (romanizer.hits, romanizer.misses, romanizer.cache_size()) == (hits + 2, misses, size)


def test_codes_aliases_and_bcp47(romanizer):
    assert romanizer.language_code("rus") == "rus"
    assert romanizer.language_code("ru") == "rus"
    assert romanizer.language_code("pt-BR") == "por"
    assert romanizer.language_code(None) is None


def test_every_embedded_language_is_known_to_uroman():
    from workbench.data.cldr_text import LANGUAGES

    codes = read_language_codes()
    assert set(LANGUAGES) <= set(codes.values())


@pytest.mark.parametrize("bad", ["xx", "qqq", "russian", "12"])
def test_unknown_code_is_an_error_naming_it(romanizer, bad):
    with pytest.raises(ConfigError, match=re.escape(f"'{bad}'")):
        romanizer.romanize("text", bad)


def test_unknown_code_falls_back_when_allowed(romanizer):
    assert romanizer.romanize("январь", "qqq", allow_unknown_language=True) == "yanvar"
    assert romanize("январь", "zzz", allow_unknown_language=True) == "yanvar"
    assert Romanizer(allow_unknown_language=True).romanize("март", "qqq") == "mart"


def test_empty_and_mixed_script(romanizer):
    assert romanizer.romanize("", "rus") == ""
    mixed = romanizer.romanize("Berlin, Москва, Αθήνα, 東京", None)
    assert mixed.startswith("Berlin, Moskva, Athena")
    assert ASCIIISH.match(mixed), mixed


def test_module_level_romanize():
    assert romanize("Тайланд", "rus") == "Tayland"


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=40), language=st.sampled_from([None, "eng", "rus", "ell", "hin", "kat", "tha"]))
def test_never_crashes_and_is_deterministic(romanizer, text, language):
    first = romanizer.romanize(text, language)
    assert isinstance(first, str)
    assert romanizer.romanize(text, language) == first  # from the cache
    assert Romanizer().romanize(text, language) == first  # a fresh romanizer, empty cache


def test_uroman_fast_writes_uroman_on_its_verified_languages():
    """Every CLDR name of the embedded corpus, per verified language: the fast engine equals the reference."""
    pytest.importorskip("uroman_fast")
    from workbench.data.cldr_text import item_names
    from workbench.romanize import FAST_VERIFIED

    fast, reference = Romanizer(engine="uroman-fast"), Romanizer(engine="uroman")
    for language in sorted(FAST_VERIFIED):
        names = [name for names in item_names(language).values() for name in names.values()]
        assert fast.romanize_many(names, language) == reference.romanize_many(names, language), language
    assert fast.engine_counts["uroman"] == 0 and reference.engine_counts["uroman-fast"] == 0
    assert fast.engine_counts["uroman-fast"] == reference.engine_counts["uroman"] > 500


def test_auto_engine_falls_back_to_uroman_per_language():
    pytest.importorskip("uroman_fast")
    romanizer = Romanizer()  # auto
    assert romanizer.engine_for("rus") == "uroman-fast" and romanizer.engine_for("ukr") == "uroman"
    assert romanizer.engine_for(None) == "uroman"  # no language: not checked
    romanizer.romanize("январь", "rus")
    romanizer.romanize("січень", "ukr")
    assert romanizer.engine_counts == {"uroman": 1, "uroman-fast": 1}
    assert Romanizer(fast_languages="all").engine_for("ukr") == "uroman-fast"
    assert Romanizer(engine="uroman").engine_for("rus") == "uroman"


def test_fast_engine_missing_or_misnamed(monkeypatch):
    import workbench.romanize as module

    monkeypatch.setattr(module, "fast_romanizer", lambda: None)
    with pytest.raises(ConfigError, match="uroman-fast.*not installed"):
        Romanizer(engine="uroman-fast")
    assert Romanizer().engine_for("rus") == "uroman"  # auto without the package: uroman
    with pytest.raises(ConfigError, match="'perl'"):
        Romanizer(engine="perl")


def test_unchecked_fast_romanizations_get_their_own_cache(tmp_path):
    pytest.importorskip("uroman_fast")
    from cascade.romanize_stage import RomanizeStage

    shared = RomanizeStage(tmp_path, Romanizer()).cache
    own = RomanizeStage(tmp_path, Romanizer(fast_languages="all")).cache
    assert shared.folder != own.folder and "uroman-fast" in own.folder.name
