"""Report statistics: the item is the unit, intervals match a hand computation, nothing is dropped silently."""

from __future__ import annotations

import csv

import pytest

from tests.helpers.report_runs import item_rows, write_run
from workbench.report import stats
from workbench.report.build import build_report

# per-item correctness on 12 items a language; E2E alone is right on rus items 6-9 and tha items 0-3
# (8 different contents), CA is never alone right
E2E = {"eng": [True] * 12, "rus": [True] * 10 + [False] * 2, "tha": [True] * 9 + [False] * 3}
CA = {"eng": [True] * 12, "rus": [True] * 6 + [False] * 6, "tha": [False] * 4 + [True] * 5 + [False] * 3}


def rows(correct: dict[str, list[bool]]) -> list[dict]:
    return [row for lang, flags in correct.items() for row in item_rows(lang, flags)]


def sweep(root, e2e_seeds=(0,), ca_seeds=(0,), e2e=E2E, ca=CA):
    for seed in e2e_seeds:
        write_run(root / f"e2e/seed{seed}", rows(e2e), system="e2e-conv", sources=["eng"], seed=seed)
    for seed in ca_seeds:
        write_run(root / f"ca/seed{seed}", rows(ca), path="cascade", system="ca-romanized", sources=["eng"], seed=seed)
    return build_report(root)


def read_csv(path):
    with path.open() as handle:
        return list(csv.DictReader(handle))


def results_of(report):
    per_language = {r["language"]: r for r in read_csv(report / "significance_test.csv")}
    (pooled,) = read_csv(report / "pooled_test.csv")
    return per_language, pooled


def test_duplicating_a_seed_does_not_shrink_the_p_value(tmp_path):
    single, pooled_single = results_of(sweep(tmp_path / "one"))
    # the same predictions again as seeds 1 and 2 (what an unseeded program, or a copied run, writes)
    copies, pooled_copies = results_of(sweep(tmp_path / "three", e2e_seeds=(0, 1, 2), ca_seeds=(0, 1, 2)))
    assert single["rus"]["n"] == copies["rus"]["n"] == "12"
    assert (single["rus"]["e2e_better"], single["rus"]["ca_better"]) == ("4", "0")
    for lang in ("rus", "tha"):
        assert float(copies[lang]["mcnemar_p"]) == float(single[lang]["mcnemar_p"])
        assert float(copies[lang]["p_holm"]) == float(single[lang]["p_holm"])
    assert float(pooled_copies["p"]) == float(pooled_single["p"])
    assert pooled_copies["n"] == pooled_single["n"] == "24"
    # counting each seed's prediction as a pair (the former pooling) would have shrunk it:
    assert stats.mcnemar_exact(3 * 4, 0) < float(single["rus"]["mcnemar_p"]) == pytest.approx(2 * 0.5**4)


def test_seeds_are_combined_per_item(tmp_path):
    """E2E seed 1 gets rus items 0-1 wrong: they become E2E shares of 1/2, still one item each."""
    worse = {**E2E, "rus": [False] * 2 + [True] * 8 + [False] * 2}
    write_run(tmp_path / "e2e/seed1", rows(worse), system="e2e-conv", sources=["eng"], seed=1)
    per_language, _ = results_of(sweep(tmp_path, e2e_seeds=(0,), ca_seeds=(0, 1)))
    rus = per_language["rus"]
    assert (rus["n"], rus["seeds_e2e"], rus["seeds_ca"]) == ("12", "2", "2")
    # items 0-1: E2E 1/2 vs CA 1 (CA better); items 6-9: E2E 1 vs CA 0 (E2E better)
    assert (rus["e2e_better"], rus["ca_better"]) == ("4", "2")
    assert float(rus["acc_e2e"]) == pytest.approx(9 / 12) and float(rus["diff"]) == pytest.approx((4 - 1) / 12)


def test_bootstrap_interval_against_a_hand_computed_case(tmp_path):
    # The mean of 4 draws from d = [1, 0, 0, 0] is k/4 with k ~ Binomial(4, 1/4):
    # P(k <= 0) = 81/256 = 0.316 > 0.025 -> lower end 0; P(k <= 2) = 243/256 = 0.949 < 0.975 <= P(k <= 3)
    # = 0.996 -> upper end 3/4.
    assert stats.bootstrap_interval([1, 0, 0, 0], samples=20000) == (0.0, 0.75)
    # clusters resample whole contents: two items per content behave like one item of their mean
    assert stats.bootstrap_interval([1, 1, 0, 0, 0, 0, 0, 0], list("aabbccdd"), samples=20000) == (0.0, 0.75)
    assert stats.bootstrap_interval([1, 0, 0, 0, 0, 0, 0, 0], samples=20000) != (0.0, 0.75)
    # and the report's interval is that one: 4 rus items, E2E alone right on one
    e2e = {"eng": [True] * 4, "rus": [True, True, False, True]}
    ca = {"eng": [True] * 4, "rus": [False, True, False, True]}
    per_language, _ = results_of(sweep(tmp_path, e2e=e2e, ca=ca))
    rus = per_language["rus"]
    assert (float(rus["diff"]), float(rus["ci_low"]), float(rus["ci_high"])) == (0.25, 0.0, 0.75)


def test_permutation_test_hand_computed():
    # three items all +1: of the 8 sign patterns, 2 reach |sum| = 3 -> p = 1/4
    assert stats.permutation_test([1, 1, 1]) == 0.25
    # the same three items as translations of ONE content: a single cluster, no evidence at all
    assert stats.permutation_test([1, 1, 1], ["c", "c", "c"]) == 1.0
    assert stats.permutation_test([0, 0]) == 1.0


def test_holm_and_sign_test():
    assert stats.holm([0.01, 0.04, 0.03]) == [0.03, 0.06, 0.06]
    assert stats.sign_test([1, 0.5, 0, -1, 1]) == (3, 1, stats.mcnemar_exact(3, 1))
    assert stats.mcnemar_exact(4, 0) == pytest.approx(0.125)


def test_pooled_test_detects_a_difference_and_its_absence(tmp_path):
    _, pooled = results_of(sweep(tmp_path / "diff"))
    assert pooled["languages"] == "rus tha"  # the source (eng) is not a zero-shot target
    assert float(pooled["diff"]) == pytest.approx(8 / 24, abs=1e-4) and float(pooled["p"]) < 0.05
    assert float(pooled["ci_low"]) > 0
    assert float(pooled["p"]) == pytest.approx(2 / 2**8, rel=1e-3)  # 8 contents, all for E2E: exact sign flips
    _, same = results_of(sweep(tmp_path / "same", ca=E2E))
    assert float(same["p"]) == 1.0 and float(same["diff"]) == 0.0


def test_unpaired_items_are_listed_not_dropped(tmp_path):
    e2e = {"eng": [True] * 4, "rus": [True] * 6}  # rus-4, rus-5 only in E2E
    ca = {"eng": [True] * 4, "rus": [False] * 4}
    write_run(tmp_path / "e2e/seed1", rows({"eng": [True] * 4, "rus": [True] * 3}), sources=["eng"], seed=1)
    report = sweep(tmp_path, e2e=e2e, ca=ca)
    per_language, _ = results_of(report)
    assert per_language["rus"]["n"] == "3"  # rus-0..2: in both systems and every seed
    lost = {(r["id"], r["system"], r["reason"]) for r in read_csv(report / "unpaired_test.csv")}
    seed1 = str(tmp_path / "e2e" / "seed1")
    assert lost == {
        ("rus-3", "e2e-conv", f"not predicted by {seed1}"),
        ("rus-4", "e2e-conv", f"not predicted by {seed1}"),
        ("rus-5", "e2e-conv", f"not predicted by {seed1}"),
        ("rus-4", "ca-romanized", "no prediction"),
        ("rus-5", "ca-romanized", "no prediction"),
    }
    md = (report / "report.md").read_text()
    assert "Unpaired items on `test` (5" in md and "rus-5" in md
