"""The SpeechTaxi sweep covers the paper's grid, and its dry run prints the points and estimated GPU hours."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from workbench.model_table import load_table, published_count
from workbench.sweep import load_sweep
from workbench.sweep.__main__ import main as sweep_main
from workbench.sweep.estimate import get, model_cost, point_cost, resolved

REPO = Path(__file__).resolve().parents[1]
SWEEP = REPO / "configs" / "sweeps" / "speechtaxi.yaml"


def dry_run(capsys, *args: str) -> str:
    assert sweep_main(["-c", str(SWEEP), "--dry-run", *args]) == 0
    return capsys.readouterr().out


def test_dry_run_prints_the_grid_its_points_and_gpu_hours(capsys, monkeypatch):
    monkeypatch.chdir(REPO)  # the sweep file names configs relative to the repository, as typed
    spec = yaml.safe_load(SWEEP.read_text())
    product = len(spec["systems"]) * sum(len(sets) for sets in spec["protocols"].values()) * len(spec["seeds"])
    out = dry_run(capsys)
    assert len(re.findall(r"^\[todo\] ", out, re.M)) == product
    assert re.search(rf"^{product} points \(0 setup steps\)$", out, re.M)
    for system in spec["systems"]:
        line = re.search(rf"^  {re.escape(system)}: (\d+) points, ([0-9.]+) GPU h", out, re.M)
        assert line, f"{system} has no estimate in:\n{out[-3000:]}"
        assert int(line[1]) == product // len(spec["systems"]) and float(line[2]) > 0
    assert re.search(r"^estimated GPU hours: [1-9][0-9]* on H100s at \d+% MFU$", out, re.M)
    for recognizer in ("large-v3", "facebook/mms-1b-all", "mms-meta/mms-zeroshot-300m"):
        assert f"recognition by {recognizer} (once" in out


def test_the_grid_is_the_papers(monkeypatch):
    """E2E over XLS-R, MMS, w2v-BERT 2.0 and Whisper's encoder; cascades over Whisper and MMS-1b-all, native and
    romanized, and mms-zeroshot; XLM-R and Glot500; every language in-language, several zero-shot sources, joint."""
    monkeypatch.chdir(REPO)
    sweep = load_sweep(SWEEP)
    encoders, cascades = set(), set()
    for point in sweep.points:
        config = resolved(point)
        if point.program == "speech.fit":
            encoders.add(get(config, "model.encoder.init_args.name_or_path"))
        else:
            recognizer, classifier = (
                get(config, "data.recognizer.init_args.model"),
                get(config, "model.model.init_args.model"),
            )
            cascades.add((recognizer, get(config, "data.script"), classifier))
    assert encoders == {
        "facebook/wav2vec2-xls-r-300m",
        "facebook/mms-300m",
        "facebook/w2v-bert-2.0",
        "openai/whisper-small",
    }
    classifiers = {"FacebookAI/xlm-roberta-base", "cis-lmu/glot500-base"}
    expected = {
        (r, s, c) for r in ("large-v3", "facebook/mms-1b-all") for s in ("native", "romanized") for c in classifiers
    }
    assert cascades == expected | {("mms-meta/mms-zeroshot-300m", "romanized", c) for c in classifiers}
    languages = get(resolved(sweep.points[0]), "data.source.init_args.languages")
    in_language = {p.sources for p in sweep.points if p.protocol == "in_language"}
    assert in_language == {(lang,) for lang in languages} and len(languages) == 28
    assert len({p.sources for p in sweep.points if p.protocol == "zero_shot"}) >= 3
    assert any(p.protocol == "all_languages" for p in sweep.points)


def test_costs_follow_the_work(monkeypatch):
    """More languages or epochs, or full fine-tuning over LoRA, cost more hours; a cascade counts its recognizer."""
    monkeypatch.chdir(REPO)
    points = {(p.system, p.protocol, p.seed): p for p in load_sweep(SWEEP).points if p.sources in (None, ("eng",))}
    one = point_cost(points["e2e-xlsr", "in_language", 0])
    assert point_cost(points["e2e-xlsr", "all_languages", 0]).hours > 10 * (one.hours - 0.05)
    longer = load_sweep(SWEEP, extra_args={"--trainer.max_epochs": 20}).points[0]
    assert point_cost(longer).hours > one.hours
    lora = load_sweep(SWEEP, extra_args={"--model.mode": "lora"}).points[0]
    assert point_cost(lora).hours < one.hours
    assert point_cost(points["ca-mms1b-native-xlmr", "in_language", 0]).recognizer == "facebook/mms-1b-all"


def test_a_system_without_a_cost_is_named(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    spec = yaml.safe_load(SWEEP.read_text())
    spec["systems"]["e2e-new"] = {
        "program": "speech.fit",
        "configs": ["configs/speechtaxi.yaml"],
        "args": {"--model.encoder.init_args.name_or_path": "someone/new-encoder"},
    }
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(spec))
    assert sweep_main(["-c", str(path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert re.search(
        r"^  e2e-new: \d+ points, no GPU-hour estimate: encoder 'someone/new-encoder' has no cost", out, re.M
    )
    assert re.search(
        r"^estimated GPU hours: \d+ on H100s at \d+% MFU \(without 1 systems that have no cost\)$", out, re.M
    )


def test_model_costs_come_from_the_one_model_table():
    # hand-computed: a base-size layer is 4 x 768^2 attention + 2 x 768 x 3072 feed-forward weights
    base_layers = 12 * (4 * 768 * 768 + 2 * 768 * 3072)
    assert base_layers == 84_934_656
    for text in ("FacebookAI/xlm-roberta-base", "cis-lmu/glot500-base"):  # embeddings are lookups, not FLOPs
        assert (model_cost(text).params, model_cost(text).frames) == (base_layers, 0)
    assert model_cost("small").params == model_cost("openai/whisper-small").params == base_layers  # encoder only
    xlsr = load_table()["facebook/wav2vec2-xls-r-300m"]
    assert model_cost("facebook/wav2vec2-xls-r-300m").params == published_count(xlsr["params"])
    assert model_cost("facebook/wav2vec2-xls-r-300m").layers == xlsr["config"]["num_hidden_layers"]
    large = model_cost("large-v3")  # a recognizer: the encoder per frame, the rest of the model per token
    assert large.params + large.decoder == published_count(load_table()["large-v3"]["params"])
    assert model_cost("someone/not-in-the-table") is None
