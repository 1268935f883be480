"""Each convention the report states (README "Reading the report" and report.md's header) holds in the code.

One test per convention that can fail: sample std, macro-F1's class set, the Monte-Carlo floor printed as
``p <= 1/(B+1)`` with B, every pooled test shown and Holm-corrected together, CER/WER normalisation and the
WER caveat for languages written without spaces, a temperature fit at its search bound flagged; and the README
quotes the code's constants and no p-value below the floor.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd
import pytest

from cascade.asr_text import error_rates
from tests.helpers.report_runs import item_rows, write_run
from workbench import metrics
from workbench.report import calibration, checks, stats
from workbench.report.build import build_report

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
FLOOR = 1 / (stats.PERMUTATIONS + 1)
N = 40  # contents per target language: above EXACT_UP_TO, so the pooled tests are Monte Carlo


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    """Zero-shot from eng to deu (Latin) and rus (Cyrillic): E2E right on every target item, the cascade wrong;
    E2E's dev predictions all right (its temperature runs to the bound); two E2E seeds at 100 % and 75 % on eng."""
    root = tmp_path_factory.mktemp("conventions")
    dev = item_rows("eng", [True] * 30, split="dev", confidence=0.6)
    for seed, eng_right in ((0, [True] * 4), (1, [True, True, True, False])):
        rows = item_rows("eng", eng_right) + item_rows("deu", [True] * N) + item_rows("rus", [True] * N)
        write_run(root / f"e2e-{seed}", rows + dev, sources=["eng"], seed=seed)
    for seed in (0, 1):
        rows = item_rows("eng", [True] * 4) + item_rows("deu", [False] * N) + item_rows("rus", [False] * N)
        asr = {"test": {"eng": (0.1, 0.3), "deu": (0.2, 0.4), "rus": (0.2, 0.5)}}
        write_run(root / f"ca-{seed}", rows, path="cascade", system="ca-romanized", sources=["eng"], seed=seed, asr=asr)
    return build_report(root)


def test_std_is_the_sample_std(report):
    table = pd.read_csv(report / "table_test.csv")
    eng = table[(table["system"] == "e2e-conv") & (table["language"] == "eng*")].iloc[0]
    assert eng["accuracy_std"] == pytest.approx(pd.Series([1.0, 0.75]).std(ddof=1), abs=1e-4)  # 0.1768, not 0.125


def test_macro_f1_averages_the_classes_present():
    # 2 of 6 classes present, both perfect: 1.0 (absent classes counted as 0 would give 1/3)
    assert metrics.scores([0, 0, 1, 1], [0, 0, 1, 1], num_classes=6)["macro_f1"] == pytest.approx(1.0)
    # a class only predicted counts: F1 of class 0 = 2/3, class 1 = 0 -> 1/3
    assert metrics.scores([0, 0], [0, 1], num_classes=6)["macro_f1"] == pytest.approx(1 / 3)


def test_pooled_tests_all_shown_holm_corrected_and_the_floor_printed_as_a_bound(report):
    pooled = pd.read_csv(report / "pooled_test.csv")
    assert list(pooled["target_set"]) == ["all", "Latin script", "other scripts"]
    assert (pooled["resamples"] == stats.PERMUTATIONS).all() and pooled["p_at_floor"].all()
    assert pooled["p"].tolist() == pytest.approx([FLOOR] * 3)
    assert pooled["p_holm"].tolist() == pytest.approx([3 * FLOOR, 3 * FLOOR, 3 * FLOOR])  # Holm over the three
    text = (report / "report.md").read_text()
    row = next(line for line in text.splitlines() if line.startswith("| e2e-conv | ca-romanized | other scripts"))
    assert f"| {stats.PERMUTATIONS} | ≤ 0.0001 | ≤ 0.0003 |" in row
    assert f"p is printed as `≤ {FLOOR:.2g}` (= 1/(B+1)" in text and f"B = {stats.PERMUTATIONS}" in text


def test_holm_bounded_marks_values_that_come_from_a_floor():
    assert stats.holm_bounded([FLOOR, 0.2, 0.03], [True, False, False]) == [
        (pytest.approx(3 * FLOOR), True),
        (0.2, False),
        (0.06, False),
    ]
    assert stats.permutation([1.0] * 30, permutations=999).at_floor
    assert not stats.permutation([1.0, -1.0] * 15, permutations=999).at_floor
    assert stats.permutation([1.0] * 5).exact and stats.permutation([1.0] * 5).resamples == 32


def test_cer_wer_normalisation():
    assert error_rates(["café"], ["cafe\u0301"])["cer"] == 0  # NFC: composed and decomposed é are one letter
    assert error_rates(["March"], ["march"])["cer"] == 0  # case
    assert error_rates(["café"], ["cafe"])["cer"] == pytest.approx(0.25)  # marks kept: a missing accent counts
    assert error_rates(["march, july"], ["march july"])["wer"] == 0  # punctuation is a word boundary
    assert error_rates(["มกราคม กุมภาพันธ์"], ["มกราคม"])["wer"] == pytest.approx(0.5)  # space-separated words


def test_wer_caveat_names_languages_written_without_spaces(report, tmp_path):
    assert "written without spaces between words" not in (report / "report.md").read_text()  # eng, deu, rus
    rows = item_rows("tha", [True] * 4)
    write_run(
        tmp_path / "ca", rows, path="cascade", system="ca-native", sources=["tha"], asr={"test": {"tha": (0.1, 0.9)}}
    )
    header = (build_report(tmp_path) / "report.md").read_text().split("## Check these runs")[0]
    assert "tha is written without spaces between words" in header and "read the CER" in header


def test_temperature_at_its_search_bound_is_flagged(report):
    warnings = pd.read_csv(report / "warnings.csv")
    flagged = warnings[warnings["check"] == "temperature"]
    assert sorted(Path(r).name for r in flagged["run_dir"]) == ["e2e-0", "e2e-1"]  # the cascades have no dev
    assert "stopped at its search bound" in flagged["detail"].iloc[0]
    mixed = [[0.6, 0.4], [0.3, 0.7], [0.8, 0.2], [0.7, 0.3]]  # three of four right: T = 0.86 inside the bounds
    labels = [0, 1, 0, 1]
    assert not calibration.stopped_at_bound(mixed, labels, calibration.fit_temperature(mixed, labels))
    assert calibration.stopped_at_bound(mixed, labels, math.exp(calibration.LOG_T_BOUNDS[1]))


def test_temperature_check_is_its_own_function():
    dev = pd.DataFrame({"split": "dev", "run_dir": "r", "system": "s", "probs": [[0.9, 0.1]] * 5, "label": [0] * 5})
    assert [row["check"] for row in checks.temperature_bounds(dev)] == ["temperature"]
    assert checks.temperature_bounds(dev.assign(label=[0, 1, 0, 0, 0])) == []


def test_readme_quotes_the_code():
    section = README.split("### Reading the report")[1].split("\n## ")[0]
    quoted = {
        f"bootstrap interval ({stats.BOOTSTRAP_SAMPLES} resamples)",
        f"B = {stats.PERMUTATIONS} random",
        f"Up to {stats.EXACT_UP_TO} contents",
        f"`≤ {FLOOR:.2g}` (= 1/(B+1)",
        f"({calibration.BINS} equal-width confidence bins",
        "log T in [{:g}, {:g}]".format(*calibration.LOG_T_BOUNDS),
        f"CER ≥ {checks.CER_LIMIT}",
        f"chance + {100 * checks.CHANCE_MARGIN:.0f} points",
        "sample standard deviation, n − 1",
        "classes present",
    }
    assert {q for q in quoted if q not in section} == set()
    # no p-value quoted as a value at or below what B resamples can show: those are "p ≤ 1/(B+1)"
    too_small = [m for m in re.findall(r"p = (0\.\d+)", README) if float(m) <= FLOOR]
    assert too_small == []
