"""Every shipped cascade config is parsed, and run, with tiny stand-ins for pretrained names and tiny data.

Each config file is parsed on its own (over its base); runs stack several overlays so that
every file is run at least once while the suite stays short.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from cascade import fit, fit_asr
from tests.helpers.cascade_testing import tiny_text_classifier, tiny_wav2vec2_ctc, tiny_whisper
from tests.helpers.ct2_testing import ct2_whisper
from workbench.io import read_json
from workbench.runs import RunDir

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
ASR_BASE = CONFIGS / "embedded" / "asr.yaml"
EMBEDDED_BASE = CONFIGS / "embedded" / "cascade.yaml"
SPEECHTAXI_BASE = CONFIGS / "cascade" / "speechtaxi.yaml"
ASR_OVERLAYS = sorted((CONFIGS / "embedded" / "asr").glob("*.yaml"))
EMBEDDED_OVERLAYS = sorted((CONFIGS / "embedded" / "cascade").glob("*.yaml"))
GROUPS = ["cascade", "protocol", "recognizer", "classifier", "text", "train_on"]  # folders with files cascade.fit takes
OVERLAYS = sorted(p for group in GROUPS for p in (CONFIGS / group).rglob("*.yaml") if p != SPEECHTAXI_BASE)
DATA_OVERLAYS = sorted((CONFIGS / "data").glob("*.yaml"))  # their sources: tests/test_real_sources.py

# runs: stacks of overlays (names relative to configs/); together they cover every file
EMBEDDED_RUNS = [
    [],
    ["embedded/cascade/native", "train_on/asr", "protocol/zero_shot"],
    ["embedded/cascade/romanized", "protocol/all_languages"],
    ["recognizer/none"],
]
SPEECHTAXI_RUNS = [
    [],
    ["recognizer/mms", "text/native", "train_on/asr", "protocol/zero_shot", "classifier/mbert"],
    ["recognizer/whisper_detect", "protocol/all_languages", "classifier/glot500"],
    ["recognizer/whisper", "text/romanized", "protocol/in_language"],
    ["recognizer/mms_zeroshot"],
    ["recognizer/faster_whisper"],
]


# run with their own tiny stand-ins (a causal LM, not XLM-R) by tests/test_systems_sweep.py, and (a ViT-MAE
# line of rendered text) by tests/test_pixel_text.py
RUN_ELSEWHERE = ["classifier/qwen_lora", "classifier/qwen_zeroshot", "classifier/pixel_m4"]
# on language adapters that cascade.fit_language_adapters fits first (the sweep's setup step): run by
# tests/test_systems_sweep.py
RUN_ELSEWHERE += ["classifier/madx_xlmr"]
# the embedded sweep's stand-ins (a translator it trains, a tiny ViT-MAE, MAD-X and full fine-tuning on a masked LM it
# pretrains): run by tests/test_sweep_embedded.py
RUN_ELSEWHERE += ["embedded/cascade/translated_standin", "embedded/cascade/pixel_standin"]
RUN_ELSEWHERE += ["embedded/cascade/madx_standin", "embedded/cascade/xlmr_standin"]


def test_every_config_file_is_covered_by_a_run():
    covered = {name for run in EMBEDDED_RUNS + SPEECHTAXI_RUNS + [RUN_ELSEWHERE] for name in run}
    assert {p.relative_to(CONFIGS).with_suffix("").as_posix() for p in EMBEDDED_OVERLAYS + OVERLAYS} == covered
    assert {p.stem for p in ASR_OVERLAYS} == {"native", "romanized"}


@pytest.mark.parametrize(
    "program,base,overlay",
    [(fit_asr, ASR_BASE, p) for p in [None, *ASR_OVERLAYS, *DATA_OVERLAYS, *(CONFIGS / "protocol").glob("*.yaml")]]
    + [(fit, EMBEDDED_BASE, p) for p in [None, *EMBEDDED_OVERLAYS]]
    + [(fit, SPEECHTAXI_BASE, p) for p in [None, *OVERLAYS, *DATA_OVERLAYS]],
    ids=lambda x: x.name if isinstance(x, Path) else getattr(x, "__name__", str(x)),
)
def test_config_parses(program, base, overlay, capsys):
    args = ["-c", str(base)] + (["-c", str(overlay)] if overlay else []) + ["--print_config"]
    with pytest.raises(SystemExit) as done:
        program.main(args)
    assert done.value.code in (0, None)
    printed = yaml.safe_load(capsys.readouterr().out)
    assert "model" in printed and "data" in printed and "trainer" in printed


@pytest.fixture(scope="module")
def stand_ins(tmp_path_factory, tiny_corpus, tiny_root):
    """Tiny models for every pretrained name, and a shared cache."""
    folder = tmp_path_factory.mktemp("stand_ins")
    texts = [i.text for i in tiny_corpus.items] + [i.romanized for i in tiny_corpus.items]
    return {
        "root": str(tiny_root),
        "languages": "[" + ", ".join(tiny_corpus.languages) + "]",
        "whisper": str(tiny_whisper(folder / "whisper.pt")),
        "ct2": str(ct2_whisper(folder / "whisper.pt", folder / "ct2")),
        "w2v": str(tiny_wav2vec2_ctc(folder / "w2v")),
        "xlmr": str(tiny_text_classifier(folder / "xlmr", texts, vocab_size=400)),
        "cache": str(folder / "cache"),
        "folder": folder,
    }


def tiny_data(s: dict) -> list[str]:
    return [
        "--data.source=speech.sources.Embedded",
        f"--data.source.root={s['root']}",
        "--data.source.tiny=true",
        f"--data.source.languages={s['languages']}",
    ]


def tiny_trainer(run_dir: Path) -> list[str]:
    return [
        "--trainer.accelerator=cpu",
        "--trainer.precision=32",
        "--trainer.max_steps=2",
        "--trainer.limit_val_batches=1",
        f"--run_dir={run_dir}",
    ]


def config_args(base: Path, folder: Path, names: list[str]) -> list[str]:
    args = ["-c", str(base)]
    for name in names:
        args += ["-c", str(folder / f"{name}.yaml")]
    return args


def merged_data(paths: list[str]) -> dict:
    data: dict = {}
    for path in paths[1::2]:
        data.update((yaml.safe_load(Path(path).read_text()) or {}).get("data", {}))
    return data


@pytest.fixture(scope="module")
def asr_checkpoints(stand_ins):
    """Run configs/embedded/asr.yaml with each overlay; return {target: checkpoint}."""
    out = {}
    for overlay in ("romanized", "native"):
        run_dir = stand_ins["folder"] / f"asr-{overlay}"
        args = config_args(ASR_BASE, ASR_BASE.parent / "asr", [overlay]) + tiny_data(stand_ins)
        args += ["--model.encoder.init_args.dim=32", "--model.encoder.init_args.num_blocks=1"]
        fit_asr.main(args + tiny_trainer(run_dir))
        metrics = read_json(run_dir / "metrics.json")
        assert metrics["record"]["model"]["script"] == overlay and metrics["sections"]["asr"]["test"]["per_language"]
        out[overlay] = str(RunDir(run_dir).best_checkpoint())
    return out


def check_run(run_dir: Path, text: str) -> dict:
    metrics = read_json(run_dir / "metrics.json")
    assert metrics["record"]["system"] == f"ca-{text}"
    for split, scores in metrics["splits"].items():
        assert metrics["sections"]["gold_text"]["splits"][split]["per_language"].keys() == scores["per_language"].keys()
    rows = (run_dir / "predictions.jsonl").read_text().splitlines()
    assert rows and '"transcript"' in rows[0]
    return metrics


@pytest.mark.parametrize("names", EMBEDDED_RUNS, ids=lambda n: "+".join(n) or "base")
def test_embedded_cascade_runs(names, stand_ins, asr_checkpoints, tmp_path):
    args = config_args(EMBEDDED_BASE, CONFIGS, names)
    data = {**yaml.safe_load(EMBEDDED_BASE.read_text())["data"], **merged_data(args)}
    text = data.get("script", "romanized")
    args += tiny_data(stand_ins) + [
        "--model.model.init_args.num_buckets=4096",
        f"--data.cache_dir={stand_ins['cache']}",
    ]
    if data.get("recognizer"):
        args.append(f"--data.recognizer.init_args.checkpoint={asr_checkpoints[text]}")
    fit.main(args + tiny_trainer(tmp_path / "run"))
    metrics = check_run(tmp_path / "run", text)
    assert bool(metrics["sections"]["asr"]) == bool(data.get("recognizer"))


@pytest.mark.parametrize("names", SPEECHTAXI_RUNS, ids=lambda n: "+".join(n) or "base")
def test_speechtaxi_cascade_runs(names, stand_ins, tmp_path):
    args = config_args(SPEECHTAXI_BASE, CONFIGS, names)
    recognizer = merged_data(args).get("recognizer", {}).get("class_path", "WhisperRecognizer")
    text = merged_data(args).get("script", "romanized")
    args += tiny_data(stand_ins) + [
        f"--model.model.init_args.model={stand_ins['xlmr']}",
        f"--data.cache_dir={stand_ins['cache']}",
        "--data.protocol.eval_splits=[test]",
        "--data.recognizer.init_args.device=cpu",
    ]
    if recognizer.endswith("HFCTCRecognizer"):
        args.append(f"--data.recognizer.init_args.model={stand_ins['w2v']}")
    elif recognizer.endswith("FasterWhisperRecognizer"):
        args += [f"--data.recognizer.init_args.model={stand_ins['ct2']}", "--data.recognizer.init_args.sample_len=3"]
    else:
        args += [
            f"--data.recognizer.init_args.model={stand_ins['whisper']}",
            "--data.recognizer.init_args.sample_len=3",
            "--data.recognizer.init_args.fp16=false",
        ]
    fit.main(args + tiny_trainer(tmp_path / "run"))
    metrics = check_run(tmp_path / "run", text)
    assert set(metrics["sections"]["asr"]["test"]["per_language"]) == set(metrics["splits"]["test"]["per_language"])
