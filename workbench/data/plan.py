"""What the embedded dataset says: which items each utterance names, in which split.

Pure functions of the settings and the seed, no audio and no language: the plan is made
once in key space (``"territories"``: ``("BR", "FR", "JP")``) and then spoken in every
language, so one ``content_id`` is the same content everywhere (a parallel corpus).

Splits are disjoint by content across all languages: every combination of items belongs
to exactly one of train, dev and test, and ``test_unseen`` combinations contain at least
one item that is never heard in any other split (an item held out of the large classes).

:class:`PlannedUtterance` and its :class:`Prosody` are one row of the plan once spoken in a
language: the speech build (:mod:`speech.embedded`) and the image build
(:mod:`vision.text_images`) both read them, so they live here, importing neither.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from itertools import combinations

from workbench.errors import ConfigError

#: Classes large enough to hold some items out for ``test_unseen``.
HOLDOUT_CLASSES = ("territories", "currencies", "languages", "units")
SEEN_SPLITS = ("train", "dev", "test")


def rng_for(seed: int, *purpose: object) -> random.Random:
    """A random generator for one purpose, independent of every other draw of the build.

    Derived by hashing, so adding a draw elsewhere never shifts this one, and an
    utterance's voice is the same whether it is synthesized first, last, or on resume.
    """
    digest = hashlib.sha256(repr((seed, *purpose)).encode("utf-8")).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


@dataclass(frozen=True)
class Content:
    """One utterance's content, shared by all languages.

    Attributes:
        cls: the class (the label).
        keys: the item keys in spoken order (2-4 distinct keys).
    """

    cls: str
    keys: tuple[str, ...]

    @property
    def content_id(self) -> str:
        """Class + sorted keys: the same combination spoken in any order is the same content."""
        return f"{self.cls}:{'+'.join(sorted(self.keys))}"


def choose_held_out(class_keys: dict[str, tuple[str, ...]], fraction: float, seed: int) -> dict[str, tuple[str, ...]]:
    """``{class: held-out keys}``: ``fraction`` of each holdout class, never heard in training."""
    held = {}
    for cls, keys in class_keys.items():
        count = round(len(keys) * fraction) if cls in HOLDOUT_CLASSES else 0
        held[cls] = tuple(sorted(rng_for(seed, "holdout", cls).sample(list(keys), count)))
    return held


def share_out(total: int, weights: list[int]) -> list[int]:
    """Split ``total`` things by ``weights``; every positive weight gets at least one when possible.

    >>> share_out(10, [8, 1, 2])
    [7, 1, 2]
    """
    positive = [i for i, w in enumerate(weights) if w > 0]
    if not positive:
        return [0] * len(weights)
    weight_sum = sum(weights[i] for i in positive)
    exact = [total * max(w, 0) / weight_sum for w in weights]
    counts = [int(x) for x in exact]
    # Largest remainders take what rounding down left over; ties go to the first split (train).
    for i in sorted(positive, key=lambda j: -(exact[j] - counts[j]))[: total - sum(counts)]:
        counts[i] += 1
    for i in positive:
        if counts[i] == 0 and total >= len(positive):
            counts[max(range(len(counts)), key=counts.__getitem__)] -= 1
            counts[i] = 1
    return counts


def class_quotas(total: int, classes: list[str]) -> dict[str, int]:
    """``total`` utterances spread evenly over ``classes`` (the first ones take the remainder)."""
    if not classes:
        return {}
    base, extra = divmod(total, len(classes))
    return {cls: base + (1 if i < extra else 0) for i, cls in enumerate(classes)}


class _Pool:
    """Combinations of one class, by size, drawn in a shuffled order and reshuffled when used up."""

    def __init__(self, by_size: dict[int, list[tuple[str, ...]]], rng: random.Random):
        self.by_size = {k: list(v) for k, v in by_size.items() if v}
        self.rng = rng
        self.order: dict[int, list[tuple[str, ...]]] = {}

    def draw(self) -> tuple[str, ...]:
        if not self.by_size:
            raise ConfigError("too few item combinations for the requested split sizes; lower them")
        size = self.rng.choice(sorted(self.by_size))
        if not self.order.get(size):
            self.order[size] = self.rng.sample(self.by_size[size], len(self.by_size[size]))
        return self.order[size].pop()


def _seen_pools(
    cls: str, seen: list[str], sizes: range, weights: list[int], seed: int
) -> dict[str, dict[int, list[tuple[str, ...]]]]:
    """Each combination of seen items goes to exactly one of train, dev and test."""
    pools: dict[str, dict[int, list[tuple[str, ...]]]] = {split: {} for split in SEEN_SPLITS}
    for size in sizes:
        combos = list(combinations(sorted(seen), size))
        rng_for(seed, "partition", cls, size).shuffle(combos)
        start = 0
        for split, count in zip(SEEN_SPLITS, share_out(len(combos), weights), strict=True):
            pools[split][size] = combos[start : start + count]
            start += count
    return pools


def _unseen_pool(keys: tuple[str, ...], held: tuple[str, ...], sizes: range) -> dict[int, list[tuple[str, ...]]]:
    held_set = set(held)
    return {size: [c for c in combinations(sorted(keys), size) if held_set.intersection(c)] for size in sizes}


def plan_contents(
    class_keys: dict[str, tuple[str, ...]],
    split_sizes: dict[str, int],
    seed: int,
    holdout_fraction: float = 0.25,
    items_per_utterance: tuple[int, int] = (2, 4),
) -> tuple[dict[str, list[Content]], dict[str, tuple[str, ...]]]:
    """The contents of every split, the same for every language, and the held-out keys.

    Args:
        class_keys: ``{class: item keys}`` in label order.
        split_sizes: ``{split: utterances per language}`` for train, dev, test, test_unseen.
        seed: the only source of randomness.
        holdout_fraction: share of each holdout class's items kept for ``test_unseen``.
        items_per_utterance: the smallest and largest number of items named in one utterance.

    Returns:
        ``({split: [Content, ...]}, {class: held-out keys})``; a split's contents are
        shuffled so that classes interleave.
    """
    low, high = items_per_utterance
    if not 1 <= low <= high:
        raise ConfigError(f"items_per_utterance {items_per_utterance} must satisfy 1 <= low <= high")
    if not 0.0 <= holdout_fraction < 1.0:
        raise ConfigError(f"holdout_fraction {holdout_fraction} must be in [0, 1)")
    held = choose_held_out(class_keys, holdout_fraction, seed)
    classes = list(class_keys)
    quotas = {split: class_quotas(split_sizes.get(split, 0), classes) for split in SEEN_SPLITS}
    unseen_classes = [c for c in classes if held[c]]
    if split_sizes.get("test_unseen", 0) and not unseen_classes:
        raise ConfigError("test_unseen needs a holdout class (territories, currencies, languages, units)")
    quotas["test_unseen"] = class_quotas(split_sizes.get("test_unseen", 0), unseen_classes)

    pools: dict[str, dict[str, _Pool]] = {split: {} for split in quotas}
    for cls in classes:
        seen = [k for k in class_keys[cls] if k not in held[cls]]
        sizes = range(low, min(high, len(seen)) + 1)
        if not sizes:
            raise ConfigError(f"class '{cls}' has {len(seen)} seen items, fewer than {low} per utterance")
        weights = [quotas[split][cls] for split in SEEN_SPLITS]
        for split, by_size in _seen_pools(cls, seen, sizes, weights, seed).items():
            pools[split][cls] = _Pool(by_size, rng_for(seed, "draw", split, cls))
        if held[cls]:
            unseen = _unseen_pool(class_keys[cls], held[cls], range(low, min(high, len(class_keys[cls])) + 1))
            pools["test_unseen"][cls] = _Pool(unseen, rng_for(seed, "draw", "test_unseen", cls))

    contents: dict[str, list[Content]] = {}
    for split, per_class in quotas.items():
        drawn = []
        for cls, count in per_class.items():
            for _ in range(count):
                keys = list(pools[split][cls].draw())
                # Spoken order is part of the plan, so every language says the items in one order.
                rng_for(seed, "order", split, len(drawn)).shuffle(keys)
                drawn.append(Content(cls, tuple(keys)))
        rng_for(seed, "interleave", split).shuffle(drawn)
        contents[split] = drawn
    return contents, held


@dataclass(frozen=True)
class Prosody:
    """How one utterance is spoken.

    Attributes:
        voice: espeak-ng voice and variant, e.g. ``"ru+f2"``.
        rate: speed in words per minute (espeak ``-s``).
        pitch: base pitch 0-99 (espeak ``-p``).
        pitch_range: intonation range in percent of the default (SSML ``prosody range``).
        peak: the absolute peak the waveform is scaled to, in (0, 1].
    """

    voice: str
    rate: int
    pitch: int
    pitch_range: int
    peak: float


@dataclass(frozen=True)
class PlannedUtterance:
    """One utterance of a build, before its audio exists.

    Attributes:
        audio: FLAC path relative to the build folder.
        held_out: the keys it names that only ``test_unseen`` uses.
    """

    id: str
    language: str
    split: str
    content: Content
    text: str
    prosody: Prosody
    audio: str
    held_out: tuple[str, ...] = ()
