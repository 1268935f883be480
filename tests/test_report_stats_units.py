"""The report's statistics, function by function, against hand-computable cases of their contracts.

Holm's step-down adjustment where some p-values are only upper bounds (a Monte-Carlo floor),
and the permutation test's p-value function beyond the exact enumeration.
"""

from __future__ import annotations

from workbench.report import stats


def test_holm_bounded_adjusts_exactly_as_holm_does():
    for p_values in ([0.01, 0.04, 0.03], [0.6, 0.7], [0.2, 0.01, 0.05], [0.03]):
        adjusted = stats.holm_bounded(p_values, [False] * len(p_values))
        assert [value for value, _ in adjusted] == stats.holm(p_values)
    # by hand: sorted 0.01, 0.03, 0.04 -> 3 * 0.01, max(0.03, 2 * 0.03), max(0.06, 1 * 0.04)
    assert stats.holm_bounded([0.01, 0.04, 0.03], [False] * 3) == [(0.03, False), (0.06, False), (0.06, False)]
    assert stats.holm_bounded([0.6, 0.7], [False, False]) == [(1.0, False), (1.0, False)]  # capped at 1
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
