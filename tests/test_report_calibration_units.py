"""Calibration, function by function, on hand-computable cases: temperature scaling, the fit's search
bounds, which rows are fitted and calibrated, the reliability bins and the per-system table."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from workbench.report import calibration


def test_scale_divides_log_probabilities_by_the_temperature():
    # T = 1/2 squares the probabilities before normalising: 0.36 and 0.16 over 0.52
    assert calibration.scale([[0.6, 0.4]], 0.5) == pytest.approx(np.array([[0.36 / 0.52, 0.16 / 0.52]]))
    assert calibration.scale([[0.6, 0.4], [0.1, 0.9]], 1.0) == pytest.approx(np.array([[0.6, 0.4], [0.1, 0.9]]))
    # a zero probability is clipped at 1e-12, not -inf: T = 2 takes square roots, 1 and 1e-6
    assert calibration.scale([[1.0, 0.0]], 2.0) == pytest.approx(np.array([[1 / (1 + 1e-6), 1e-6 / (1 + 1e-6)]]))
    # large logits do not overflow (the maximum is subtracted first)
    assert calibration.scale([[0.5, 0.5]], 1e-300) == pytest.approx(np.array([[0.5, 0.5]]))


def test_the_temperature_minimises_the_nll_within_its_bounds():
    probs = [[0.6, 0.4], [0.3, 0.7], [0.8, 0.2], [0.7, 0.3]]
    labels = [0, 1, 0, 1]
    t = calibration.fit_temperature(probs, labels)
    nll = calibration._nll(probs, labels)
    assert 0.5 < t < 1.5 and nll(math.log(t)) < min(nll(math.log(t) - 0.05), nll(math.log(t) + 0.05))
    # by hand at T = 1: the mean of -log 0.6, -log 0.7, -log 0.8, -log 0.3
    assert nll(0.0) == pytest.approx(-(math.log(0.6) + math.log(0.7) + math.log(0.8) + math.log(0.3)) / 4)
    # all right: ever sharper is ever better, the fit stops at the lower end of the search, T = e^-4
    all_right = calibration.fit_temperature(probs, [0, 1, 0, 0])
    assert all_right == pytest.approx(math.exp(calibration.LOG_T_BOUNDS[0]), rel=1e-3)
    assert calibration.LOG_T_BOUNDS == (-4.0, 4.0)


def items(*runs) -> pd.DataFrame:
    """Rows of runs ``(run_dir, split, [(probs, label), ...])`` of one system and language."""
    rows = []
    for run_dir, split, pairs in runs:
        for probs, label in pairs:
            rows.append({"run_dir": run_dir, "split": split, "probs": probs, "label": label})
    frame = pd.DataFrame(rows)
    frame["confidence"] = frame["probs"].map(max)
    frame["correct"] = [float(np.argmax(p) == y) for p, y in zip(frame["probs"], frame["label"], strict=True)]
    return frame.assign(modality="speech", system="e2e-conv", language="eng")


OVER = [([0.9, 0.1], 0), ([0.9, 0.1], 1), ([0.8, 0.2], 0), ([0.2, 0.8], 1)]  # sure of itself, 3 of 4 right: T = 2.3
RIGHT = [([0.6, 0.4], 0), ([0.3, 0.7], 1), ([0.8, 0.2], 0), ([0.7, 0.3], 0)]  # all right


def test_bound_fits_names_the_runs_whose_dev_fit_stopped_at_a_bound():
    frame = items(("a", "dev", OVER), ("b", "dev", RIGHT), ("c", "test", RIGHT))
    fits = calibration.bound_fits(frame)
    assert list(fits) == ["b"] and fits["b"] == pytest.approx(math.exp(-4.0), rel=1e-3)


def test_calibrated_probabilities_come_from_the_runs_own_dev_fit_and_keep_the_predictions():
    frame = items(("a", "dev", OVER), ("a", "test", RIGHT), ("n", "test", RIGHT))  # n: no dev predictions
    out = calibration.add_calibrated(frame)
    t = calibration.fit_temperature([p for p, _ in OVER], [y for _, y in OVER])
    a_test = out[(out["run_dir"] == "a") & (out["split"] == "test")]
    assert (a_test["temperature"] == t).all() and t > 1
    expected = calibration.scale([p for p, _ in RIGHT], t)
    assert np.stack(a_test["probs_cal"].tolist()) == pytest.approx(expected)
    assert a_test["confidence_cal"].tolist() == pytest.approx(expected.max(axis=1).tolist())
    assert [int(np.argmax(p)) for p in a_test["probs_cal"]] == [int(np.argmax(p)) for p in a_test["probs"]]
    n = out[out["run_dir"] == "n"]
    assert n["temperature"].isna().all() and n["probs_cal"].isna().all() and n["confidence_cal"].isna().all()
    assert len(out) == len(frame) and "probs_cal" not in frame  # the input is left as it was


def test_reliability_bins_are_right_closed_with_their_edges_and_means():
    # 15 bins: 1/15 belongs to the first bin (0, 1/15], 0 too; 0.5 to (7/15, 8/15]; 1 to the last
    table = calibration.reliability([0.0, 1 / 15, 0.5, 0.5, 1.0], [0, 1, 1, 0, 1])
    assert table["n"].tolist() == [2, 2, 1]
    assert table["low"].tolist() == pytest.approx([0.0, 7 / 15, 14 / 15])
    assert table["high"].tolist() == pytest.approx([1 / 15, 8 / 15, 1.0])
    assert table["confidence"].tolist() == pytest.approx([1 / 30, 0.5, 1.0])
    assert table["accuracy"].tolist() == pytest.approx([0.5, 0.5, 1.0])
    assert calibration.BINS == 15
    assert len(calibration.reliability([0.1, 0.9], [1, 1], bins=2)) == 2
    assert calibration.ece([0.6, 0.6], [1, 0], bins=1) == pytest.approx(0.1)
    assert calibration.ece([0.123456789], [1]) == 0.876543  # rounded to 6 decimals


def test_calibration_table_per_system_and_language_raw_and_calibrated():
    frame = items(("a", "dev", OVER), ("a", "test", RIGHT), ("b", "dev", OVER), ("b", "test", RIGHT[:2]))
    table = calibration.calibration_table(calibration.add_calibrated(frame))
    (row,) = table.to_dict("records")  # dev rows fit, they are not scored
    assert {k: row[k] for k in ("split", "modality", "system", "language", "n")} == {
        "split": "test", "modality": "speech", "system": "e2e-conv", "language": "eng", "n": 6,
    }  # fmt: skip
    confidence = [0.6, 0.7, 0.8, 0.7, 0.6, 0.7]
    assert row["accuracy"] == 1.0 and row["confidence"] == round(sum(confidence) / 6, 4)
    assert row["ece_raw"] == calibration.ece(confidence, [1] * 6)
    t = calibration.fit_temperature([p for p, _ in OVER], [y for _, y in OVER])
    assert row["temperature"] == round(t, 3)
    calibrated = calibration.scale([p for p, _ in RIGHT + RIGHT[:2]], t).max(axis=1)
    assert row["ece_cal"] == calibration.ece(calibrated, [1] * 6) and row["ece_cal"] != row["ece_raw"]
    # one run without dev predictions: the system is shown raw only
    raw_only = items(("a", "dev", OVER), ("a", "test", RIGHT), ("n", "test", RIGHT[:3]))
    (row,) = calibration.calibration_table(calibration.add_calibrated(raw_only)).to_dict("records")
    assert math.isnan(row["ece_cal"]) and math.isnan(row["temperature"]) and row["n"] == 7
    assert row["accuracy"] == 1.0 and row["confidence"] == round((2.8 + 2.1) / 7, 4)


def test_a_fit_is_at_its_bound_at_either_end_or_where_the_nll_went_flat():
    probs = [[0.9, 0.1], [0.8, 0.2], [0.9, 0.1], [0.2, 0.8]]
    wrong = [1, 1, 1, 0]  # sure and always wrong: ever flatter is ever better, the fit stops at T = e^4
    t = calibration.fit_temperature(probs, wrong)
    assert t == pytest.approx(math.exp(calibration.LOG_T_BOUNDS[1]), rel=1e-3)
    assert calibration.stopped_at_bound(probs, wrong, t)
    interior = [[0.6, 0.4], [0.3, 0.7], [0.8, 0.2], [0.7, 0.3]], [0, 1, 0, 1]  # its optimum: T = 0.86
    assert not calibration.stopped_at_bound(*interior, 0.86)
    # within 1e-3 of an end counts as at it, even where the NLL still rises towards it
    assert calibration.stopped_at_bound(*interior, math.exp(calibration.LOG_T_BOUNDS[1] - 5e-4))
    assert calibration.stopped_at_bound(*interior, math.exp(calibration.LOG_T_BOUNDS[0] + 5e-4))
    # a flat NLL (uniform probabilities: no temperature changes them) has no optimum to find
    assert calibration.stopped_at_bound([[0.5, 0.5]] * 3, [0, 1, 0], 1.0)


def test_without_any_dev_prediction_nothing_is_calibrated():
    frame = items(("n", "test", RIGHT), ("m", "test", OVER))
    out = calibration.add_calibrated(frame)
    assert out["probs_cal"].isna().all() and out["confidence_cal"].isna().all() and out["temperature"].isna().all()
    assert calibration.temperatures(frame.iloc[0:0]).dtype == float


def test_reliability_has_one_row_per_non_empty_bin_and_ece_uses_the_bins_asked_for():
    table = calibration.reliability([0.55, 0.65], [1, 0], bins=1)
    assert list(table.columns) == ["n", "confidence", "accuracy", "low", "high"]
    assert calibration.ece([0.55, 0.65], [1, 0], bins=1) == pytest.approx(0.1)  # one bin: |0.5 - 0.6|
    assert calibration.ece([0.55, 0.65], [1, 0]) == pytest.approx(0.55)  # 15 bins: (0.45 + 0.65) / 2


def test_the_calibration_tables_accuracy_is_rounded_to_4_decimals():
    frame = items(("n", "test", RIGHT[:2] + [([0.9, 0.1], 1)]))
    (row,) = calibration.calibration_table(calibration.add_calibrated(frame)).to_dict("records")
    assert row["accuracy"] == 0.6667
