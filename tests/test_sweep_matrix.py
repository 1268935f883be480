"""The transfer-matrix sweep (configs/sweeps/embedded_matrix.yaml): its grid, and a cut-down run of it
(two sources of the tiny corpus, every system) through the sweep and the report."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from workbench.sweep import load_sweep
from workbench.sweep.__main__ import main as sweep_main

ROOT = Path(__file__).resolve().parents[1]
MATRIX = ROOT / "configs" / "sweeps" / "embedded_matrix.yaml"
EMBEDDED = ("eng", "deu", "spa", "rus", "ell", "hin", "kat", "tha")


def test_matrix_sweep_is_zero_shot_from_every_embedded_language(monkeypatch):
    monkeypatch.chdir(ROOT)
    sweep = load_sweep(MATRIX)
    assert {p.protocol for p in sweep.points} == {"zero_shot"}
    assert {p.seed for p in sweep.points} == {0}
    systems = {p.system for p in sweep.points}
    assert systems == {"e2e-conv", "ca-native", "ca-romanized"}
    for system in systems:
        assert sorted(p.sources for p in sweep.points if p.system == system) == sorted((s,) for s in EMBEDDED)
    # the recognizers are the main comparison's (the same steps, in its folder; none of its other
    # setup steps), and every cascade point reads the one of its script
    main = load_sweep(ROOT / "configs" / "sweeps" / "embedded.yaml")
    assert [s.system for s in sweep.setup] == ["asr-romanized", "asr-native"]
    assert all(step in main.setup for step in sweep.setup)
    shared = sweep.out_dir.parent / "embedded" / "setup"
    for point in sweep.points:
        checkpoint = dict(point.args).get("--data.recognizer.init_args.checkpoint")
        if point.system.startswith("ca-"):
            assert checkpoint == str(shared / f"asr-{point.system[3:]}" / "checkpoints" / "best.ckpt")


@pytest.mark.long
def test_cut_down_matrix_runs_to_heatmaps_and_regression(tiny_root, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    spec = yaml.safe_load(MATRIX.read_text())
    spec["protocols"] = {"zero_shot": [["eng"], ["tha"]]}  # 2 sources of 2 scripts, tested on all 4 tiny languages
    cut = tmp_path / "matrix.yaml"
    cut.write_text(yaml.safe_dump(spec))
    out = tmp_path / "sweep"
    tiny = [
        "--set=--data.source.init_args.tiny=true",
        f"--set=--data.source.init_args.root={tiny_root}",
        "--set=--trainer.max_epochs=1",
        "--set=--trainer.limit_train_batches=2",
        "--set=--trainer.min_steps=0",
    ]
    code = sweep_main(["-c", str(cut), "--out", str(out), *tiny])
    status = json.loads((out / "status.json").read_text())
    assert code == 0, {k: v.get("log_tail", "")[-800:] for k, v in status.items() if v["state"] == "failed"}
    report = out / "report"
    averages = pd.read_csv(report / "transfer_sources.csv").set_index("source")
    assert sorted(averages.index) == ["eng", "tha"]
    gold = ["ca-native:gold", "ca-romanized:gold"]
    assert {"e2e-conv", "ca-native", "ca-romanized", *gold} <= set(averages.columns)
    text = (report / "report.md").read_text()
    assert "### ca-romanized − e2e-conv (points)" in text
    assert "## What explains transfer" in text
    regression = pd.read_csv(report / "transfer_regression.csv")
    assert set(regression["system"]) >= {"e2e-conv", "ca-romanized"}
    assert (report / "transfer_matrix.png").is_file()
    # every run recorded its cost; the cascades share the recognizer of their script
    costs = pd.read_csv(report / "cost.csv").set_index("system")
    assert costs.loc["ca-romanized", "shared_by"] == 2 and costs.loc["ca-romanized", "recognizer_seconds"] > 0
    assert costs.loc["e2e-conv", "params_total"] > 0 and costs["seconds_per_item"].gt(0).all()
