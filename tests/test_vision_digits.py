"""The embedded vision corpus: a checked word table, shared contents, disjoint deterministic splits."""

from __future__ import annotations

import unicodedata

import pytest
from num2words import num2words

from vision.digits import DIGIT_WORDS, LANGUAGES, Digits, split_contents
from workbench.errors import ConfigError
from workbench.protocols import Protocol, assert_no_leakage

NUM2WORDS = {"eng": "en", "deu": "de", "spa": "es", "rus": "ru", "tha": "th"}
SCRIPTS = {
    "eng": "LATIN",
    "deu": "LATIN",
    "spa": "LATIN",
    "rus": "CYRILLIC",
    "ell": "GREEK",
    "hin": "DEVANAGARI",
    "kat": "GEORGIAN",
    "tha": "THAI",
}


@pytest.mark.parametrize("language", sorted(NUM2WORDS))
def test_words_agree_with_num2words(language):
    assert list(DIGIT_WORDS[language]) == [num2words(d, lang=NUM2WORDS[language]) for d in range(10)]


@pytest.mark.parametrize("language", LANGUAGES)
def test_words_are_ten_distinct_names_in_the_language_script(language):
    words = DIGIT_WORDS[language]
    assert len(words) == 10 and len(set(words)) == 10
    for word in words:
        letters = [c for c in word if unicodedata.category(c).startswith("L")]
        assert letters and all(unicodedata.name(c).startswith(SCRIPTS[language]) for c in letters), word


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return Digits(root=str(tmp_path_factory.mktemp("digits")), tiny=True).load()


def test_every_image_appears_once_per_language_with_its_word(corpus):
    by_content = {}
    for item in corpus.items:
        by_content.setdefault(item.content_id, []).append(item)
        assert item.text == DIGIT_WORDS[item.language][item.label]
        assert item.romanized and item.romanized.isascii()
    assert len(corpus.languages) == 3
    for items in by_content.values():
        assert sorted(i.language for i in items) == corpus.languages
        assert len({(i.image, i.label, i.split) for i in items}) == 1
    assert corpus.meta["class_names"]["rus"][2] == "два"


def test_splits_are_disjoint_by_content_and_deterministic(corpus, tmp_path):
    splits = {}
    for item in corpus.items:
        splits.setdefault(item.content_id, set()).add(item.split)
    assert all(len(s) == 1 for s in splits.values())
    again = Digits(root=str(tmp_path), tiny=True).load()
    assert [(i.id, i.split, i.label) for i in again.items] == [(i.id, i.split, i.label) for i in corpus.items]
    assert split_contents(100, 0, 0.1, 0.3).count("test") == 30
    selection = Protocol("zero_shot", ["eng"]).select(corpus)
    assert_no_leakage(selection)
    assert {i.language for i in selection["test"]} == set(corpus.languages)


def test_bad_settings_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="no digit words"):
        Digits(root=str(tmp_path), languages=["xyz"])
    with pytest.raises(ConfigError, match="fractions"):
        Digits(root=str(tmp_path), dev=0.5, test=0.6)
