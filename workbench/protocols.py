"""Transfer protocols: which items train, which validate, which are tested.

- ``in_language``: train and test on the source language(s).
- ``all_languages``: train jointly on every language, test on each.
- ``zero_shot``: train on the source language(s), test on every other language (and,
  for reference, on the sources too: the report separates them).

Whatever a dataset's own splits say, a content (``content_id``) that is tested in any
language is never trained on in any language: multilingual training on a translation of a
test verse would leak its label. Leaking training items are dropped and counted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Literal

from workbench.errors import ConfigError
from workbench.items import SPLITS, Corpus, Item
from workbench.languages import language_in

log = logging.getLogger(__name__)

ProtocolName = Literal["in_language", "all_languages", "zero_shot"]
EVAL_SPLITS = ("dev", "test", "test_unseen")


@dataclass
class Selection:
    """The items a protocol selected, per split, and what it dropped to prevent leakage."""

    splits: dict[str, list[Item]]
    train_languages: list[str]
    test_languages: list[str]
    dropped_for_leakage: int = 0

    def __getitem__(self, split: str) -> list[Item]:
        return self.splits.get(split, [])


@dataclass
class Protocol:
    """A transfer protocol, set in config.

    Args:
        name: ``in_language``, ``all_languages`` or ``zero_shot``.
        sources: training languages (``in_language`` and ``zero_shot``); all when None
            for ``all_languages``. A string is one language.
        targets: test languages; default: the sources for ``in_language``, all
            languages otherwise.
        eval_splits: the splits tested after training.
    """

    name: ProtocolName = "in_language"
    sources: list[str] | None = None
    targets: list[str] | None = None
    eval_splits: list[str] = field(default_factory=lambda: ["test", "test_unseen"])

    def __post_init__(self) -> None:
        if self.name not in ("in_language", "all_languages", "zero_shot"):
            raise ConfigError(f"protocol.name: unknown protocol '{self.name}'")
        if isinstance(self.sources, str):
            self.sources = [self.sources]
        if isinstance(self.targets, str):
            self.targets = [self.targets]
        if self.name != "all_languages" and not self.sources:
            raise ConfigError(f"protocol.sources: protocol '{self.name}' needs at least one source language")
        for split in self.eval_splits:
            if split not in SPLITS:
                raise ConfigError(f"protocol.eval_splits: unknown split '{split}', expected one of {SPLITS}")

    @property
    def tag(self) -> str:
        """Short name for run directories and tables, e.g. ``zero_shot-eng``."""
        return self.name if not self.sources else f"{self.name}-{'+'.join(self.sources)}"

    def languages(self, corpus: Corpus) -> tuple[list[str], list[str]]:
        """``(train, test)`` languages as the corpus's codes: a source or target may also be named by the hub's
        own id (``ukr_Cyrl``, ``uk-UA``) or any form of the language table (:func:`workbench.languages.language_in`).
        """
        available = corpus.languages
        named = {}
        for role, langs in (("sources", self.sources), ("targets", self.targets)):
            named[role] = [language_in(lang, available) for lang in langs or []]
            unknown = sorted(lang for lang, found in zip(langs or [], named[role], strict=True) if found is None)
            if unknown:
                raise ConfigError(f"protocol.{role}: unknown language(s) {unknown}; the corpus has {available}")
        train = named["sources"] if self.sources else available
        if self.targets is not None:
            test = named["targets"]
        elif self.name == "in_language":
            test = train
        else:
            test = available
        return train, test

    def select(self, corpus: Corpus) -> Selection:
        """Split the corpus for this protocol, disjoint by ``content_id`` across languages.

        Sources and targets named by another form of their code are replaced by the corpus's codes, so the
        protocol's tag and the run record name the languages as the items do.
        """
        train_langs, test_langs = self.languages(corpus)
        if self.sources:
            self.sources = train_langs
        if self.targets is not None:
            self.targets = test_langs
        splits = {"train": corpus.where("train", train_langs), "dev": corpus.where("dev", train_langs)}
        for split in self.eval_splits:
            splits[split] = corpus.where(split, test_langs)
        # Any content evaluated anywhere (in any language of the corpus) must not be trained on.
        held_out = {item.content_id for item in corpus.items if item.split != "train"}
        kept = [item for item in splits["train"] if item.content_id not in held_out]
        dropped = len(splits["train"]) - len(kept)
        if dropped:
            log.warning("protocol %s: dropped %d training items whose content is evaluated", self.tag, dropped)
        splits["train"] = kept
        if not kept:
            raise ConfigError(f"protocol {self.tag}: no training items left for languages {train_langs}")
        return Selection(splits, train_langs, test_langs, dropped)


def assert_no_leakage(selection: Selection) -> None:
    """Raise if a trained content_id is also validated or tested, in any language."""
    trained = {item.content_id for item in selection["train"]}
    for split, items in selection.splits.items():
        if split == "train":
            continue
        leaked = trained & {item.content_id for item in items}
        if leaked:
            raise AssertionError(f"{len(leaked)} content ids of '{split}' are trained on, e.g. {sorted(leaked)[:3]}")
