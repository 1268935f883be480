"""The new systems of issue 30 through one sweep (each point its program in a subprocess, then one report) on
tiny random stand-ins built from the real config classes: the native cascade beside translate-test (whose gold
text translated to English is a rung of the report's headroom ladder), the LLM classifier, zero-shot and LoRA,
MAD-X (language adapters fitted in the sweep's setup, a task adapter on the same tiny XLM-R that ca-native
fine-tunes whole: MAD-X vs full fine-tuning in the zero-shot protocol), the speech-LLM (``speech.speech_llm``)
and the generative VLM (``vision.fit_vlm``: Qwen2-VL, and Centurio's overlay on a local replica of its remote
code), zero-shot. One sweep, so that the report is built once."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml

from tests.helpers.centurio_replica import save_centurio_replica
from tests.helpers.language_adapter_testing import tiny_xlmr_mlm
from tests.helpers.speech_llm_fixtures import save_tiny_qwen2_audio
from tests.helpers.text_systems_testing import tiny_cascade_args, tiny_causal_lm, tiny_nllb, tiny_translator_args
from tests.helpers.vlm_fixtures import save_tiny_qwen2_vl
from workbench.io import read_jsonl
from workbench.predictor import load_run
from workbench.sweep.__main__ import main as sweep_main

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"  # absolute: the sweep's points run wherever pytest was started
CASCADE = [str(CONFIGS / name) for name in ("cascade/speechtaxi.yaml", "recognizer/mms.yaml", "text/native.yaml")]
SPEECH_LLM = CONFIGS / "speech_llm" / "qwen2_audio.yaml"
VLM = CONFIGS / "vision" / "qwen2_vl.yaml"
CENTURIO = CONFIGS / "vision" / "centurio.yaml"  # an overlay on VLM: Centurio's remote code, opted in
# every point: on CPU in float32, 2 training steps, one validation batch
TINY_TRAINER = ["--trainer.accelerator=cpu", "--trainer.precision=32-true", "--trainer.max_steps=2",
                "--trainer.limit_val_batches=1"]  # fmt: skip


def speech_llm_system(folder: Path, root: Path) -> dict:
    """The speech-LLM zero-shot on a tiny random Qwen2-Audio, on the tiny corpus (built: no language left out)."""
    model = yaml.safe_load(SPEECH_LLM.read_text(encoding="utf-8"))["model"]
    stand_in = save_tiny_qwen2_audio(folder / "qwen2_audio", [*model["answers"], model["question"]])
    args = {"--model.model_id": str(stand_in), "--model.dtype": "float32", "--fit": "false",
            "--data.source.init_args.root": str(root), "--data.source.init_args.tiny": "true",
            "--data.num_workers": "0"}  # fmt: skip
    return {"program": "speech.speech_llm", "configs": [str(SPEECH_LLM)], "args": args}


def vlm_system(folder: Path, root: Path, centurio: bool = False) -> dict:
    """The generative VLM zero-shot on the tiny text images in English and Russian: a tiny random Qwen2-VL, or
    (``centurio``) the local replica of Centurio in the hub layout through its overlay, its remote code opted in."""
    model = yaml.safe_load(VLM.read_text(encoding="utf-8"))["model"]
    texts = [n for names in model["answers"].values() for n in names] + list(model["prompts"]["texts"].values())
    save = save_centurio_replica if centurio else save_tiny_qwen2_vl
    stand_in = save(folder / ("centurio_qwen" if centurio else "qwen2_vl"), texts * 4)
    args = {"--model.model_id": str(stand_in), "--model.dtype": "float32", "--model.image_size": "56",
            "--fit": "false", "--data.source.init_args.root": str(root), "--data.source.init_args.tiny": "true",
            "--data.source.init_args.languages": "[eng, rus]", "--data.num_workers": "0"}  # fmt: skip
    if centurio:  # named, or both VLMs would be vlm-zeroshot-native: one system of two seeds to the report
        return {"program": "vision.fit_vlm", "configs": [str(VLM), str(CENTURIO)],
                "args": {**args, "--model.system": "vlm-centurio-zeroshot"}}  # fmt: skip
    return {"program": "vision.fit_vlm", "configs": [str(VLM)], "args": args}


@pytest.fixture(scope="module")
def swept(tiny_corpus, tiny_root, tmp_path_factory):
    """One sweep: ca-native, ca-translated, ca-llm-zeroshot, ca-llm-lora, ca-madx, speechllm-zeroshot and the VLM
    zero-shot, zero-shot from English, seed 0."""
    folder = tmp_path_factory.mktemp("systems")
    texts = [i.text for i in tiny_corpus.items]
    translator = tiny_translator_args(tiny_nllb(folder / "nllb", texts))
    lm = {"--model.model.init_args.model": str(tiny_causal_lm(folder / "qwen2", texts + tiny_corpus.label_names))}
    lm["--model.model.init_args.dtype"] = "float32"
    # the cascades and the setup's language adapters: the tiny corpus (data); the cascades alone: the recognizer,
    # its cache and the text classifier (cascade), by system where it differs
    data, cascade = {}, {}
    for arg in tiny_cascade_args(tiny_corpus, tiny_root, folder):
        key, value = arg.split("=", 1)
        if key.startswith(("--model.", "--data.recognizer.", "--data.cache_dir")):
            cascade[key] = value
        elif not key.startswith("--trainer."):
            data[key] = value
    # one tiny XLM-R (a masked LM, as the hub's): fine-tuned whole by ca-native, beneath adapters by ca-madx
    xlmr = str(tiny_xlmr_mlm(folder / "xlmr-mlm", [*texts, "ф е ж"]))
    cascade["--model.model.init_args.model"] = xlmr
    cascade = {**data, **cascade}
    llm = {mode: [*CASCADE, str(CONFIGS / "classifier" / f"qwen_{mode}.yaml")] for mode in ("zeroshot", "lora")}
    sweep = {
        "name": "systems",
        "out_dir": str(folder / "sweep"),
        "workers": 2,
        "setup": [
            {
                "name": "language-adapters",
                "program": "cascade.fit_language_adapters",
                "configs": [str(CONFIGS / "language_adapters" / "xlmr.yaml")],
                # a rate that moves LoRA's B (zero at the start) in 2 steps: each language's adapter then differs
                "args": {**data, "--model.model": xlmr, "--trainer.val_check_interval": 1, "--model.optim.lr": 0.03},
            }
        ],
        "systems": {
            "ca-native": {"program": "cascade.fit", "configs": CASCADE, "args": cascade},
            "ca-translated": {
                "program": "cascade.fit",
                "configs": [*CASCADE, str(CONFIGS / "translator" / "nllb.yaml")],
                "args": {**cascade, **dict(arg.split("=", 1) for arg in translator)},
            },
            "ca-llm-zeroshot": {"program": "cascade.fit", "configs": llm["zeroshot"], "args": {**cascade, **lm}},
            "ca-llm-lora": {"program": "cascade.fit", "configs": llm["lora"], "args": {**cascade, **lm}},
            "ca-madx": {
                "program": "cascade.fit",
                "configs": [*CASCADE, str(CONFIGS / "classifier" / "madx_xlmr.yaml")],
                "args": {
                    **cascade,
                    "--model.model.init_args.adapters": "${sweep_dir}/setup/language-adapters/language_adapters",
                },
            },
            "speechllm-zeroshot": speech_llm_system(folder, tiny_root),
            "vlm-zeroshot-native": vlm_system(folder, tiny_root),
            "vlm-centurio-zeroshot": vlm_system(folder, tiny_root, centurio=True),
        },
        "protocols": {"zero_shot": [["eng"]]},
        "seeds": [0],
    }
    path = folder / "sweep.yaml"
    path.write_text(yaml.safe_dump(sweep))
    code = sweep_main(["-c", str(path), *[f"--set={arg}" for arg in TINY_TRAINER]])
    status = json.loads((folder / "sweep" / "status.json").read_text())
    assert code == 0, {k: v.get("log_tail", "")[-1500:] for k, v in status.items() if v["state"] == "failed"}
    return folder / "sweep"


def metrics(swept: Path, system: str) -> dict:
    return json.loads((swept / "runs" / system / "zero_shot-eng" / "seed0" / "metrics.json").read_text())


def test_every_system_ran_and_is_in_the_report(swept, tiny_corpus):
    with (swept / "report" / "table_test.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    systems = {row["system"] for row in rows}
    # the VLM: image rows of the table (the report draws a ladder only where a modality has a cascade)
    for vlm in ("vlm-zeroshot-native", "vlm-centurio-zeroshot"):
        assert {row["modality"] for row in rows if row["system"] == vlm} == {"image"}
    assert {"ca-native", "ca-native:gold", "ca-translated", "ca-translated:gold"} <= systems
    assert {"ca-llm-zeroshot", "ca-llm-zeroshot:gold", "ca-llm-lora", "ca-llm-lora:gold"} <= systems
    assert {"ca-madx", "ca-madx:gold", "speechllm-zeroshot", "vlm-zeroshot-native"} <= systems
    for mode, steps in (("zeroshot", 0), ("lora", 2)):  # classifier/qwen_{zeroshot,lora}.yaml through cascade.fit
        llm = metrics(swept, f"ca-llm-{mode}")
        record = llm["record"]
        assert record["system"] == f"ca-llm-{mode}" and record["model"]["classifier"] == "LLMClassifier"
        assert record["training"]["steps"] == steps
        assert set(llm["sections"]["gold_text"]["splits"]["test"]["per_language"]) == set(tiny_corpus.languages)
    speech_llm, vlm = metrics(swept, "speechllm-zeroshot")["record"], metrics(swept, "vlm-zeroshot-native")["record"]
    assert (speech_llm["path"], speech_llm["modality"], speech_llm["model"]["mode"]) == ("e2e", "speech", "zeroshot")
    assert (vlm["path"], vlm["modality"], vlm["model"]["family"]) == ("e2e", "image", "vlm")
    # through its overlay, whose opt-in lets the replica's remote code load (refused without: test_centurio.py)
    centurio = metrics(swept, "vlm-centurio-zeroshot")["record"]
    assert centurio["model"]["family"] == "vlm" and centurio["model"]["name"].endswith("centurio_qwen")
    report = (swept / "report" / "report.md").read_text(encoding="utf-8")
    assert "speechllm-zeroshot" in report and "vlm-zeroshot-native" in report


def test_the_ladder_gains_the_rung_gold_text_translated(swept):
    with (swept / "report" / "ladder_test.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    speech = [row for row in rows if row["modality"] == "speech" and row["language"] == "rus"]
    order = [row["system"] for row in sorted(speech, key=lambda r: int(r["rung"]))]
    # gold rungs first, native text (the LLMs and MAD-X read it too) before translated; then the cascades, same
    # order; the speech-LLM (end to end) last
    cascades = ["ca-llm-lora", "ca-llm-zeroshot", "ca-madx", "ca-native", "ca-translated"]
    assert order == [f"{c}:gold" for c in cascades] + cascades + ["speechllm-zeroshot"]
    gold = metrics(swept, "ca-translated")
    rung = next(r for r in rows if r["system"] == "ca-translated:gold" and r["language"] == "rus")
    expected = gold["sections"]["gold_text"]["splits"]["test"]["per_language"]["rus"]["accuracy"]
    assert float(rung["accuracy"]) == pytest.approx(expected, abs=1e-4)
    assert "ca-translated:gold" in (swept / "report" / "report.md").read_text()


def test_madx_stacks_the_setups_language_adapters_under_its_task_adapter(swept, tiny_corpus):
    """configs/classifier/madx_xlmr.yaml through cascade.fit, zero-shot from English: trained under eng's adapter,
    each test language under its own, and loaded back as the demo loads it."""
    madx = metrics(swept, "ca-madx")
    model = madx["record"]["model"]
    assert model["classifier"] == "LanguageAdapterClassifier" and madx["record"]["training"]["steps"] == 2
    assert model["classifier_parts"]["adapters"].endswith("setup/language-adapters/language_adapters")
    tested = set(madx["sections"]["gold_text"]["splits"]["test"]["per_language"])
    assert tested <= set(model["classifier_parts"]["languages"])  # every test language under its own adapter
    scores = json.loads((swept / "setup" / "language-adapters" / "language_adapters" / "dev_scores.json").read_text())
    assert set(scores) == set(model["classifier_parts"]["languages"]) == set(tiny_corpus.languages)
    assert tested == set(tiny_corpus.languages) and model["script"] == "native"
    # the demo's path: the run loaded back classifies a transcript in its item's language as the run did
    run = swept / "runs" / "ca-madx" / "zero_shot-eng" / "seed0"
    predictor = load_run(run)
    rows = {row["language"]: row for row in read_jsonl(run / "predictions.jsonl")}
    for language, row in sorted(rows.items()):
        assert predictor.classify([row["transcript"]], [language])[0] == pytest.approx(row["probs"], abs=1e-4)
