"""The mutation runner's before estimate (tests/mutation.py): exact once every mutant has run, and from a
sample otherwise, as the share of the sampled kills scaled to all the plain run's kills."""

from __future__ import annotations

import pytest
from scipy.stats import binomtest

from tests.mutation import before_estimate, before_sample

# 8 killed by every covering test, 2 survivors and 1 not run (not judged): what a --before run samples from
AFTER = {f"m{i}": "killed" for i in range(8)} | {"s0": "survived", "s1": "no tests", "n0": "not checked"}


def test_a_complete_before_run_is_counted_not_estimated():
    before = {f"m{i}": "killed" if i < 5 else "survived" for i in range(8)} | {"s0": "survived", "s1": "no tests"}
    assert before_estimate(AFTER, before) == (0.5, 0.5, 0.5, 8, 8)


def test_a_sample_is_scaled_to_every_mutant_the_plain_run_killed():
    # 4 of the 8 run, 3 of them killed: 3 counted + 4 estimated at 3/4 = 6 of 10 judged mutants
    unrun = {f"m{i}": "not checked" for i in range(4, 8)}
    before = {"m0": "killed", "m1": "timeout", "m2": "killed", "m3": "survived"} | unrun
    score, low, high, run, killed = before_estimate(AFTER, before)
    assert (run, killed) == (4, 8) and score == pytest.approx(0.6)
    interval = binomtest(3, 4).proportion_ci(method="wilson")
    assert (low, high) == pytest.approx(((3 + 4 * interval.low) / 10, (3 + 4 * interval.high) / 10))
    assert low < score < high


def test_nothing_run_before_gives_no_estimate():
    score, *_, run, killed = before_estimate(AFTER, {})
    assert score != score and (run, killed) == (0, 8)  # NaN


def test_a_sample_draws_only_unrun_kills_of_the_plain_run_and_the_same_ones_again():
    before = {"m0": "killed", "m1": "survived"} | {f"m{i}": "not checked" for i in range(2, 8)}
    drawn = before_sample(AFTER, before, size=4)
    assert len(drawn) == 4 and set(drawn) <= {f"m{i}" for i in range(2, 8)}
    assert drawn == before_sample(AFTER, before, size=4)  # seeded: a rerun resumes the same draw
    assert sorted(before_sample(AFTER, before, size=100)) == [f"m{i}" for i in range(2, 8)]  # all that are left
