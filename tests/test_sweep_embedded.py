"""The shipped sweep files, parsed and (embedded) run end to end on the tiny corpus: E2E, both cascades and the
stand-ins of issue 30 (with the setup steps they read, the language adapters after the masked LM)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml

from workbench.sweep import load_sweep
from workbench.sweep.__main__ import main as sweep_main

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", ["embedded", "speechtaxi"])
def test_shipped_sweeps_expand(name, monkeypatch):
    monkeypatch.chdir(ROOT)  # sweep files name configs relative to the repository root
    sweep = load_sweep(ROOT / "configs" / "sweeps" / f"{name}.yaml")
    systems = {p.system for p in sweep.points}
    assert any(s.startswith("e2e") for s in systems)
    for script in ("native", "romanized"):  # both cascades, whatever their recognizer and classifier
        assert any(s.startswith("ca-") and script in s for s in systems), script
    assert {p.protocol for p in sweep.points} == {"in_language", "zero_shot", "all_languages"}
    assert len({p.seed for p in sweep.points}) >= 2
    for point in sweep.setup + sweep.points:
        for config in point.configs:
            assert (ROOT / config).is_file(), config


@pytest.mark.slow
def test_embedded_sweep_runs_end_to_end_on_tiny_data(tiny_corpus, tiny_root, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    out = tmp_path / "sweep"
    tiny = [
        "--set=--data.source.init_args.tiny=true",
        f"--set=--data.source.init_args.root={tiny_root}",
        "--set=--trainer.max_epochs=1",
        "--set=--trainer.limit_train_batches=2",
    ]
    code = sweep_main(["-c", "configs/sweeps/embedded.yaml", "--out", str(out), "--only", "zero_shot-eng/seed0", *tiny])
    status = json.loads((out / "status.json").read_text())
    assert code == 0, {k: v.get("log_tail", "")[-800:] for k, v in status.items() if v["state"] == "failed"}
    assert {k for k, v in status.items() if v["state"] == "done"} >= {
        "setup/asr-romanized",
        "setup/asr-native",
        "e2e-conv/zero_shot-eng/seed0",
        "ca-native/zero_shot-eng/seed0",
        "ca-romanized/zero_shot-eng/seed0",
        "setup/translator",
        "ca-translated-standin/zero_shot-eng/seed0",
        "ca-pixel-standin/zero_shot-eng/seed0",
        "setup/masked-lm",
        "setup/language-adapters",
        "ca-madx-standin/zero_shot-eng/seed0",
        "ca-xlmr-standin/zero_shot-eng/seed0",
    }
    with (out / "report" / "table_test.csv").open() as handle:
        systems = {row["system"] for row in csv.DictReader(handle)}
    assert {"e2e-conv", "ca-native", "ca-romanized", "ca-romanized:gold", "hybrid:e2e-conv+ca-romanized"} <= systems
    significance = (out / "report" / "significance_test.csv").read_text()
    assert "e2e-conv,ca-romanized" in significance
    assert (out / "report" / "heatmap_e2e-conv.png").is_file()
    # issue 30's stand-ins trained here: in the ladder under their -standin names, translate-test last of the
    # cascades (its gold rung the gold text translated by the translator the sweep trained), with the report's note
    with (out / "report" / "ladder_test.csv").open() as handle:
        rungs = [row for row in csv.DictReader(handle) if row["protocol"].startswith("zero_shot")]
    order = [r["system"] for r in sorted(rungs, key=lambda r: int(r["rung"])) if r["language"] == "rus"]
    cascades = ["ca-madx-standin", "ca-native", "ca-pixel-standin", "ca-xlmr-standin", "ca-romanized"]
    cascades += ["ca-translated-standin"]
    assert order == [f"{c}:gold" for c in cascades] + cascades + ["e2e-conv"]
    translated = json.loads((out / "runs/ca-translated-standin/zero_shot-eng/seed0/metrics.json").read_text())
    assert translated["record"]["model"]["translator"]["weights_sha256"]
    assert (out / "setup/translator/translator/model.safetensors").is_file()
    # MAD-X vs full fine-tuning on the same stand-in masked LM the sweep pretrained, MAD-X under its adapters
    for system in ("ca-madx-standin", "ca-xlmr-standin"):
        config = yaml.safe_load((out / f"runs/{system}/zero_shot-eng/seed0/config.yaml").read_text())
        assert config["model"]["model"]["init_args"]["model"] == str(out / "setup/masked-lm/masked_lm")
    madx = json.loads((out / "runs/ca-madx-standin/zero_shot-eng/seed0/metrics.json").read_text())["record"]
    adapters = madx["model"]["classifier_parts"]
    assert adapters["adapters"] == str(out / "setup/language-adapters/language_adapters")
    assert adapters["languages"] == sorted(tiny_corpus.languages)
    assert "are STAND-INS trained here" in (out / "report" / "report.md").read_text()
