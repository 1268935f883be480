"""Item-paired comparisons of two systems: McNemar's exact test, paired bootstrap, agreement, hybrid.

All functions take the two systems' prediction records on the *same* items (the same
ids, split, protocol and seed), which is what the shared prediction format guarantees.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts (binomial, p = 1/2).

    Example:
        >>> round(mcnemar_exact(10, 2), 4)
        0.0386
        >>> mcnemar_exact(3, 3)
        1.0
    """
    n = only_a + only_b
    if n == 0:
        return 1.0
    k = min(only_a, only_b)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


def paired_bootstrap(correct_a: Sequence[bool], correct_b: Sequence[bool], samples: int = 2000, seed: int = 0):
    """95% interval of accuracy(A) - accuracy(B), resampling items with replacement."""
    n = len(correct_a)
    if n == 0:
        return (float("nan"), float("nan"))
    diffs = [int(a) - int(b) for a, b in zip(correct_a, correct_b, strict=True)]
    rng = random.Random(seed)
    means = sorted(sum(diffs[rng.randrange(n)] for _ in range(n)) / n for _ in range(samples))
    return means[int(0.025 * samples)], means[int(0.975 * samples) - 1]


def agreement(correct_a: Sequence[bool], correct_b: Sequence[bool]) -> dict[str, int]:
    """Counts of both right, only A right, only B right, both wrong."""
    counts = {"both_right": 0, "only_a": 0, "only_b": 0, "both_wrong": 0}
    for a, b in zip(correct_a, correct_b, strict=True):
        key = "both_right" if a and b else "only_a" if a else "only_b" if b else "both_wrong"
        counts[key] += 1
    return counts


def confidence_weighted(probs_a: Sequence[float], probs_b: Sequence[float]) -> list[float]:
    """Hybrid of two class distributions, each weighted by its own confidence (max probability).

    A system that is sure of itself on an item counts more there; with equal confidence
    this is the plain average.
    """
    weight_a, weight_b = max(probs_a), max(probs_b)
    total = weight_a + weight_b
    return [(weight_a * a + weight_b * b) / total for a, b in zip(probs_a, probs_b, strict=True)]
