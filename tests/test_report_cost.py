"""What each system costs: the run record's cost fields from a real run, the recognizer's training
amortised over the cascades sharing it, and the Pareto front, against hand-computed references."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.helpers.report_runs import item_rows, write_run
from tests.helpers.speech_runs import tiny_args
from workbench.report import cost
from workbench.report.cost import pareto_front
from workbench.report.frame import load_runs
from workbench.report.tables import scores
from workbench.runs import read_record


def test_pareto_front_by_hand():
    cost = [10, 20, 30, 15, 30, 40, 40]
    accuracy = [0.5, 0.7, 0.7, 0.4, 0.9, 0.9, 0.95]
    # 30/0.7 loses to 20/0.7 (cheaper, as good); 15/0.4 to 10/0.5; 40/0.9 to 30/0.9
    assert pareto_front(cost, accuracy).tolist() == [True, True, False, False, True, False, True]
    assert pareto_front([5, 5], [0.6, 0.6]).tolist() == [True, True]  # a tie dominates neither


def _with_recognizer(run_dir: Path, digest: str) -> None:
    metrics = json.loads((run_dir / "metrics.json").read_text())
    metrics["record"]["model"]["recognizer"] = {"recognizer": "ctc", "checkpoint_sha256": digest}
    (run_dir / "metrics.json").write_text(json.dumps(metrics))


def test_a_cascade_pays_its_share_of_the_recognizer(tmp_path):
    recognizer = write_run(
        tmp_path / "asr",
        [],
        path="recognizer",
        system="ctc-romanized",
        protocol="all_languages",
        training={"train_seconds": 120.0, "predict_seconds_per_item": 0.02},
    )
    (recognizer / "checkpoints").mkdir()
    (recognizer / "checkpoints" / "best.ckpt").write_bytes(b"weights")
    digest = hashlib.sha256(b"weights").hexdigest()
    rows = item_rows("eng", [True] * 3 + [False]) + item_rows("rus", [True, False, False, False])
    spent = {"device": "cpu (x86_64, 1 threads)", "params_total": 2_000_000, "params_trainable": 1_000_000}
    for source in ("eng", "rus", "deu"):  # three cascade runs read the one recognizer
        run = write_run(
            tmp_path / f"ca-{source}",
            rows,
            path="cascade",
            system="ca-romanized",
            sources=[source],
            training={"train_seconds": 10.0, "predict_seconds_per_item": 0.001, **spent},
        )
        _with_recognizer(run, digest)
    write_run(
        tmp_path / "e2e",
        rows,
        system="e2e-conv",
        sources=["eng"],
        training={"train_seconds": 50.0, "predict_seconds_per_item": 0.005, **spent},
    )
    runs = load_runs(tmp_path)
    lines, figures = cost.section(scores(runs, runs.items), runs.runs, tmp_path)
    table = pd.read_csv(tmp_path / "cost.csv").set_index("system")
    cascade = table.loc["ca-romanized"]
    assert cascade["shared_by"] == 3
    assert cascade["recognizer_seconds"] == pytest.approx(120 / 3)
    assert cascade["total_train_seconds"] == pytest.approx(10 + 120 / 3)
    assert cascade["seconds_per_item"] == pytest.approx(0.001 + 0.02)
    assert table.loc["e2e-conv", "total_train_seconds"] == pytest.approx(50.0)
    # zero-shot accuracy over the targets: eng is the source of one run, rus a target of all
    assert table.loc["e2e-conv", "accuracy"] == pytest.approx(0.25)
    # ca-romanized: targets rus 0.25 (from eng), eng 0.75 (from rus), both (from deu): 0.5 over its runs
    assert cascade["accuracy"] == pytest.approx((0.25 + 0.75 + 0.5) / 3)
    # both cost 50 s a run, the cascade is more accurate: E2E is off the front
    assert table["front"].tolist() == [True, False]
    text = "\n".join(lines)
    assert "## What each system costs" in text and "40 (3)" in text
    assert figures == ["cost_zero_shot.png"] and (tmp_path / "cost_zero_shot.png").is_file()


def test_a_recognizer_another_sweep_trained_is_charged_too(tmp_path):
    """setup_from: the matrix's cascades read the main sweep's recognizers, outside the report's folder;
    the cascade's saved config names the checkpoint, and its digest must be the one it recorded."""
    recognizer = write_run(
        tmp_path / "main" / "setup" / "asr",
        [],
        path="recognizer",
        system="ctc-romanized",
        protocol="all_languages",
        training={"train_seconds": 120.0, "predict_seconds_per_item": 0.02},
    )
    (recognizer / "checkpoints").mkdir()
    checkpoint = recognizer / "checkpoints" / "best.ckpt"
    checkpoint.write_bytes(b"weights")
    rows = item_rows("eng", [True, False]) + item_rows("rus", [True, False])
    report = tmp_path / "matrix"
    for source, digest in (("eng", hashlib.sha256(b"weights").hexdigest()), ("rus", "another recognizer's")):
        run = write_run(
            report / f"ca-{source}",
            rows,
            path="cascade",
            system=f"ca-{source}",
            sources=[source],
            training={"train_seconds": 10.0, "predict_seconds_per_item": 0.001},
        )
        _with_recognizer(run, digest)
        config = {"data": {"recognizer": {"init_args": {"checkpoint": str(checkpoint)}}}}
        (run / "config.yaml").write_text(yaml.safe_dump(config))
    runs = load_runs(report)
    cost.section(scores(runs, runs.items), runs.runs, report)
    table = pd.read_csv(report / "cost.csv").set_index("system")
    assert table.loc["ca-eng", "recognizer_seconds"] == pytest.approx(120.0)
    assert table.loc["ca-eng", "seconds_per_item"] == pytest.approx(0.001 + 0.02)
    assert table.loc["ca-rus", "recognizer_seconds"] == 0  # its recorded digest is not that checkpoint's


def test_a_real_run_records_its_device_parameters_and_latency(tiny_corpus, tiny_root, tmp_path):
    from speech.fit import main

    run_dir = tmp_path / "frozen"
    args = tiny_args(tiny_root, run_dir, "--model.mode=frozen", "--trainer.max_steps=2", "--trainer.logger=false")
    cli = main(args)
    training = read_record(run_dir).training
    encoder = sum(p.numel() for p in cli.model.encoder.parameters())
    assert training.params_total == sum(p.numel() for p in cli.model.parameters())
    assert training.params_trainable == training.params_total - encoder > 0  # the frozen encoder trains nothing
    assert training.device.startswith("cpu (")
    predicted = sum(len(cli.datamodule.eval_items(s)) for s in cli.datamodule.predict_splits)
    assert 0 < training.predict_seconds_per_item < 60 / predicted
    assert np.isfinite(training.train_seconds)
