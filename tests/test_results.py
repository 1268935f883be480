"""Metrics, prediction records and run directories: the layout every path writes and the report reads."""

from __future__ import annotations

import math

import pytest

from workbench.items import Item
from workbench.metrics import scores, scores_by_language
from workbench.predictions import make_predictions
from workbench.record import ProtocolRecord, RunRecord
from workbench.runs import RunDir


def test_scores_accuracy_and_macro_f1():
    result = scores([0, 0, 1, 1, 2], [0, 1, 1, 1, 2], num_classes=4)
    assert result["accuracy"] == pytest.approx(0.8) and result["n"] == 5
    # class 3 is absent from labels and predictions: it does not drag macro-F1 down
    f1 = [2 / 3, 0.8, 1.0]
    assert result["macro_f1"] == pytest.approx(sum(f1) / 3)
    assert math.isnan(scores([], [], 3)["accuracy"])


def test_scores_by_language():
    result = scores_by_language([0, 1, 1, 0], [0, 1, 0, 0], ["eng", "eng", "rus", "rus"], 2)
    assert result["overall"]["accuracy"] == pytest.approx(0.75)
    assert result["per_language"]["eng"] == {"accuracy": 1.0, "macro_f1": 1.0, "n": 2}
    assert result["per_language"]["rus"]["accuracy"] == pytest.approx(0.5)


def test_run_dir_round_trip(tmp_path):
    items = [Item(f"i{k}", f"c{k}", ["eng", "rus"][k % 2], k % 2, "test") for k in range(4)]
    probs = [[0.9, 0.1], [0.2, 0.8], [0.3, 0.7], [0.6, 0.4]]
    records = make_predictions(
        items,
        probs,
        "test",
        "ca-romanized",
        "zero_shot-eng",
        1,
        transcripts=["a", "b", "c", "d"],
        romanized=["a", "b", "c", "d"],
    )
    run = RunDir(tmp_path / "run")
    assert not run.is_finished()
    record = RunRecord(
        "cascade", "speech", "ca-romanized", ProtocolRecord("zero_shot", ["eng"], ["eng", "rus"]), 1, ["x", "y"]
    )
    metrics = run.write(record, records, sections={"asr": {"cer": 0.1}})
    assert run.is_finished()
    assert metrics == run.metrics() and set(metrics) == {"record", "splits", "sections"}  # each fact once
    assert metrics["splits"]["test"]["per_language"]["rus"]["accuracy"] == pytest.approx(0.5)
    assert (
        run.record() == record and run.record().protocol.sources == ["eng"] and run.sections() == {"asr": {"cer": 0.1}}
    )
    rows = run.predictions()
    assert [r["pred"] for r in rows] == [0, 1, 1, 0]
    assert rows[2]["transcript"] == "c" and rows[0]["system"] == "ca-romanized" and rows[0]["seed"] == 1
    assert not list(run.path.glob("*.tmp"))  # atomic writes leave no temporaries


def test_make_predictions_checks_lengths():
    with pytest.raises(ValueError, match="2 items but 1"):
        make_predictions([Item("a", "a", "eng", 0, "test")] * 2, [[1.0]], "test", "s", "p", 0)
