"""The report's tables on a few hand-made rows: which rows each reads, its averages and spreads
(sample std over seeds, targets apart from sources), its order, and how a cell is written."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pandas as pd
import pytest

from workbench.report import tables


def score(system, path, language, accuracy, seed=0, group="zero_shot-eng", protocol="zero_shot", **extra):
    row = {
        "split": "test",
        "modality": "speech",
        "group": group,
        "protocol": protocol,
        "sources": "eng" if protocol == "zero_shot" else "",
        "system": system,
        "path": path,
        "run_dir": f"{system}-{seed}",
        "seed": seed,
        "n_classes": 4,
        "language": language,
        "accuracy": accuracy,
        "n": 10,
        "is_source": language == "eng" and protocol == "zero_shot",
    }
    return {**row, **extra}


def test_a_cell_is_a_percentage_with_its_sample_spread_and_a_dash_when_missing():
    assert tables.fmt(0.925, 0.035, 2) == "92.5 ± 3.5"
    assert tables.fmt(0.925, 0.0, 1) == "92.5"  # one seed: no spread to show
    assert tables.fmt(0.5, 0.1, 0) == "–"
    assert tables.fmt(float("nan"), 0.1, 3) == "–"
    assert tables._mean_std(pd.Series([0.5, 0.7, None])) == pytest.approx((0.6, math.sqrt(0.02), 2))  # ddof 1
    assert tables._mean_std(pd.Series([0.5])) == (0.5, 0.0, 1)
    mean, std, n = tables._mean_std(pd.Series([None], dtype=float))
    assert math.isnan(mean) and math.isnan(std) and n == 0


def test_markdown_has_a_header_a_rule_per_column_and_one_line_per_row():
    assert tables.markdown(["a", "b"], [[1, "x"], [2, "y"]]) == "| a | b |\n|---|---|\n| 1 | x |\n| 2 | y |"


def test_systems_are_ordered_e2e_cascade_hybrid_raw_before_calibrated_then_gold():
    frame = pd.DataFrame(
        [
            {"system": "ca-b:gold", "path": "gold"},
            {"system": "hybrid-cal:e+a", "path": "hybrid"},
            {"system": "hybrid:e+a", "path": "hybrid"},
            {"system": "ca-b", "path": "cascade"},
            {"system": "ca-a", "path": "cascade"},
            {"system": "z-e2e", "path": "e2e"},
            {"system": "odd", "path": "other"},
        ]
    )
    assert tables.system_order(frame) == ["z-e2e", "ca-a", "ca-b", "hybrid:e+a", "hybrid-cal:e+a", "ca-b:gold", "odd"]


def test_run_averages_are_over_languages_per_seed_and_over_targets_for_zero_shot():
    frame = pd.DataFrame(
        [
            score("e2e", "e2e", "eng", 1.0),
            score("e2e", "e2e", "deu", 0.5),
            score("e2e", "e2e", "tha", 0.3),
            score("e2e", "e2e", "eng", 0.9, seed=1),
            score("e2e", "e2e", "deu", 0.7, seed=1),
            score("e2e", "e2e", "tha", 0.5, seed=1),
            score("e2e", "e2e", "eng", 0.8, group="in_language", protocol="in_language"),
        ]
    )
    averages = tables.run_averages(frame).set_index(["group", "seed"])
    assert averages.loc[("zero_shot-eng", 0), tables.AVERAGE] == pytest.approx(0.6)
    assert averages.loc[("zero_shot-eng", 0), tables.TARGET_AVERAGE] == pytest.approx(0.4)
    assert averages.loc[("zero_shot-eng", 1), tables.TARGET_AVERAGE] == pytest.approx(0.6)
    assert averages.loc[("in_language", 0), tables.AVERAGE] == pytest.approx(0.8)
    assert math.isnan(averages.loc[("in_language", 0), tables.TARGET_AVERAGE])


def test_speechtaxi_tables_star_the_sources_and_give_mean_sample_std_and_seeds():
    frame = pd.DataFrame(
        [
            score("e2e", "e2e", "eng", 1.0),
            score("e2e", "e2e", "deu", 0.5),
            score("e2e", "e2e", "eng", 0.8, seed=1),
            score("e2e", "e2e", "deu", 0.7, seed=1),
            score("ca", "cascade", "eng", 0.9),
            score("ca", "cascade", "deu", 0.4),
            score("ca:gold", "gold", "deu", 0.6),
        ]
    )
    table = tables.speechtaxi_tables(frame)
    assert list(dict.fromkeys(table["system"])) == ["e2e", "ca", "ca:gold"]
    e2e = table[table["system"] == "e2e"].set_index("language")
    assert list(e2e.index) == ["deu", "eng*", tables.AVERAGE, tables.TARGET_AVERAGE]
    assert e2e.loc["eng*", ["accuracy_mean", "accuracy_std", "seeds"]].tolist() == [0.9, round(math.sqrt(0.02), 4), 2]
    assert e2e.loc["deu", "accuracy_mean"] == 0.6
    assert e2e.loc[tables.AVERAGE, "accuracy_mean"] == 0.75  # seeds' language averages 0.75 and 0.75
    assert e2e.loc[tables.AVERAGE, "accuracy_std"] == 0.0
    assert e2e.loc[tables.TARGET_AVERAGE, ["accuracy_mean", "seeds"]].tolist() == [0.6, 2]
    assert e2e.iloc[0][["split", "modality", "protocol", "path"]].tolist() == ["test", "speech", "zero_shot-eng", "e2e"]
    ca = table[table["system"] == "ca"].set_index("language")
    assert ca.loc["deu", ["accuracy_mean", "accuracy_std", "seeds"]].tolist() == [0.4, 0.0, 1]
    gold = table[table["system"] == "ca:gold"].set_index("language")
    assert gold["upper_bound"].all() and not table[table["system"] != "ca:gold"]["upper_bound"].any()
    # a system with no target has no target average: a missing cell, not a zero
    assert gold.loc[tables.TARGET_AVERAGE, "seeds"] == 1
    only_source = tables.speechtaxi_tables(pd.DataFrame([score("e2e", "e2e", "eng", 1.0)])).set_index("language")
    assert only_source.loc[tables.TARGET_AVERAGE, "seeds"] == 0
    assert pd.isna(only_source.loc[tables.TARGET_AVERAGE, "accuracy_mean"])


def test_in_language_tables_have_no_source_star_and_no_target_average():
    frame = pd.DataFrame(
        [
            # an in-language run's source is its own language: nothing is starred all the same
            score("e2e", "e2e", language, accuracy, group="in_language", protocol="in_language", sources=language)
            for language, accuracy in [("eng", 1.0), ("deu", 0.5)]
        ]
    )
    table = tables.speechtaxi_tables(frame)
    assert table["language"].tolist() == ["deu", "eng", tables.AVERAGE]
    assert table["accuracy_mean"].tolist() == [0.5, 1.0, 0.75]


def test_table_markdown_puts_languages_down_and_systems_across():
    table = pd.DataFrame(
        [
            {"language": "eng*", "system": "e2e", "accuracy_mean": 0.9, "accuracy_std": 0.1, "seeds": 2},
            {"language": "deu", "system": "e2e", "accuracy_mean": 0.5, "accuracy_std": 0.0, "seeds": 1},
            {"language": "eng*", "system": "ca", "accuracy_mean": 0.8, "accuracy_std": 0.0, "seeds": 1},
        ]
    )
    assert tables.table_markdown(table) == (
        "| language | e2e | ca |\n|---|---|---|\n| eng* | 90.0 ± 10.0 | 80.0 |\n| deu | 50.0 | – |"
    )


def test_the_ladder_climbs_gold_then_native_romanized_translated_asr_then_e2e_with_the_cascades_cer():
    # names in another alphabetical order than the rungs': the text decides, then the name
    systems = [
        ("e2e", "e2e", 0.7, 4),
        ("c-trans", "cascade", 0.5, 4),
        ("b-rom", "cascade", 0.6, 4),
        ("a-other", "cascade", 0.55, 4),  # its text is not known: it ranks with the translated ones
        ("z-nat", "cascade", 0.4, 7),
        ("z-nat:gold", "gold", 0.9, 4),
        ("b-rom:gold", "gold", 0.95, 4),
    ]
    in_language = {"group": "in_language", "protocol": "in_language"}
    frame = pd.DataFrame(
        [score(system, path, "deu", acc, **in_language, n_classes=n) for system, path, acc, n in systems]
        + [score("z-nat", "cascade", "deu", 0.6, seed=1, **in_language)]
        + [score("z-nat", "cascade", "deu", 0.7, seed=2, **in_language)]
        + [score("e2e", "e2e", "deu", 0.1, group="a-e2e-only")]  # a group without a cascade: no ladder
    )
    texts = [("z-nat", "native"), ("b-rom", "romanized"), ("c-trans", "translated"), ("a-other", None)]
    runs = SimpleNamespace(
        runs=pd.DataFrame(
            [
                {"run_dir": f"{s}-{seed}", "system": s, "modality": "speech", "group": "in_language", "text": t}
                for s, t in [*texts, ("e2e", None)]
                for seed in (0, 1, 2)
            ]
        ),
        asr=pd.DataFrame(
            [
                {"run_dir": "z-nat-0", "system": "z-nat", "split": "test", "language": "deu", "cer": 0.1, "wer": 0.5},
                {
                    "run_dir": "z-nat-1",
                    "system": "z-nat",
                    "split": "test",
                    "language": "deu",
                    "cer": 0.12345,
                    "wer": 0.71234,
                },
                {"run_dir": "z-nat-1", "system": "z-nat", "split": "dev", "language": "deu", "cer": 0.9, "wer": 0.9},
                {"run_dir": "z-nat-1", "system": "z-nat", "split": "test", "language": "eng", "cer": 0.9, "wer": 0.9},
            ]
        ),
    )
    ladder = tables.ladder(frame, runs)
    order = ["z-nat:gold", "b-rom:gold", "z-nat", "b-rom", "a-other", "c-trans", "e2e"]
    assert ladder["system"].tolist() == order
    assert ladder["rung"].tolist() == list(range(7))
    assert ladder["path"].tolist() == ["gold", "gold", "cascade", "cascade", "cascade", "cascade", "e2e"]
    native = ladder.set_index("system").loc["z-nat"]
    # the mean of 3 seeds and of 2 recognizer runs, each to 4 decimals
    assert (native["accuracy"], native["seeds"], native["cer"], native["wer"]) == (0.5667, 3, 0.1117, 0.6062)
    assert pd.isna(ladder.set_index("system").loc["b-rom", "cer"])  # no recognizer row: no CER
    assert pd.isna(ladder.set_index("system").loc["z-nat:gold", "wer"])  # gold text has none
    assert ladder["chance"].tolist() == [0.1429] * 7  # 1/7: the most classes of the group
    assert ladder.iloc[0][["split", "modality", "protocol", "language"]].tolist() == [
        "test",
        "speech",
        "in_language",
        "deu",
    ]
    assert set(ladder["protocol"]) == {"in_language"}


def test_ladder_markdown_gives_cer_and_wer_after_each_cascade_rung_and_the_chance_level():
    columns = ["language", "rung", "system", "path", "accuracy", "cer", "wer"]
    table = pd.DataFrame(
        [
            ("deu", 1, "ca", "cascade", 0.5, 0.25, 0.5),
            ("deu", 0, "ca:gold", "gold", 0.9, None, None),
            ("deu", 2, "e2e", "e2e", None, None, None),
            ("amh", 1, "ca", "cascade", 0.4, None, None),
            ("amh", 0, "ca:gold", "gold", 0.8, None, None),
            ("amh", 2, "e2e", "e2e", 0.6, None, None),
        ],
        columns=columns,
    ).assign(chance=0.25)
    assert tables.ladder_markdown(table) == (
        "| language | ca:gold | ca | CER / WER | e2e | chance |\n|---|---|---|---|---|---|\n"
        "| amh | 80.0 | 40.0 | – | 60.0 | 25.0 |\n"
        "| deu | 90.0 | 50.0 | 0.25 / 0.50 | – | 25.0 |"
    )


def test_a_ladder_of_one_cascade_alone_is_written_too():
    table = pd.DataFrame(
        [("deu", 0, "ca", "cascade", 0.5, 0.25, 0.5, 0.25)],
        columns=["language", "rung", "system", "path", "accuracy", "cer", "wer", "chance"],
    )
    assert tables.ladder_markdown(table).splitlines()[-1] == "| deu | 50.0 | 0.25 / 0.50 | 25.0 |"


def test_protocol_averages_are_over_runs_of_the_target_average_with_a_sample_std():
    frame = pd.DataFrame(
        [
            score("e2e", "e2e", "eng", 1.0),
            score("e2e", "e2e", "deu", 0.5),
            score("e2e", "e2e", "eng", 1.0, seed=1),
            score("e2e", "e2e", "deu", 0.7, seed=1),
            score("e2e", "e2e", "deu", 0.9, group="in_language", protocol="in_language"),
            score("e2e", "e2e", "deu", 0.1, group="in_language", protocol="in_language", split="dev"),
        ]
    )
    averages = tables.protocol_averages(frame).set_index("protocol")
    assert averages.loc["zero_shot", ["mean", "std", "count"]].tolist() == pytest.approx([0.6, math.sqrt(0.02), 2])
    assert averages.loc["in_language", ["mean", "std", "count"]].tolist() == [0.9, 0.0, 1]
    assert tables.protocol_averages(frame, split="dev").loc[0, "mean"] == 0.1


def test_the_tuning_budget_is_the_fewest_trials_of_a_systems_runs_and_untuned_when_any_was():
    runs = pd.DataFrame(
        [
            ("e2e", "e2e", 8.0, "lr"),
            ("e2e", "e2e", 6.0, "lr; wd"),
            ("ca", "cascade", 8.0, ""),
            ("ca", "cascade", None, ""),  # one untuned run: the system counts as untuned
            ("asr", "recognizer", 1.0, ""),
        ],
        columns=["system", "path", "tuning_trials", "tuning_space"],
    ).assign(modality="speech", group="g")
    budget = tables.tuning_budget(runs)
    assert budget.columns.tolist() == ["modality", "group", "system", "trials", "search_space", "runs"]
    assert budget["system"].tolist() == ["ca", "e2e"]  # the recognizer is a set-up step, not a system
    assert math.isnan(budget.loc[0, "trials"]) and budget.loc[1, "trials"] == 6
    assert budget["search_space"].tolist() == ["", "lr; lr; wd"]
    assert budget["runs"].tolist() == [2, 2]
    assert tables.tuning_markdown(budget) == (
        "| protocol | modality | system | trials | search space | runs |\n|---|---|---|---|---|---|\n"
        "| g | speech | ca | untuned | – | 2 |\n| g | speech | e2e | 6 | lr; lr; wd | 2 |"
    )
    empty = tables.tuning_budget(runs.iloc[0:0])
    assert empty.empty and empty.columns.tolist() == budget.columns.tolist()


def test_scores_are_per_run_and_language_from_test_items_plus_gold_text_for_the_sources_own_language():
    item = {"modality": "speech", "group": "zero_shot-eng", "protocol": "zero_shot", "sources": "eng", "seed": 0}
    item |= {"system": "ca", "path": "cascade", "run_dir": "ca-0", "n_classes": 4}
    items = pd.DataFrame(
        [
            {**item, "split": "test", "language": "eng", "correct": True, "is_source": True},
            {**item, "split": "test", "language": "eng", "correct": False, "is_source": True},
            {**item, "split": "test", "language": "deu", "correct": True, "is_source": False},
            {**item, "split": "dev", "language": "deu", "correct": False, "is_source": False},
            {**item, "split": "train", "language": "deu", "correct": False, "is_source": False},
        ]
    )
    run = {k: v for k, v in item.items() if k not in ("system", "path")} | {"system": "ca", "path": "cascade"}
    in_language = run | {"run_dir": "ca-in", "group": "in_language", "protocol": "in_language", "sources": "deu"}
    runs = SimpleNamespace(
        runs=pd.DataFrame([run, in_language]),
        gold=pd.DataFrame(
            [("ca-0", "eng", 0.9, 2), ("ca-0", "deu", 0.8, 1), ("ca-in", "deu", 0.7, 1), ("ca-in", "eng", 0.6, 1)],
            columns=["run_dir", "language", "accuracy", "n"],
        ).assign(system="ca", path="cascade", split="test"),
    )
    frame = tables.scores(runs, items)
    asr = frame[frame["path"] == "cascade"].set_index("language")
    assert sorted(asr.index) == ["deu", "eng"]  # dev and train items are not scored
    assert asr.loc["eng", ["accuracy", "n", "is_source"]].tolist() == [0.5, 2, True]
    assert asr.loc["deu", ["accuracy", "n", "is_source"]].tolist() == [1.0, 1, False]
    gold = frame[frame["path"] == "gold"].set_index(["run_dir", "language"])
    assert set(gold["system"]) == {"ca:gold"}
    assert gold.index.tolist() == [("ca-0", "eng"), ("ca-0", "deu"), ("ca-in", "deu")]  # in-language: its own only
    assert gold["is_source"].tolist() == [True, False, True]
    assert gold["accuracy"].tolist() == [0.9, 0.8, 0.7]
    assert frame["is_source"].dtype == bool
    no_gold = SimpleNamespace(runs=runs.runs, gold=runs.gold.iloc[0:0])
    assert set(tables.scores(no_gold, items)["path"]) == {"cascade"}


def test_a_run_without_a_seed_is_scored_and_every_source_of_a_multi_source_run_is_a_source():
    run = {"modality": "speech", "group": "zero_shot-deu+eng", "protocol": "zero_shot", "sources": "deu+eng"}
    run |= {"system": "ca", "path": "cascade", "run_dir": "ca-2", "n_classes": 4, "seed": None}
    items = pd.DataFrame([{**run, "split": "test", "language": "deu", "correct": True, "is_source": True}])
    gold = pd.DataFrame([("deu", 0.9), ("eng", 0.8), ("tha", 0.4)], columns=["language", "accuracy"]).assign(
        run_dir="ca-2", system="ca", path="cascade", split="test", n=1
    )
    runs = SimpleNamespace(runs=pd.DataFrame([run]), gold=gold)
    frame = tables.scores(runs, items)
    assert frame[frame["path"] == "cascade"]["run_dir"].tolist() == ["ca-2"]  # its seed is unknown: still a run
    sources = frame[frame["path"] == "gold"].set_index("language")["is_source"]
    assert sources.to_dict() == {"deu": True, "eng": True, "tha": False}


def test_scores_are_a_fresh_table_with_boolean_sources_whatever_the_items_dtype():
    item = {"modality": "speech", "group": "zero_shot-eng", "protocol": "zero_shot", "sources": "eng", "seed": 0}
    item |= {"system": "ca", "path": "cascade", "run_dir": "ca-0", "n_classes": 4, "split": "test"}
    items = pd.DataFrame(
        [{**item, "language": "eng", "correct": True, "is_source": True}]
        + [{**item, "language": "deu", "correct": True, "is_source": False}]
    ).astype({"is_source": object})  # as read back from JSON records with a missing value elsewhere
    gold = pd.DataFrame([("deu", 0.9)], columns=["language", "accuracy"])
    gold = gold.assign(run_dir="ca-0", system="ca", path="cascade", split="test", n=1)
    run = {k: v for k, v in item.items() if k != "split"}
    frame = tables.scores(SimpleNamespace(runs=pd.DataFrame([run]), gold=gold), items)
    assert frame["is_source"].dtype == bool and frame["is_source"].tolist() == [False, True, False]
    assert frame.index.tolist() == [0, 1, 2]  # one row per label: no label of the items repeated by the gold rows


def test_a_seedless_run_is_averaged_and_each_modalitys_table_averages_its_own_runs():
    frame = pd.DataFrame(
        [
            score("e2e", "e2e", "eng", 1.0, seed=None),
            score("e2e", "e2e", "deu", 0.5, seed=None),
            score("e2e", "e2e", "eng", 0.2, modality="image"),
            score("e2e", "e2e", "deu", 0.2, modality="image"),
        ]
    )
    averages = tables.run_averages(frame).set_index("modality")
    assert averages.loc["speech", [tables.AVERAGE, tables.TARGET_AVERAGE]].tolist() == [0.75, 0.5]
    table = tables.speechtaxi_tables(frame).set_index(["modality", "language"])
    assert table.loc[("speech", tables.AVERAGE), ["accuracy_mean", "seeds"]].tolist() == [0.75, 1]
    assert table.loc[("image", tables.AVERAGE), ["accuracy_mean", "seeds"]].tolist() == [0.2, 1]


def test_every_source_of_a_multi_source_table_is_starred_and_means_keep_4_decimals():
    rows = [("eng", 1.0), ("deu", 0.9), ("tha", 0.5)]
    frame = pd.DataFrame(
        [score("e2e", "e2e", language, accuracy, sources="eng+deu") for language, accuracy in rows]
        + [score("e2e", "e2e", "tha", 0.6, seed=1, sources="eng+deu")]
        + [score("e2e", "e2e", "tha", 0.6, seed=2, sources="eng+deu")]
    )
    table = tables.speechtaxi_tables(frame).set_index("language")
    assert list(table.index[:3]) == ["deu*", "eng*", "tha"]
    assert table.loc["tha", "accuracy_mean"] == 0.5667
