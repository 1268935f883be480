"""Paired tests of two systems on the same items, with the item as the unit.

A system run with several seeds predicts each item several times. Those predictions are
not independent evidence about the item, so every test here takes ONE number per item
and system: the share of seeds that got the item right (``1.0``/``0.0`` with one seed).
Counting each seed's prediction as a separate pair (what this report did before) makes
p-values too small: a seed copied twice would halve them.

Choices, per question:

- **Per language: the exact sign test on the per-item differences** ``d = share_E2E -
  share_CA`` (items with ``d = 0`` carry no information and are left out, as in
  McNemar). With one seed per system this *is* McNemar's exact test: ``d > 0`` exactly
  when E2E is right and CA wrong. With more seeds it keeps McNemar's logic (under the null
  the two systems are exchangeable on each item, so the sign of ``d`` is a fair coin)
  without inventing pairs. Across the languages of one comparison, p-values are corrected
  with Holm-Bonferroni (:func:`holm`).
- **Pooled over zero-shot targets: a paired sign-flip permutation test** on the mean of
  ``d``. It uses the size of each difference, not only its sign. Translations of one
  content (``content_id``) in several target languages are correlated, so signs are
  flipped per content (all its items together), and the bootstrap resamples contents;
  with unique content ids both reduce to the item-level versions. Up to ``EXACT_UP_TO``
  contents every sign pattern is enumerated; above, ``PERMUTATIONS`` random patterns give
  ``(1 + hits) / (1 + B)``, whose floor ``1 / (B + 1)`` (no pattern reached the observed
  statistic) is an upper bound and reported as ``p <= 1/(B+1)``. The pooled tests of one
  comparison (all targets, Latin-script, other-script targets) are Holm-corrected together.
- **Intervals: percentile bootstrap** of the mean difference, resampling clusters
  (items, or contents for the pooled test) with replacement.
- **Effect sizes**: the mean difference in accuracy points (with its interval), Cohen's
  ``g`` for the sign test (share of informative items won by E2E, minus 1/2) and
  ``d_z`` (mean over standard deviation of ``d``) for the pooled test.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from scipy.stats import binomtest

BOOTSTRAP_SAMPLES = 4000
PERMUTATIONS = 9999
EXACT_UP_TO = 12  # clusters: enumerate all 2^n sign patterns up to this many


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar (sign test) p-value from the discordant counts (binomial, p = 1/2).

    Example:
        >>> round(mcnemar_exact(10, 2), 4)
        0.0386
        >>> mcnemar_exact(3, 3)
        1.0
    """
    n = only_a + only_b
    if n == 0:
        return 1.0
    return float(min(1.0, binomtest(min(only_a, only_b), n, 0.5).pvalue))


def sign_test(diffs: Sequence[float]) -> tuple[int, int, float]:
    """``(n_positive, n_negative, p)``: the exact sign test of per-item differences (zeros left out)."""
    d = np.asarray(diffs, dtype=float)
    positive, negative = int((d > 0).sum()), int((d < 0).sum())
    return positive, negative, mcnemar_exact(positive, negative)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (step-down, monotone, capped at 1), in input order.

    Example:
        >>> holm([0.01, 0.04, 0.03])
        [0.03, 0.06, 0.06]
    """
    p = np.asarray(p_values, dtype=float)
    m = len(p)
    adjusted = np.empty(m)
    running = 0.0
    for rank, index in enumerate(np.argsort(p, kind="stable")):
        running = max(running, min(1.0, (m - rank) * p[index]))
        adjusted[index] = running
    return [round(float(x), 12) for x in adjusted]


def holm_bounded(p_values: Sequence[float], bounds: Sequence[bool]) -> list[tuple[float, bool]]:
    """:func:`holm` where some p-values are only upper bounds (a Monte-Carlo floor): ``(adjusted, bound)``
    per input, ``bound`` when the adjusted value comes from a bound (then it is one too: Holm is monotone).

    Example:
        >>> holm_bounded([0.0001, 0.02], [True, False])
        [(0.0002, True), (0.02, False)]
    """
    p = np.asarray(p_values, dtype=float)
    m = len(p)
    out: list[tuple[float, bool]] = [(1.0, False)] * m
    running, from_bound = 0.0, False
    for rank, index in enumerate(np.argsort(p, kind="stable")):
        value = min(1.0, (m - rank) * p[index])
        if value > running:
            running, from_bound = value, bool(bounds[index])
        out[index] = (round(float(running), 12), from_bound)
    return out


def _cluster_sums(diffs: Sequence[float], clusters: Sequence | None) -> tuple[np.ndarray, np.ndarray]:
    """Per cluster: the sum of ``d`` and the number of items (each item alone without clusters)."""
    d = np.asarray(diffs, dtype=float)
    if clusters is None:
        return d, np.ones_like(d)
    _, index = np.unique(np.asarray(clusters, dtype=str), return_inverse=True)
    return np.bincount(index, weights=d), np.bincount(index).astype(float)


def bootstrap_interval(
    diffs: Sequence[float],
    clusters: Sequence | None = None,
    samples: int = BOOTSTRAP_SAMPLES,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``diffs``, resampling clusters (default: items).

    Example (hand-computable: the mean of 4 draws from ``[1, 0, 0, 0]`` is ``k/4`` with
    ``k ~ Binomial(4, 1/4)``, whose 2.5% and 97.5% quantiles are 0 and 3):
        >>> bootstrap_interval([1, 0, 0, 0], samples=20000)
        (0.0, 0.75)
    """
    sums, sizes = _cluster_sums(diffs, clusters)
    if len(sums) == 0:
        return (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(sums), size=(samples, len(sums)))
    means = sums[picks].sum(axis=1) / sizes[picks].sum(axis=1)
    tail = (1 - level) / 2
    low, high = np.quantile(means, [tail, 1 - tail], method="inverted_cdf")
    return float(low), float(high)


class Permutation(NamedTuple):
    """A sign-flip permutation test's result.

    Attributes:
        p: the p-value.
        resamples: sign patterns drawn (Monte Carlo), or all ``2^clusters`` of them (exact).
        exact: every sign pattern was enumerated.
        at_floor: Monte Carlo and no resample reached the observed statistic, so ``p`` is its floor
            ``1 / (resamples + 1)`` and only an upper bound: report it as ``p <= 1/(B+1)``.
    """

    p: float
    resamples: int
    exact: bool
    at_floor: bool


def permutation(
    diffs: Sequence[float], clusters: Sequence | None = None, permutations: int = PERMUTATIONS, seed: int = 0
) -> Permutation:
    """Two-sided paired sign-flip permutation test of ``mean(diffs) = 0``, flipping whole clusters.

    Exact (all sign patterns) up to ``EXACT_UP_TO`` clusters, else Monte Carlo with
    ``(1 + hits) / (1 + permutations)``, which is never 0: with no hit it is the floor
    ``1 / (permutations + 1)`` (``at_floor``).

    Example:
        >>> permutation([1.0] * 40).at_floor, permutation([1.0] * 40).p == 1 / (PERMUTATIONS + 1)
        (True, True)
    """
    sums, _ = _cluster_sums(diffs, clusters)
    if len(sums) == 0 or not np.any(sums):
        return Permutation(1.0, 0, True, False)
    observed = abs(sums.sum()) - 1e-9  # tolerance: equal statistics count as "at least as extreme"
    if len(sums) <= EXACT_UP_TO:
        signs = 1 - 2 * ((np.arange(2 ** len(sums))[:, None] >> np.arange(len(sums))) & 1)
        return Permutation(float(np.mean(np.abs(signs @ sums) >= observed)), len(signs), True, False)
    rng = np.random.default_rng(seed)
    signs = rng.choice([-1.0, 1.0], size=(permutations, len(sums)))
    hits = int(np.sum(np.abs(signs @ sums) >= observed))
    return Permutation((1 + hits) / (1 + permutations), permutations, False, hits == 0)


def permutation_test(
    diffs: Sequence[float], clusters: Sequence | None = None, permutations: int = PERMUTATIONS, seed: int = 0
) -> float:
    """The p-value of :func:`permutation` (two-sided sign flips of whole clusters)."""
    return permutation(diffs, clusters, permutations, seed).p


def cohens_g(positive: int, negative: int) -> float:
    """Share of informative items won by the first system, minus 1/2 (0: no effect, 0.5: all)."""
    n = positive + negative
    return positive / n - 0.5 if n else 0.0


def cohens_dz(diffs: Sequence[float]) -> float:
    """Mean over standard deviation of paired differences (0 when they do not vary)."""
    d = np.asarray(diffs, dtype=float)
    sd = d.std(ddof=1) if len(d) > 1 else 0.0
    return float(d.mean() / sd) if sd > 0 else 0.0


def confidence_weighted(probs_a: Sequence[float], probs_b: Sequence[float]) -> list[float]:
    """Hybrid of two class distributions, each weighted by its own confidence (max probability).

    A system that is sure of itself on an item counts more there; with equal confidence
    this is the plain average. Raw confidences are only comparable when both systems are
    calibrated, which is why the report also scores the hybrid of temperature-scaled ones.
    """
    weight_a, weight_b = max(probs_a), max(probs_b)
    total = weight_a + weight_b
    return [(weight_a * a + weight_b * b) / total for a, b in zip(probs_a, probs_b, strict=True)]
