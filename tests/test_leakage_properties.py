"""The leakage guard as a property, over random corpora and protocols.

The contract (``workbench.protocols``): whatever the dataset's own splits say, a content that
is validated or tested in ANY language of the corpus is never trained on in any language,
whatever the protocol's sources and targets. Items are drawn with a random split per language
and content (any misalignment), some contents missing in some languages, and protocols with
random sources, targets narrower than all languages and random evaluated splits. The check
is against the whole corpus, not against what the protocol selected: a guard that only looks
at the selected targets' items passes :func:`assert_no_leakage` and still leaks.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from workbench.errors import ConfigError
from workbench.items import Corpus, Item
from workbench.protocols import EVAL_SPLITS, Protocol, assert_no_leakage

LANGUAGES = ["eng", "rus", "hin", "tha", "kat"]
SPLIT_CHOICES = ["train", "train", "train", "dev", "test", "test_unseen"]  # mostly training items


@st.composite
def corpora(draw) -> Corpus:
    languages = LANGUAGES[: draw(st.integers(2, len(LANGUAGES)))]
    contents = draw(st.integers(3, 12))
    items = []
    for language in languages:
        for content in range(contents):
            split = draw(st.sampled_from([*SPLIT_CHOICES, None]))  # None: this language lacks the content
            if split is not None:
                items.append(Item(f"{language}-{content}", f"c{content}", language, content % 2, split))
    if not items:
        items.append(Item(f"{languages[0]}-0", "c0", languages[0], 0, "train"))
    return Corpus(items, ["a", "b"])


def subsets(languages: list[str]):
    return st.lists(st.sampled_from(languages), min_size=1, max_size=len(languages), unique=True)


@st.composite
def protocols(draw, corpus: Corpus) -> Protocol:
    languages = corpus.languages
    name = draw(st.sampled_from(["in_language", "all_languages", "zero_shot"]))
    sources = draw(subsets(languages)) if name != "all_languages" else draw(st.none() | subsets(languages))
    targets = draw(st.none() | subsets(languages))
    eval_splits = draw(st.lists(st.sampled_from(EVAL_SPLITS), min_size=1, unique=True))
    return Protocol(name, sources, targets, eval_splits)


def expected_languages(protocol: Protocol, corpus: Corpus) -> tuple[set[str], set[str]]:
    """Train and test languages as the protocol's docstring states them."""
    train = set(protocol.sources or corpus.languages)
    if protocol.targets is not None:
        return train, set(protocol.targets)
    return train, train if protocol.name == "in_language" else set(corpus.languages)


@given(st.data())
def test_no_content_evaluated_anywhere_in_the_corpus_is_trained_on(data):
    corpus = data.draw(corpora())
    protocol = data.draw(protocols(corpus))
    held_out = {item.content_id for item in corpus.items if item.split != "train"}
    train_langs, test_langs = expected_languages(protocol, corpus)
    allowed = [i for i in corpus.items if i.split == "train" and i.language in train_langs]
    kept = [i for i in allowed if i.content_id not in held_out]
    try:
        selection = protocol.select(corpus)
    except ConfigError as error:
        assert "no training items left" in str(error) and not kept
        return
    trained = {item.content_id for item in selection["train"]}
    assert not trained & held_out, "a content validated or tested somewhere in the corpus is trained on"
    assert_no_leakage(selection)
    # nothing more is dropped than what leaks, and the drop is counted
    assert [i.id for i in selection["train"]] == [i.id for i in kept]
    assert selection.dropped_for_leakage == len(allowed) - len(kept)
    assert (set(selection.train_languages), set(selection.test_languages)) == (train_langs, test_langs)
    dev_langs = test_langs if "dev" in protocol.eval_splits else train_langs  # an evaluated dev is the targets'
    assert [i.id for i in selection["dev"]] == [
        i.id for i in corpus.items if i.split == "dev" and i.language in dev_langs
    ]
    for split in protocol.eval_splits:
        wanted = [i.id for i in corpus.items if i.split == split and i.language in test_langs]
        assert [i.id for i in selection[split]] == wanted


def test_a_narrow_target_does_not_let_a_dev_content_of_another_language_train():
    """The case the issue names: all languages trained, one target; content c1 is dev in rus and
    train in eng, content c2 is test in hin (not a target) and train in eng."""
    items = [
        Item("eng-0", "c0", "eng", 0, "train"),
        Item("eng-1", "c1", "eng", 1, "train"),
        Item("eng-2", "c2", "eng", 0, "train"),
        Item("rus-1", "c1", "rus", 1, "dev"),
        Item("rus-3", "c3", "rus", 1, "train"),
        Item("hin-2", "c2", "hin", 0, "test"),
        Item("eng-4", "c4", "eng", 0, "test"),
    ]
    corpus = Corpus(items, ["a", "b"])
    for protocol in (Protocol("all_languages", targets=["eng"]), Protocol("zero_shot", ["eng", "rus"], ["eng"])):
        selection = protocol.select(corpus)
        assert sorted(i.id for i in selection["train"]) == ["eng-0", "rus-3"]
        assert selection.dropped_for_leakage == 2
