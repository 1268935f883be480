"""The text systems of issue 30 through the sweep (each point its program in a subprocess, then the report) on
tiny random stand-ins built from the real config classes: the native cascade beside translate-test (whose gold
text translated to English is a rung of the report's headroom ladder), the LLM classifier, zero-shot and LoRA,
and MAD-X (language adapters fitted in the sweep's setup, a task adapter on the same tiny XLM-R that ca-native
fine-tunes whole: MAD-X vs full fine-tuning in the zero-shot protocol)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml

from tests.helpers.language_adapter_testing import tiny_xlmr_mlm
from tests.helpers.text_systems_testing import tiny_cascade_args, tiny_causal_lm, tiny_nllb, tiny_translator_args
from workbench.sweep.__main__ import main as sweep_main

ROOT = Path(__file__).resolve().parents[1]
# four runs of cascade.fit, each a subprocess, as tests/test_sweep_embedded.py's end-to-end sweep
pytestmark = pytest.mark.long
CONFIGS = ROOT / "configs"  # absolute: the sweep's points run wherever pytest was started
CASCADE = [str(CONFIGS / name) for name in ("cascade/speechtaxi.yaml", "recognizer/mms.yaml", "text/native.yaml")]


@pytest.fixture(scope="module")
def swept(tiny_corpus, tiny_root, tmp_path_factory):
    """One sweep: ca-native, ca-translated, ca-llm-zeroshot, ca-llm-lora and ca-madx, zero-shot from English, seed 0."""
    folder = tmp_path_factory.mktemp("text_systems")
    texts = [i.text for i in tiny_corpus.items]
    translator = tiny_translator_args(tiny_nllb(folder / "nllb", texts))
    lm = {"--model.model.init_args.model": str(tiny_causal_lm(folder / "qwen2", texts + tiny_corpus.label_names))}
    lm["--model.model.init_args.dtype"] = "float32"
    # every run, the setup's language adapters too: the tiny corpus and trainer (--set); every cascade point: the
    # recognizer, its cache and the text classifier (args), by system where it differs
    common, cascade = [], {}
    for arg in tiny_cascade_args(tiny_corpus, tiny_root, folder):
        key, value = arg.split("=", 1)
        if key.startswith(("--model.", "--data.recognizer.", "--data.cache_dir")):
            cascade[key] = value
        else:
            common.append(arg)
    # one tiny XLM-R (a masked LM, as the hub's): fine-tuned whole by ca-native, beneath adapters by ca-madx
    xlmr = str(tiny_xlmr_mlm(folder / "xlmr-mlm", [*texts, "ф е ж"]))
    cascade["--model.model.init_args.model"] = xlmr
    llm = {mode: [*CASCADE, str(CONFIGS / "classifier" / f"qwen_{mode}.yaml")] for mode in ("zeroshot", "lora")}
    sweep = {
        "name": "text_systems",
        "out_dir": str(folder / "sweep"),
        "workers": 2,
        "args": cascade,
        "setup": [
            {
                "name": "language-adapters",
                "program": "cascade.fit_language_adapters",
                "configs": [str(CONFIGS / "language_adapters" / "xlmr.yaml")],
                "args": {"--model.model": xlmr, "--trainer.val_check_interval": 1},
            }
        ],
        "systems": {
            "ca-native": {"program": "cascade.fit", "configs": CASCADE},
            "ca-translated": {
                "program": "cascade.fit",
                "configs": [*CASCADE, str(CONFIGS / "translator" / "nllb.yaml")],
                "args": dict(arg.split("=", 1) for arg in translator),
            },
            "ca-llm-zeroshot": {"program": "cascade.fit", "configs": llm["zeroshot"], "args": lm},
            "ca-llm-lora": {"program": "cascade.fit", "configs": llm["lora"], "args": lm},
            "ca-madx": {
                "program": "cascade.fit",
                "configs": [*CASCADE, str(CONFIGS / "classifier" / "madx_xlmr.yaml")],
                "args": {"--model.model.init_args.adapters": "${sweep_dir}/setup/language-adapters/language_adapters"},
            },
        },
        "protocols": {"zero_shot": [["eng"]]},
        "seeds": [0],
    }
    path = folder / "sweep.yaml"
    path.write_text(yaml.safe_dump(sweep))
    code = sweep_main(["-c", str(path), *[f"--set={arg}" for arg in common]])
    status = json.loads((folder / "sweep" / "status.json").read_text())
    assert code == 0, {k: v.get("log_tail", "")[-1500:] for k, v in status.items() if v["state"] == "failed"}
    return folder / "sweep"


def test_every_system_ran_and_is_in_the_report(swept):
    with (swept / "report" / "table_test.csv").open() as handle:
        systems = {row["system"] for row in csv.DictReader(handle)}
    assert {"ca-native", "ca-native:gold", "ca-translated", "ca-translated:gold"} <= systems
    assert {"ca-llm-zeroshot", "ca-llm-zeroshot:gold", "ca-llm-lora", "ca-llm-lora:gold"} <= systems
    assert {"ca-madx", "ca-madx:gold"} <= systems
    lora = json.loads((swept / "runs" / "ca-llm-lora" / "zero_shot-eng" / "seed0" / "metrics.json").read_text())
    assert lora["record"]["model"]["classifier"] == "LLMClassifier" and lora["record"]["training"]["steps"] == 2


def test_the_ladder_gains_the_rung_gold_text_translated(swept):
    with (swept / "report" / "ladder_test.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    order = [row["system"] for row in sorted(rows, key=lambda r: int(r["rung"])) if row["language"] == "rus"]
    # gold rungs first, native text (the LLMs and MAD-X read it too) before translated; then the cascades, same order
    cascades = ["ca-llm-lora", "ca-llm-zeroshot", "ca-madx", "ca-native", "ca-translated"]
    assert order == [f"{c}:gold" for c in cascades] + cascades
    gold = json.loads((swept / "runs" / "ca-translated" / "zero_shot-eng" / "seed0" / "metrics.json").read_text())
    rung = next(r for r in rows if r["system"] == "ca-translated:gold" and r["language"] == "rus")
    expected = gold["sections"]["gold_text"]["splits"]["test"]["per_language"]["rus"]["accuracy"]
    assert float(rung["accuracy"]) == pytest.approx(expected, abs=1e-4)
    assert "ca-translated:gold" in (swept / "report" / "report.md").read_text()


def test_madx_stacks_the_setups_language_adapters_under_its_task_adapter(swept):
    madx = json.loads((swept / "runs" / "ca-madx" / "zero_shot-eng" / "seed0" / "metrics.json").read_text())
    model = madx["record"]["model"]
    assert model["classifier"] == "LanguageAdapterClassifier" and madx["record"]["training"]["steps"] == 2
    assert model["classifier_parts"]["adapters"].endswith("setup/language-adapters/language_adapters")
    tested = set(madx["sections"]["gold_text"]["splits"]["test"]["per_language"])
    assert tested <= set(model["classifier_parts"]["languages"])  # every test language under its own adapter
    scores = json.loads((swept / "setup" / "language-adapters" / "language_adapters" / "dev_scores.json").read_text())
    assert set(scores) == set(model["classifier_parts"]["languages"])
