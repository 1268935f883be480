"""The text systems of issue 30 through the sweep (each point its program in a subprocess, then the report) on
tiny random stand-ins built from the real config classes: the native cascade beside translate-test, whose
gold text translated to English is a rung of the report's headroom ladder."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml
from text_systems_testing import tiny_cascade_args, tiny_nllb, tiny_translator_args

from workbench.sweep.__main__ import main as sweep_main

ROOT = Path(__file__).resolve().parents[1]
CASCADE = ["configs/cascade/speechtaxi.yaml", "configs/recognizer/mms.yaml", "configs/text/native.yaml"]


@pytest.fixture(scope="module")
def swept(tiny_corpus, tiny_root, tmp_path_factory):
    """One sweep: ca-native and ca-translated, zero-shot from English, seed 0; returns its folder."""
    folder = tmp_path_factory.mktemp("text_systems")
    translator = tiny_translator_args(tiny_nllb(folder / "nllb", [i.text for i in tiny_corpus.items]))
    sweep = {
        "name": "text_systems",
        "out_dir": str(folder / "sweep"),
        "workers": 2,
        "systems": {
            "ca-native": {"program": "cascade.fit", "configs": CASCADE},
            "ca-translated": {
                "program": "cascade.fit",
                "configs": [*CASCADE, "configs/translator/nllb.yaml"],
                "args": dict(arg.split("=", 1) for arg in translator),
            },
        },
        "protocols": {"zero_shot": [["eng"]]},
        "seeds": [0],
    }
    path = folder / "sweep.yaml"
    path.write_text(yaml.safe_dump(sweep))
    common = tiny_cascade_args(tiny_corpus, tiny_root, folder)
    code = sweep_main(["-c", str(path), *[f"--set={arg}" for arg in common]])
    status = json.loads((folder / "sweep" / "status.json").read_text())
    assert code == 0, {k: v.get("log_tail", "")[-1500:] for k, v in status.items() if v["state"] == "failed"}
    return folder / "sweep"


def test_every_system_ran_and_is_in_the_report(swept):
    with (swept / "report" / "table_test.csv").open() as handle:
        systems = {row["system"] for row in csv.DictReader(handle)}
    assert {"ca-native", "ca-native:gold", "ca-translated", "ca-translated:gold"} <= systems


def test_the_ladder_gains_the_rung_gold_text_translated(swept):
    with (swept / "report" / "ladder_test.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    order = [row["system"] for row in sorted(rows, key=lambda r: int(r["rung"])) if row["language"] == "rus"]
    # gold rungs first, native before translated; then the cascades on recognized text in the same order
    assert order == ["ca-native:gold", "ca-translated:gold", "ca-native", "ca-translated"]
    gold = json.loads((swept / "runs" / "ca-translated" / "zero_shot-eng" / "seed0" / "metrics.json").read_text())
    rung = next(r for r in rows if r["system"] == "ca-translated:gold" and r["language"] == "rus")
    expected = gold["gold_text"]["splits"]["test"]["per_language"]["rus"]["accuracy"]
    assert float(rung["accuracy"]) == pytest.approx(expected, abs=1e-4)
    assert "ca-translated:gold" in (swept / "report" / "report.md").read_text()
