"""workbench.protocols as configured: languages named in any form become the corpus's codes in the
protocol (its tag and the run record read them), a string is one language, an unselected split
is empty, a bad split is named, a leak's error shows a few of its contents (issue 26)."""

from __future__ import annotations

import pytest

from tests.test_protocols import verse_corpus
from workbench.errors import ConfigError
from workbench.protocols import Protocol, assert_no_leakage


def test_languages_named_by_another_form_are_the_corpus_codes_after_select():
    protocol = Protocol("zero_shot", ["eng_Latn", "ru"], targets=["hin_Deva", "tha"])
    selection = protocol.select(verse_corpus())
    assert (protocol.sources, protocol.targets) == (["eng", "rus"], ["hin", "tha"])
    assert protocol.tag == "zero_shot-eng+rus"
    assert {i.language for i in selection["test"]} == {"hin", "tha"}


def test_unset_targets_stay_unset_after_select():
    """``targets: None`` means 'the protocol's default' in the config the run saves, not a list."""
    protocol = Protocol("zero_shot", ["eng"])
    protocol.select(verse_corpus())
    assert protocol.targets is None and protocol.sources == ["eng"]


def test_a_string_is_one_language_for_sources_and_targets():
    protocol = Protocol("zero_shot", "eng", "rus")
    assert (protocol.sources, protocol.targets) == (["eng"], ["rus"])
    assert {i.language for i in protocol.select(verse_corpus())["test"]} == {"rus"}


def test_a_split_not_evaluated_is_empty():
    selection = Protocol("in_language", ["eng"], eval_splits=["test"]).select(verse_corpus())
    assert selection["test_unseen"] == [] and len(selection["test"]) > 0


def test_an_unknown_evaluated_split_is_named():
    with pytest.raises(ConfigError, match=r"^protocol.eval_splits: unknown split 'holdout', expected one of"):
        Protocol("in_language", ["eng"], eval_splits=["test", "holdout"])


def test_a_leak_is_reported_with_its_count_and_three_of_its_contents():
    selection = Protocol("all_languages").select(verse_corpus())
    selection.splits["train"] += selection["test"][:5]  # 5 tested contents (all from the first language)
    leaked = sorted({i.content_id for i in selection["test"][:5]})
    with pytest.raises(AssertionError) as error:
        assert_no_leakage(selection)
    assert str(error.value) == f"5 content ids of 'test' are trained on, e.g. {leaked[:3]}"
