"""E2E vs cascade on a few hand-made items: how seeds become shares, which items are paired and
which are listed as unpaired (and why), the per-language and pooled tests' rows, and the hybrids."""

from __future__ import annotations

import pandas as pd
import pytest

from workbench.report import compare, stats


def item(system, run_dir, id_, correct, language="deu", content=None, **extra):
    row = {
        "split": "test",
        "modality": "speech",
        "group": "zero_shot-eng",
        "protocol": "zero_shot",
        "sources": "eng",
        "system": system,
        "path": "e2e" if system.startswith("e2e") else "cascade",
        "run_dir": run_dir,
        "seed": 0,
        "id": id_,
        "correct": correct,
        "language": language,
        "content_id": content or id_.split("-")[0],
        "is_source": language == "eng",
    }
    return {**row, **extra}


def test_a_systems_seeds_become_one_share_per_item_and_an_item_missing_from_a_seed_is_listed():
    part = pd.DataFrame(
        [
            item("e2e", "r0", "a-deu", True),
            item("e2e", "r1", "a-deu", True),
            item("e2e", "r0", "b-deu", True),
            item("e2e", "r1", "b-deu", False),
            item("e2e", "r0", "c-deu", False),  # r1 did not predict it
            item("e2e", "r0", "a-eng", False, language="eng", group="zero_shot-rus", sources="rus"),
        ]
    )
    shares, missing = compare.system_shares(part)
    assert missing == [{"group": "zero_shot-eng", "sources": "eng", "id": "c-deu", "reason": "not predicted by r1"}]
    assert shares.index.tolist() == [0, 1, 2]  # one table over both groups, not their indexes repeated
    rows = shares.set_index("id")
    assert sorted(rows.index) == ["a-deu", "a-eng", "b-deu"]
    assert rows.loc["a-deu", ["share", "seeds"]].tolist() == [1.0, 2]
    assert rows.loc["b-deu", ["share", "seeds"]].tolist() == [0.5, 2]
    assert rows.loc["a-eng", ["share", "seeds", "group", "sources"]].tolist() == [0.0, 1, "zero_shot-rus", "rus"]
    assert rows.loc["b-deu", ["language", "content_id", "protocol", "is_source", "group", "sources"]].tolist() == [
        "deu",
        "b",
        "zero_shot",
        False,
        "zero_shot-eng",
        "eng",
    ]
    empty, none_missing = compare.system_shares(part.iloc[0:0])
    assert empty.empty and none_missing == []
    assert set(empty.columns) >= {*compare.KEY, "share", "seeds", *compare.ITEM_INFO}


def test_two_systems_are_paired_on_the_items_both_predicted_in_every_seed():
    e2e = pd.DataFrame(
        [
            item("e2e", "e0", "a-deu", True),
            item("e2e", "e0", "b-deu", False),
            item("e2e", "e0", "c-deu", True),  # the cascade has no prediction for it
            item("e2e", "e0", "e-deu", True),
        ]
    )
    cascade = pd.DataFrame(
        [
            item("ca", "c0", "a-deu", False),
            item("ca", "c1", "a-deu", False),
            item("ca", "c0", "b-deu", True),
            item("ca", "c1", "b-deu", False),
            item("ca", "c0", "d-rus", True, language="rus"),  # the E2E system has none for it
            item("ca", "c1", "d-rus", True, language="rus"),
            item("ca", "c0", "e-deu", True),  # in one of the cascade's two seeds only
        ]
    )
    paired, unpaired = compare.pair_systems(e2e, cascade)
    assert paired["id"].tolist() == ["a-deu", "b-deu"]
    assert paired["share_e2e"].tolist() == [1.0, 0.0]
    assert paired["share_ca"].tolist() == [0.0, 0.5]
    assert paired["d"].tolist() == [1.0, -0.5]
    assert paired["seeds_e2e"].tolist() == [1, 1] and paired["seeds_ca"].tolist() == [2, 2]
    assert unpaired.columns.tolist() == [*compare.KEY, "language", "system", "reason"]
    rows = {(r.id, r.system): (r.reason, r.language) for r in unpaired.itertuples()}
    assert rows == {
        ("e-deu", "ca"): ("not predicted by c1", "deu"),
        ("c-deu", "ca"): ("no prediction", "deu"),
        ("d-rus", "e2e"): ("no prediction", "rus"),
    }
    assert set(unpaired["group"]) == {"zero_shot-eng"} and set(unpaired["sources"]) == {"eng"}


def test_agreement_counts_are_expected_counts_over_seed_pairs():
    paired = pd.DataFrame({"share_e2e": [1.0, 0.5, 0.0, 0.0, 1 / 3], "share_ca": [1.0, 1.0, 0.0, 1.0, 0.0]})
    assert compare.agreement(paired) == {"both_right": 1.5, "only_e2e": 0.33, "only_ca": 1.5, "both_wrong": 1.67}
    thirds = pd.concat([paired, pd.DataFrame({"share_e2e": [1 / 3], "share_ca": [1 / 3]})])  # + 1/9, 2/9, 2/9, 4/9
    assert compare.agreement(thirds) == {"both_right": 1.61, "only_e2e": 0.56, "only_ca": 1.72, "both_wrong": 2.11}


def paired_rows(language, ds, group="g", content=None, protocol="zero_shot", is_source=False):
    return [
        {
            "group": group,
            "sources": "eng",
            "id": f"{k}-{language}",
            "language": language,
            "content_id": content[k] if content else str(k),
            "protocol": protocol,
            "is_source": is_source,
            "share_e2e": max(d, 0.0),
            "share_ca": max(-d, 0.0),
            "seeds_e2e": 1,
            "seeds_ca": 2,
            "d": d,
        }
        for k, d in enumerate(ds)
    ]


def test_language_tests_give_one_row_per_language_holm_corrected_within_each_group():
    paired = pd.DataFrame(
        paired_rows("deu", [1.0] * 8 + [0.0, -1.0])
        + paired_rows("rus", [1.0, -1.0, -1.0, 0.0])
        + paired_rows("deu", [1.0] * 6, group="h")
    )
    base = {"split": "test", "modality": "speech", "e2e": "e2e", "cascade": "ca"}
    rows = {(r["protocol"], r["language"]): r for r in compare.language_tests(paired, base)}
    assert list(rows) == [("g", "deu"), ("g", "rus"), ("h", "deu")]
    deu = rows[("g", "deu")]
    assert {k: deu[k] for k in base} == base
    assert (deu["n"], deu["seeds_e2e"], deu["seeds_ca"]) == (10, 1, 2)
    assert (deu["acc_e2e"], deu["acc_cascade"], deu["diff"]) == (0.8, 0.1, 0.7)
    assert (deu["e2e_better"], deu["ca_better"]) == (8, 1)
    assert deu["cohens_g"] == round(8 / 9 - 0.5, 4)
    p_deu, p_rus = stats.mcnemar_exact(8, 1), stats.mcnemar_exact(1, 2)
    assert deu["mcnemar_p"] == float(f"{p_deu:.4g}")
    low, high = stats.bootstrap_interval([1.0] * 8 + [0.0, -1.0])
    assert (deu["ci_low"], deu["ci_high"]) == (round(low, 4), round(high, 4))
    holm = stats.holm([float(f"{p_deu:.4g}"), float(f"{p_rus:.4g}")])
    assert (deu["p_holm"], rows[("g", "rus")]["p_holm"]) == (float(f"{holm[0]:.4g}"), float(f"{holm[1]:.4g}"))
    # h is its own family of one: no correction
    assert rows[("h", "deu")]["p_holm"] == rows[("h", "deu")]["mcnemar_p"]
    assert {k: deu[k] for k in compare.AGREEMENT} == compare.agreement(
        pd.DataFrame(paired_rows("deu", [1.0] * 8 + [0.0, -1.0]))
    )
    assert compare.language_tests(paired.iloc[0:0], base) == []


def test_the_targets_are_split_by_script_only_when_both_scripts_are_there():
    targets = pd.DataFrame({"language": ["deu", "rus", "tha", "fra"], "d": [1, 2, 3, 4]})
    sets = compare.target_sets(targets)
    assert [name for name, _ in sets] == ["all", "Latin script", "other scripts"]
    assert [part["d"].tolist() for _, part in sets] == [[1, 2, 3, 4], [1, 4], [2, 3]]
    assert [name for name, _ in compare.target_sets(targets[targets["language"].isin(["deu", "fra"])])] == ["all"]
    assert [name for name, _ in compare.target_sets(targets[targets["language"].isin(["rus", "tha"])])] == ["all"]


def test_the_pooled_test_covers_zero_shot_targets_only_clustered_by_content_and_holm_corrected_together():
    content = {k: f"c{k % 3}" for k in range(12)}
    paired = pd.DataFrame(
        paired_rows("deu", [1.0, 1.0, 0.0, 1.0, -1.0, 1.0], content=content)
        + paired_rows("rus", [1.0, 0.0, 1.0, 1.0], content=content)
        + paired_rows("eng", [-1.0] * 5, content=content, is_source=True)  # the source: left out
        + paired_rows("tha", [-1.0] * 5, content=content, protocol="in_language")  # not zero-shot: left out
    )
    base = {"split": "test", "modality": "speech", "e2e": "e2e", "cascade": "ca"}
    rows = compare.pooled_test(paired, base)
    assert [r["target_set"] for r in rows] == ["all", "Latin script", "other scripts"]
    every = rows[0]
    assert {k: every[k] for k in base} == base
    assert (every["groups"], every["languages"], every["n"], every["contents"]) == ("g", "deu rus", 10, 3)
    d = [1.0, 1.0, 0.0, 1.0, -1.0, 1.0, 1.0, 0.0, 1.0, 1.0]
    clusters = [content[k] for k in range(6)] + [content[k] for k in range(4)]
    test = stats.permutation(d, clusters)
    assert (every["p"], every["resamples"], every["exact"], every["p_at_floor"]) == (
        float(f"{test.p:.4g}"),
        test.resamples,
        test.exact,
        test.at_floor,
    )
    low, high = stats.bootstrap_interval(d, clusters)
    assert (every["ci_low"], every["ci_high"]) == (round(low, 4), round(high, 4))
    assert (every["e2e_better"], every["ca_better"], every["diff"]) == (7, 1, 0.6)
    assert (every["acc_e2e"], every["acc_cascade"]) == (0.7, 0.1)
    assert every["cohens_dz"] == round(stats.cohens_dz(d), 4)
    assert rows[1]["languages"] == "deu" and rows[2]["languages"] == "rus"
    adjusted = stats.holm_bounded([r["p"] for r in rows], [r["p_at_floor"] for r in rows])
    assert [(r["p_holm"], r["p_holm_bound"]) for r in rows] == [(float(f"{p:.4g}"), b) for p, b in adjusted]
    assert compare.pooled_test(paired[paired["protocol"] != "zero_shot"], base) == []


def test_every_e2e_system_meets_every_cascade_on_shared_groups_of_one_split_and_modality():
    items = pd.DataFrame(
        [item(s, s, f"{k}-deu", k % 2 == 0) for s in ("e2e-a", "e2e-b", "ca") for k in range(4)]
        + [item("ca", "ca", f"{k}-deu", True, split="dev") for k in range(4)]  # dev items are not compared
        + [item("e2e-a", "e2e-a-in", "x-deu", True, group="in_language", protocol="in_language", sources="")]
        + [item("ca", "ca-img", f"{k}-deu", True, modality="image") for k in range(4)]  # another modality
        + [item("ca", "ca", "5-deu", True)]  # no E2E prediction: unpaired
    )
    per_language, pooled, unpaired = compare.comparisons(items)
    pairs = per_language[["split", "modality", "e2e", "cascade", "protocol", "language", "n"]]
    assert pairs.values.tolist() == [
        ["test", "speech", "e2e-a", "ca", "zero_shot-eng", "deu", 4],
        ["test", "speech", "e2e-b", "ca", "zero_shot-eng", "deu", 4],
    ]
    assert pooled["e2e"].tolist() == ["e2e-a", "e2e-b"] and set(pooled["target_set"]) == {"all"}
    assert unpaired[["e2e", "cascade", "id", "system", "reason"]].values.tolist() == [
        ["e2e-a", "ca", "5-deu", "e2e-a", "no prediction"],
        ["e2e-b", "ca", "5-deu", "e2e-b", "no prediction"],
    ]
    assert [frame.empty for frame in compare.comparisons(items[items["path"] == "e2e"])] == [True, True, True]


def test_hybrids_pair_an_e2e_and_a_cascade_run_of_one_group_and_seed_weighting_each_by_its_confidence():
    def run(system, run_dir, probs, cal=None, seed=0, labels=(0, 1, 1)):
        return [
            item(system, run_dir, f"{k}-deu", None, seed=seed, probs=p, probs_cal=cal[k] if cal else None, label=y)
            for k, (p, y) in enumerate(zip(probs, labels, strict=True))
        ]

    e2e_probs = [[0.9, 0.1], [0.6, 0.4], [0.5, 0.5]]
    ca_probs = [[0.2, 0.8], [0.1, 0.9], [0.45, 0.55]]
    items = pd.DataFrame(
        run("e2e", "e0", e2e_probs, cal=[[0.7, 0.3], [0.6, 0.4], [0.9, 0.1]])
        + run("ca", "c0", ca_probs, cal=[[0.4, 0.6], [0.3, 0.7], [0.2, 0.8]])
        + run("ca", "c1", ca_probs, seed=1)  # another seed: not paired with e0
    )
    hybrids = compare.hybrid_scores(items)
    assert sorted(set(hybrids["system"])) == ["hybrid-cal:e2e+ca", "hybrid:e2e+ca"]
    assert set(hybrids["path"]) == {"hybrid"} and set(hybrids["run_dir"]) == {"e0 + c0"}
    raw = hybrids[hybrids["system"] == "hybrid:e2e+ca"]
    # item 0: 0.9 * [0.9, 0.1] + 0.8 * [0.2, 0.8] -> class 0 (label 0); item 1: 0.6 * [.6, .4] + 0.9 * [.1, .9]
    # -> class 1 (label 1); item 2: 0.5 * [.5, .5] + 0.55 * [.45, .55] -> class 1 (label 1)
    assert raw["correct"].tolist() == [True, True, True]
    cal = hybrids[hybrids["system"] == "hybrid-cal:e2e+ca"]
    # item 0: 0.7 * [.7, .3] + 0.6 * [.4, .6] -> class 0 (label 0); item 2: 0.9 * [.9, .1] + 0.8 * [.2, .8]
    # -> class 0 (label 1)
    assert cal["correct"].tolist() == [True, True, False]
    assert "probs_ca" not in hybrids.columns and "probs_cal_ca" not in hybrids.columns
    # without the cascade's calibrated probabilities only the raw hybrid is scored
    uncalibrated = items.assign(probs_cal=[None] * len(items))
    assert set(compare.hybrid_scores(uncalibrated)["system"]) == {"hybrid:e2e+ca"}
    # dev items and probabilities over different class sets are not mixed
    assert compare.hybrid_scores(items.assign(split="dev")).empty
    ragged = items.copy()
    ragged.loc[ragged["run_dir"] == "c0", "probs"] = pd.Series([[0.2, 0.3, 0.5]] * 3, index=ragged.index[3:6])
    assert compare.hybrid_scores(ragged).empty


@pytest.mark.parametrize("protocol", ["in_language", "all_languages"])
def test_only_zero_shot_items_enter_the_pooled_test(protocol):
    paired = pd.DataFrame(paired_rows("deu", [1.0, 1.0, -1.0], protocol=protocol))
    assert compare.pooled_test(paired, {}) == []


def test_dev_and_train_items_are_never_compared_and_a_cascade_without_shared_groups_is_skipped_not_the_rest():
    items = pd.DataFrame(
        [
            item(s, s, f"{k}-deu", k % 2 == 0, split=split)
            for s in ("e2e", "ca-b")
            for k in range(3)
            for split in ("test", "dev", "train")
        ]
        + [item("ca-a", "ca-a", "0-deu", True, group="in_language", protocol="in_language", sources="")]
    )
    per_language, pooled, _ = compare.comparisons(items)
    assert per_language[["split", "e2e", "cascade"]].values.tolist() == [["test", "e2e", "ca-b"]]
    assert pooled[["split", "cascade"]].values.tolist() == [["test", "ca-b"]]


def test_hybrids_skip_a_mismatched_cascade_run_not_the_rest_and_need_both_sides_calibrated():
    def run(system, run_dir, probs, cal=None, split="test"):
        return [
            item(system, run_dir, f"{k}-deu", None, probs=p, probs_cal=cal, label=0, split=split)
            for k, p in enumerate(probs)
        ]

    items = pd.DataFrame(
        run("e2e", "e0", [[0.9, 0.1]], cal=[0.8, 0.2])
        + run("ca", "a-ragged", [[0.2, 0.3, 0.5]], cal=[0.2, 0.3, 0.5])  # other classes: nothing to mix
        + run("ca", "c0", [[0.6, 0.4]])  # not calibrated: the raw hybrid only
        + run("e2e", "e0", [[0.1, 0.9]], split="train")
        + run("ca", "c0", [[0.1, 0.9]], split="train")
    )
    hybrids = compare.hybrid_scores(items)
    assert hybrids[["system", "run_dir", "split", "correct"]].values.tolist() == [
        ["hybrid:e2e+ca", "e0 + c0", "test", True]
    ]
    assert hybrids.index.tolist() == [0]


def test_hybrid_rows_have_a_fresh_index():
    probs = [[0.9, 0.1], [0.2, 0.8]]
    items = pd.DataFrame(
        [
            item(s, r, f"{k}-deu", None, probs=p, probs_cal=None, label=0)
            for s, r in (("e2e", "e0"), ("ca", "c0"))
            for k, p in enumerate(probs)
        ]
        + [
            item(s, r, f"{k}-deu", None, probs=p, probs_cal=None, label=0, seed=1)
            for s, r in (("e2e", "e1"), ("ca", "c1"))
            for k, p in enumerate(probs)
        ]
    )
    assert compare.hybrid_scores(items).index.tolist() == [0, 1, 2, 3]


def test_every_reported_share_difference_and_interval_is_rounded_to_4_decimals():
    ds = [0.0, 1.0, -1.0, 1.0, -1.0, -1.0, -1.0]  # sevenths (and sixths): no value has 4 decimals or fewer
    content = {k: f"c{k % 6}" for k in range(7)}
    paired = pd.DataFrame(paired_rows("deu", ds, content=content))
    (row,) = compare.language_tests(paired, {})
    low, high = stats.bootstrap_interval(ds)
    expected = {"acc_e2e": 2 / 7, "acc_cascade": 4 / 7, "diff": -2 / 7, "ci_low": low, "ci_high": high}
    assert all(round(value, 4) != round(value, 5) for value in expected.values())  # the fixture tells them apart
    assert {k: row[k] for k in expected} == {k: round(v, 4) for k, v in expected.items()}
    (pooled,) = compare.pooled_test(paired, {})
    low, high = stats.bootstrap_interval(ds, [content[k] for k in range(7)])
    expected |= {"ci_low": low, "ci_high": high}
    assert all(round(value, 4) != round(value, 5) for value in expected.values())
    assert {k: pooled[k] for k in expected} == {k: round(v, 4) for k, v in expected.items()}


def test_holm_is_rounded_to_4_significant_digits_and_a_one_item_language_is_tested_too():
    paired = pd.DataFrame(
        paired_rows("deu", [1.0] * 8 + [-1.0])  # p = 0.03906, the smallest of 3: times 3 = 0.11718
        + paired_rows("rus", [1.0, -1.0])
        + paired_rows("tha", [1.0])
    )
    rows = {r["language"]: r for r in compare.language_tests(paired, {})}
    assert rows["deu"]["mcnemar_p"] == 0.03906 and rows["deu"]["p_holm"] == 0.1172
    assert (rows["tha"]["n"], rows["tha"]["seeds_e2e"], rows["tha"]["seeds_ca"]) == (1, 1, 2)


def test_one_item_systems_pair_and_an_item_missing_from_an_e2e_seed_is_listed_under_the_e2e_system():
    paired, unpaired = compare.pair_systems(
        pd.DataFrame([item("e2e", "e0", "a-deu", True), item("e2e", "e1", "b-deu", True)]),
        pd.DataFrame([item("ca", "c0", "a-deu", False)]),
    )
    assert "index" not in paired.columns and paired.index.tolist() == []
    assert sorted(zip(unpaired["id"], unpaired["system"], unpaired["reason"], strict=True)) == [
        ("a-deu", "e2e", "not predicted by e1"),
        ("b-deu", "ca", "no prediction"),
        ("b-deu", "e2e", "not predicted by e0"),
    ]
    paired, _ = compare.pair_systems(
        pd.DataFrame([item("e2e", "e0", "a-deu", True)]), pd.DataFrame([item("ca", "c0", "a-deu", False)])
    )
    assert paired[["id", "d"]].values.tolist() == [["a-deu", 1.0]] and "index" not in paired.columns


def test_the_pooled_row_names_every_zero_shot_group_it_pools():
    paired = pd.DataFrame(
        paired_rows("deu", [1.0, -1.0], group="zero_shot-eng") + paired_rows("rus", [1.0], group="zero_shot-amh")
    )
    row = compare.pooled_test(paired, {})[0]  # all targets (then the Latin and the other scripts)
    assert row["groups"] == "zero_shot-amh zero_shot-eng" and row["languages"] == "deu rus"
