"""Each of the report's checks on a few hand-made table rows: where its limit lies (flagged at the limit,
not just inside it), which rows it reads, and what its warning says (the run, and why)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pandas as pd

from workbench.report import checks
from workbench.report.frame import RUN_COLUMNS


def asr_rows(*rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["run_dir", "split", "language", "cer"])


def cascade_items(transcripts: list, language: str = "eng", split: str = "test", path: str = "cascade") -> list[dict]:
    return [{"run_dir": "ca", "path": path, "split": split, "language": language, "transcript": t} for t in transcripts]


def test_a_recognizer_is_flagged_from_a_cer_of_0_8_per_run_and_split():
    asr = asr_rows(
        ("asr", "test", "tha", 0.95),
        ("asr", "test", "eng", 0.8),  # at the limit: flagged
        ("asr", "test", "rus", 0.7999),
        ("asr", "dev", "tha", 0.9),
        ("fine", "test", "eng", 0.1),
    )
    assert checks.recognizers(asr, None) == [
        {"check": "recognizer", "run_dir": "asr", "detail": "recognizer CER >= 0.8 in tha 0.90 (dev)"},
        {"check": "recognizer", "run_dir": "asr", "detail": "recognizer CER >= 0.8 in eng 0.80, tha 0.95 (test)"},
    ]


def test_a_cascade_is_flagged_when_half_of_a_languages_transcripts_are_empty():
    items = pd.DataFrame(
        cascade_items(["", " ", "a", "b"])  # half empty (blank counts as empty): flagged
        + cascade_items(["", "a", "b"], language="rus")  # a third: not
        + cascade_items([None, None, "a"], language="tha")  # not recorded: not read as empty
        + cascade_items(["", ""], split="dev")  # dev and train transcripts are not the comparison's
        + cascade_items(["", ""], split="train")
        + cascade_items(["", ""], language="deu", path="e2e")  # not a cascade
    )
    assert checks.recognizers(asr_rows(), items) == [
        {"check": "recognizer", "run_dir": "ca", "detail": "the recognizer wrote nothing for 50% of eng (test)"}
    ]
    items = pd.DataFrame(cascade_items(["", "", "a"]) + cascade_items(["", ""], language="rus"))
    (row,) = checks.recognizers(asr_rows(), items)
    assert row["detail"] == "the recognizer wrote nothing for 67% of eng, 100% of rus (test)"
    assert checks.recognizers(asr_rows(), pd.DataFrame(cascade_items([None]))) == []


def score_rows(*rows) -> pd.DataFrame:
    columns = ["run_dir", "system", "path", "split", "language", "accuracy", "n_classes", "is_source", "sources"]
    return pd.DataFrame(rows, columns=[*columns, "protocol"])


def test_near_chance_is_at_or_below_chance_plus_5_points_on_a_training_language():
    at_limit = 1 / 4 + 0.05  # 4 classes
    scores = score_rows(
        ("zs", "e2e-conv", "e2e", "test", "eng", at_limit, 4, True, "eng", "zero_shot"),
        ("zs", "e2e-conv", "e2e", "test", "rus", 0.0, 4, False, "eng", "zero_shot"),  # a target: not trained
        ("zs-dev", "e2e-conv", "e2e", "dev", "eng", 0.0, 4, True, "eng", "zero_shot"),  # dev is not checked
        ("ok", "ca-native", "cascade", "test", "eng", at_limit + 0.001, 4, True, "eng", "zero_shot"),
        ("asr", "ctc", "recognizer", "test", "eng", 0.0, 4, True, "eng", "zero_shot"),  # not a classifier
        ("all", "e2e-conv", "e2e", "test", "tha", 0.3, 3, False, "", "all_languages"),  # trained on every one
        ("zs0", "e2e-conv", "e2e", "test", "tha", 0.3, 3, False, "", "zero_shot"),
    )
    assert checks.near_chance(scores) == [
        {
            "check": "near chance",
            "run_dir": "zs",
            "detail": "e2e-conv at 30.0% on its training language eng (chance 25.0%)",
        },
        {
            "check": "near chance",
            "run_dir": "all",
            "detail": "e2e-conv at 30.0% on its training language tha (chance 33.3%)",
        },
    ]


def test_near_chance_checks_cascades_as_well_as_e2e_systems():
    scores = score_rows(("ca", "ca-native", "cascade", "test", "eng", 0.3, 4, True, "eng", "zero_shot"))
    assert [row["run_dir"] for row in checks.near_chance(scores)] == ["ca"]


def run_rows(*rows) -> pd.DataFrame:
    columns = ["run_dir", "system", "stopped_by", "steps", "epochs", "best_dev", "checks_since_best"]
    return pd.DataFrame(rows, columns=columns)


def test_stopped_names_the_clock_and_interruptions():
    runs = run_rows(
        ("a", "e2e-conv", "max_time", 120, 3, 0.5, 2),
        ("b", "ca-native", "interrupted", 7, 1, 0.5, 0),
        ("c", "e2e-conv", "early_stopping", 9, 2, 0.5, 3),
        ("d", "e2e-conv", "max_steps", 9, 2, 0.5, 0),
    )
    assert checks.stopped(runs) == [
        {
            "check": "stopped",
            "run_dir": "a",
            "detail": "e2e-conv stopped by the clock (max_time) after 120 steps, 3 epochs",
        },
        {"check": "stopped", "run_dir": "b", "detail": "ca-native stopped by an interruption after 7 steps, 1 epochs"},
    ]


def test_budget_names_runs_that_ran_out_while_improving_or_before_any_check():
    runs = run_rows(
        ("a", "e2e-conv", "max_steps", 50, 1, 0.5, 0),
        ("b", "e2e-conv", "max_epochs", 80, 4, math.nan, math.nan),
        ("c", "e2e-conv", "max_epochs", 80, 4, 0.5, 1),  # its best was earlier: it had levelled off
        ("d", "e2e-conv", "early_stopping", 80, 4, 0.5, 0),
        ("e", "e2e-conv", "max_time", 80, 4, math.nan, math.nan),  # the clock: the "stopped" check's
    )
    assert checks.budget(runs) == [
        {
            "check": "budget",
            "run_dir": "a",
            "detail": "e2e-conv ran out of its budget (max_steps, 50 steps) while still improving on dev "
            "(its last check was its best): not converged",
        },
        {
            "check": "budget",
            "run_dir": "b",
            "detail": "e2e-conv ran out of its budget (max_epochs, 80 steps) before any dev check: not converged",
        },
    ]


def test_budget_reads_every_run_after_a_converged_one():
    runs = run_rows(
        ("levelled", "e2e-conv", "max_steps", 50, 1, 0.5, 2),
        ("improving", "e2e-conv", "max_steps", 50, 1, 0.5, 0),
    )
    assert [row["run_dir"] for row in checks.budget(runs)] == ["improving"]


def table_rows(*rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["run_dir", "system", "path", "split", "modality", "group", "language", "seed"])


def test_language_sets_names_every_run_of_a_system_that_misses_a_language_of_its_table():
    scores = table_rows(
        ("e0", "e2e-conv", "e2e", "test", "speech", "zero_shot-eng", "rus", 0),
        ("e0", "e2e-conv", "e2e", "test", "speech", "zero_shot-eng", "tha", 0),
        ("e0", "e2e-conv", "e2e", "test", "speech", "zero_shot-eng", "hin", 0),
        ("c1", "ca-native", "cascade", "test", "speech", "zero_shot-eng", "rus", 1),
        ("c0", "ca-native", "cascade", "test", "speech", "zero_shot-eng", "rus", 0),
        ("asr", "ctc", "recognizer", "test", "speech", "zero_shot-eng", "deu", 0),  # not a system of the table
        ("v0", "e2e-conv", "e2e", "test", "image", "zero_shot-eng", "rus", 0),  # another table: images
        ("d0", "ca-native", "cascade", "dev", "speech", "zero_shot-eng", "rus", 0),  # another table: dev
    )
    detail = "ca-native in zero_shot-eng (test) has no hin, tha: its average covers fewer languages than the others"
    assert checks.language_sets(scores) == [
        {"check": "language sets", "run_dir": "c0", "detail": detail},
        {"check": "language sets", "run_dir": "c1", "detail": detail},
    ]


def test_seeds_names_the_runs_of_a_system_with_fewer_seeds_than_the_most_seeded():
    rows = []
    for seed in (0, 1, 2):
        rows += [(f"e{seed}", "e2e-conv", "e2e", "test", "speech", "zs", lang, seed) for lang in ("rus", "tha")]
    rows += [(f"c{seed}", "ca-native", "cascade", "test", "speech", "zs", "rus", seed) for seed in (0, 1)]
    rows += [("c2", "ca-native", "cascade", "test", "speech", "zs", "tha", 2)]
    rows += [("v0", "ca-native", "cascade", "test", "image", "zs", "rus", 0)]  # alone in its table: not short
    rows += [("a0", "ctc", "recognizer", "test", "speech", "zs", "rus", 0)]
    # rus has 2 seeds and tha 1: the fewest is named
    assert checks.seeds(table_rows(*rows)) == [
        {"check": "seeds", "run_dir": run, "detail": "ca-native in zs has 1 seed(s) for rus, tha, others 3"}
        for run in ("c0", "c1", "c2")
    ]


def test_seeds_leaves_a_language_a_system_lacks_to_the_language_sets_check():
    rows = [
        (f"e{seed}", "e2e-conv", "e2e", "test", "speech", "zs", lang, seed)
        for seed in (0, 1)
        for lang in ("rus", "tha")
    ]
    rows += [("c0", "ca-native", "cascade", "test", "speech", "zs", "rus", 0)]  # no tha at all: not "fewer seeds"
    assert checks.seeds(table_rows(*rows)) == [
        {"check": "seeds", "run_dir": "c0", "detail": "ca-native in zs has 1 seed(s) for rus, others 2"}
    ]


def test_duplicates_are_runs_of_one_modality_system_protocol_sources_and_seed():
    columns = ["run_dir", "modality", "system", "protocol", "sources", "seed"]
    runs = pd.DataFrame(
        [
            ("a", "speech", "e2e-conv", "zero_shot", "eng", 0),
            ("a-again", "speech", "e2e-conv", "zero_shot", "eng", 0),
            ("b", "image", "e2e-conv", "zero_shot", "eng", 0),  # another modality: another system
            ("c", "speech", "e2e-conv", "zero_shot", "eng", 1),
            ("d", "speech", "e2e-conv", "zero_shot", "rus", 0),
            ("e", "speech", "e2e-conv", "all_languages", "", 0),
            ("f", "speech", "e2e-conv", "all_languages", "", 0),
        ],
        columns=columns,
    )
    assert checks.duplicates(runs) == [
        {
            "check": "duplicate",
            "run_dir": run,
            "detail": "e2e-conv all_languages seed 0 is in 2 run directories: each counts as a seed",
        }
        for run in ("e", "f")  # fmt: skip
    ] + [
        {
            "check": "duplicate",
            "run_dir": run,
            "detail": "e2e-conv zero_shot from eng seed 0 is in 2 run directories: each counts as a seed",
        }
        for run in ("a", "a-again")  # fmt: skip
    ]


def test_temperature_names_the_run_and_system_whose_fit_on_dev_stopped_at_a_bound():
    probs = [[0.6, 0.4], [0.3, 0.7], [0.8, 0.2], [0.7, 0.3]]
    items = pd.DataFrame(
        {
            "run_dir": ["r"] * 4 + ["s"] * 4 + ["t"] * 4,
            "system": ["e2e-conv"] * 4 + ["ca-native"] * 4 + ["e2e-conv"] * 4,
            "split": ["dev"] * 8 + ["test"] * 4,
            "probs": probs * 3,
            "label": [0, 1, 0, 0] + [0, 1, 0, 1] + [0, 1, 0, 0],  # r: all right (T runs to its lower bound)
        }
    )
    assert checks.temperature_bounds(items) == [
        {
            "check": "temperature",
            "run_dir": "r",
            "detail": "e2e-conv: temperature T = 0.0183 fitted on dev stopped at its search bound (T in [0.0183, "
            "54.6]; e.g. dev all right): calibrated probabilities and hybrid-cal rest on an unconverged fit",
        }
    ]
    assert checks.temperature_bounds(items.iloc[:0]) == []


def test_tuning_names_unequal_budgets_per_table():
    columns = ["run_dir", "path", "modality", "group", "system", "tuning_trials"]
    runs = pd.DataFrame(
        [
            ("e", "e2e", "speech", "il", "e2e-conv", 6.0),
            ("c", "cascade", "speech", "il", "ca-native", 3.0),
            ("u", "cascade", "speech", "il", "ca-romanized", math.nan),
            ("a", "recognizer", "speech", "il", "ctc", math.nan),  # a recognizer is not tuned
            ("i", "e2e", "image", "il", "e2e-conv", math.nan),  # its own table, nothing tuned
        ],
        columns=columns,
    )
    assert checks.tuning(runs) == [
        {"check": "tuning", "run_dir": "c", "detail": "ca-native in il was tuned with 3 trials, others 6"},
        {
            "check": "tuning",
            "run_dir": "u",
            "detail": "ca-romanized in il was not tuned; others had 6 trials: unequal budgets",
        },
    ]


def test_check_runs_lists_unread_files_first_and_skips_the_score_checks_without_scores():
    runs = SimpleNamespace(
        skipped=[("old/metrics.json", "no run record")],
        asr=asr_rows(("asr", "test", "tha", 0.9)),
        items=pd.DataFrame(),
        runs=pd.DataFrame(columns=RUN_COLUMNS),
    )
    expected = [
        ["not read", "old/metrics.json", "no run record"],
        ["recognizer", "asr", "recognizer CER >= 0.8 in tha 0.90 (test)"],
    ]
    for scores in (None, pd.DataFrame()):
        table = checks.check_runs(runs, scores)
        assert list(table.columns) == ["check", "run_dir", "detail"] and table.values.tolist() == expected
    clean = SimpleNamespace(skipped=[], asr=asr_rows(), items=pd.DataFrame(), runs=pd.DataFrame(columns=RUN_COLUMNS))
    nothing = checks.check_runs(clean, None)  # a clean sweep: no row, but the columns a reader selects by
    assert nothing.empty and list(nothing.columns) == ["check", "run_dir", "detail"]
