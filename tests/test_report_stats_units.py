"""The report's statistics, function by function, against hand-computable cases of their contracts.

Holm's step-down adjustment where some p-values are only upper bounds (a Monte-Carlo floor),
and the permutation test's p-value function beyond the exact enumeration.
"""

from __future__ import annotations

import pytest

from workbench.report import stats


def test_holm_bounded_adjusts_exactly_as_holm_does():
    for p_values in ([0.01, 0.04, 0.03], [0.6, 0.7], [0.2, 0.01, 0.05], [0.03], [0.123456789012345]):
        adjusted = stats.holm_bounded(p_values, [False] * len(p_values))
        assert [value for value, _ in adjusted] == stats.holm(p_values)
    # by hand: sorted 0.01, 0.03, 0.04 -> 3 * 0.01, max(0.03, 2 * 0.03), max(0.06, 1 * 0.04)
    assert stats.holm_bounded([0.01, 0.04, 0.03], [False] * 3) == [(0.03, False), (0.06, False), (0.06, False)]
    assert stats.holm_bounded([0.6, 0.7], [False, False]) == [(1.0, False), (1.0, False)]  # capped at 1
    assert stats.holm([0.6, 0.7]) == [1.0, 1.0]
    assert stats.holm_bounded([0.0001234], [False]) == [(0.0001234, False)]  # not rounded away


def test_holm_bounded_flags_exactly_the_values_that_come_from_a_bound():
    # the floor 0.0001 is a bound: 2 * 0.0001 is one too; 0.02 comes from its own exact p-value
    assert stats.holm_bounded([0.0001, 0.02], [True, False]) == [(0.0002, True), (0.02, False)]
    assert stats.holm_bounded([0.02, 0.0001], [False, True]) == [(0.02, False), (0.0002, True)]
    # 0.02's own (exact) term reaches the running maximum 2 * 0.01: the adjusted 0.02 is exact
    assert stats.holm_bounded([0.01, 0.02], [False, True]) == [(0.02, False), (0.02, False)]
    # a p-value of 0 from an exact test is not a bound
    assert stats.holm_bounded([0.0, 0.5], [False, False]) == [(0.0, False), (0.5, False)]


def test_permutation_test_is_the_p_value_of_permutation_also_beyond_exact_enumeration():
    # 20 clusters (> EXACT_UP_TO): Monte Carlo with the default permutations and seed 0
    diffs = [1.0] * 6 + [-1.0] * 3 + [0.5] * 4 + [-0.5] * 7
    assert len(diffs) > stats.EXACT_UP_TO
    expected = stats.permutation(diffs, permutations=stats.PERMUTATIONS, seed=0)
    assert not expected.exact and 0.05 < expected.p < 0.95  # far from the ends: another draw moves it
    assert stats.permutation(diffs) == expected  # seed 0 by default: a report rerun gives the same p-value
    assert stats.permutation_test(diffs) == expected.p
    assert stats.permutation_test(diffs, None, stats.PERMUTATIONS, 0) == expected.p
    assert stats.permutation_test(diffs, seed=1) == stats.permutation(diffs, seed=1).p != expected.p


def test_bootstrap_interval_is_reproducible_and_seeded_with_zero_by_default():
    # 30 items of many sizes: the interval's ends move with the draws, so another seed gives another one
    diffs = [((7 * k) % 11 - 5) / 5 for k in range(30)]
    interval = stats.bootstrap_interval(diffs, samples=500)
    assert interval == stats.bootstrap_interval(diffs, samples=500)  # a report rerun gives the same numbers
    assert interval == stats.bootstrap_interval(diffs, samples=500, seed=0)
    assert interval != stats.bootstrap_interval(diffs, samples=500, seed=1)


def test_bootstrap_interval_of_one_cluster_is_its_mean_and_of_none_is_undefined():
    assert stats.bootstrap_interval([0.5]) == (0.5, 0.5)  # every resample is that one item
    assert stats.bootstrap_interval([1.0, 0.0], ["c", "c"]) == (0.5, 0.5)  # one content, two items
    assert all(x != x for x in stats.bootstrap_interval([]))  # NaN, NaN


def test_mcnemar_and_the_sign_test_by_hand():
    assert stats.mcnemar_exact(0, 0) == 1.0  # no discordant pair: no evidence
    assert stats.mcnemar_exact(5, 0) == stats.mcnemar_exact(0, 5) == pytest.approx(2 * 0.5**5)
    assert stats.mcnemar_exact(2, 1) == 1.0  # the two-sided binomial p-value, capped at 1
    # zeros are left out; a share difference counts by its sign
    assert stats.sign_test([0.5, -0.25, 0.0, 1.0, 0.0]) == (2, 1, stats.mcnemar_exact(2, 1))
    assert stats.sign_test([]) == (0, 0, 1.0)


def test_effect_sizes_by_hand():
    assert stats.cohens_g(3, 1) == 0.25 and stats.cohens_g(0, 4) == -0.5 and stats.cohens_g(0, 0) == 0.0
    assert stats.cohens_dz([1.0, 2.0, 3.0]) == 2.0  # mean 2 over the sample standard deviation 1
    assert stats.cohens_dz([1.0, 3.0]) == pytest.approx(2 / 2**0.5)  # two items: mean 2, sd sqrt(2)
    assert stats.cohens_dz([1.0, 1.0]) == 0.0 and stats.cohens_dz([0.5]) == 0.0  # no variation


def test_confidence_weighted_hybrid_by_hand():
    # weights 0.8 and 0.6: (0.8 * 0.8 + 0.6 * 0.4) / 1.4 and (0.8 * 0.2 + 0.6 * 0.6) / 1.4
    assert stats.confidence_weighted([0.8, 0.2], [0.4, 0.6]) == pytest.approx([0.88 / 1.4, 0.52 / 1.4])
    assert stats.confidence_weighted([0.5, 0.5], [0.9, 0.1]) == pytest.approx([(0.25 + 0.81) / 1.4, 0.34 / 1.4])
    with pytest.raises(ValueError):
        stats.confidence_weighted([0.5, 0.5], [0.2, 0.3, 0.5])  # a class short: refused, not truncated


def test_permutation_results_by_hand():
    # exact: all 2^3 sign patterns; |sum| = 3 in 2 of them
    assert stats.permutation([1.0, 1.0, 1.0]) == stats.Permutation(0.25, 8, True, False)
    assert stats.permutation([1.0, -1.0]).p == 1.0  # observed 0: every pattern is as extreme
    assert stats.permutation([1.0, 1.0]).p == 0.5
    assert stats.permutation([0.0, 0.0]) == stats.Permutation(1.0, 0, True, False)  # no information
    assert stats.permutation([]) == stats.Permutation(1.0, 0, True, False)
    # one content: both of its 2 sign patterns are as extreme as the observed one
    assert stats.permutation([1.0, 1.0, 1.0], ["c", "c", "c"]) == stats.Permutation(1.0, 2, True, False)
    # clusters: two contents of two items each, the sums 2 and 1 -> patterns |+-2 +-1| >= 3 in 2 of 4
    assert stats.permutation([1.0, 1.0, 0.5, 0.5], ["a", "a", "b", "b"]) == stats.Permutation(0.5, 4, True, False)
    # EXACT_UP_TO clusters are enumerated; one more goes to Monte Carlo
    assert stats.permutation([1.0] * stats.EXACT_UP_TO).exact
    many = stats.permutation([1.0] * (stats.EXACT_UP_TO + 1), permutations=999)
    assert not many.exact and many.resamples == 999
    # all 40 clusters one way: no random pattern reaches it, the p-value is the floor, a bound
    floor = stats.permutation([1.0] * 40, permutations=999)
    assert floor == stats.Permutation(1 / 1000, 999, False, True)
    some = stats.permutation([1.0] * 7 + [-1.0] * 6, permutations=999)  # hits: not at the floor
    assert not some.at_floor and some.p > 0.5
    # one hit (this seed's draws reach 13 equal signs once): 2 / (B + 1), above the floor, not a bound
    assert stats.permutation([1.0] * 13, seed=9) == stats.Permutation(2 / (stats.PERMUTATIONS + 1), 9999, False, False)


def test_bootstrap_interval_cuts_two_and_a_half_percent_from_each_tail():
    # the mean of 20 draws from ten 1s and ten 0s is k/20 with k ~ Binomial(20, 1/2):
    # P(k <= 5) = 0.021 < 0.025 <= P(k <= 6) = 0.058 -> 6/20; P(k <= 13) = 0.942 < 0.975 <= P(k <= 14) = 0.979 -> 14/20
    assert stats.bootstrap_interval([1.0] * 10 + [0.0] * 10, samples=20000) == (0.3, 0.7)


def test_bootstrap_interval_ends_are_resampled_means():
    # percentile ends are means of resamples (k/4 here), never interpolated between two of them
    for seed in range(8):
        ends = stats.bootstrap_interval([1.0, 0.0, 0.0, 0.0], samples=7, seed=seed)
        assert all(4 * end == int(4 * end) for end in ends), (seed, ends)
