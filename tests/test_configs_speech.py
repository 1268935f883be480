"""Every shipped speech config is parsed and run (2 steps) with tiny local stand-ins.

Pretrained names are replaced by tiny random models of the same family saved in a temporary
folder; SpeechTaxi by the tiny embedded corpus; the GPU trainer by the CPU (bf16 autocast kept).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from speech.fit import main
from tests.helpers.speech_stand_ins import stand_in

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"
SPEECHTAXI = CONFIGS / "speechtaxi.yaml"  # the mission's base: python -m speech.fit -c configs/speechtaxi.yaml
EMBEDDED = CONFIGS / "embedded" / "speech.yaml"
FAMILY = {  # encoder overlay -> tiny family standing in for its pretrained name
    "xlsr": "wav2vec2",
    "mms": "wav2vec2",
    "w2v_bert2": "w2v_bert2",
    "whisper_hf": "whisper",
    "hubert": "hubert",
    "wavlm": "wavlm",
}


GROUPS = ["embedded/speech", "encoder", "mode", "protocol"]  # every folder with files speech.fit takes


def shipped() -> list[Path]:
    return sorted({EMBEDDED, SPEECHTAXI, *(path for group in GROUPS for path in (CONFIGS / group).rglob("*.yaml"))})


@pytest.fixture(scope="module")
def stand_ins(tmp_path_factory):
    """Tiny models per family (built once) and a recognizer-style checkpoint for init_from."""
    folder = tmp_path_factory.mktemp("tiny-models")
    models = {family: stand_in(family) for family in [*sorted(set(FAMILY.values())), "openai-whisper"]}
    from speech.encoders.conv import ConvEncoder

    recognizer = torch.nn.Module()
    recognizer.encoder = ConvEncoder(dim=32, num_blocks=2)
    recognizer.head = torch.nn.Linear(32, 28)
    torch.save({"state_dict": recognizer.state_dict()}, folder / "asr.ckpt")
    models["asr"] = str(folder / "asr.ckpt")
    return models


def plan(config: Path, models: dict) -> list[str]:
    """``-c`` arguments and stand-in overrides that make ``config`` run here in seconds."""
    rel = config.relative_to(CONFIGS)
    tiny_conv = ["--model.encoder.init_args.dim=32", "--model.encoder.init_args.num_blocks=2"]
    if config == EMBEDDED or rel.parts[0] == "embedded":
        args = ["-c", str(EMBEDDED)] + ([] if config == EMBEDDED else ["-c", str(config)])
        if config.stem == "ecapa":
            return args + ["--model.encoder.init_args.channels=[32,32,32,32,64]"]
        if config.stem == "init_from_asr":
            args += [f"--model.init_from={models['asr']}"]
        return args + tiny_conv
    args = ["-c", str(SPEECHTAXI)] + ([] if config == SPEECHTAXI else ["-c", str(config)])
    args += ["--trainer.accelerator=cpu", "--data.num_workers=0"]
    if rel.parts[0] == "protocol":
        return ["-c", str(EMBEDDED), "-c", str(config), *tiny_conv]
    if config.stem == "whisper_openai":
        return args + [f"--model.encoder.init_args.name={models['openai-whisper']}"]
    family = FAMILY.get(config.stem, "wav2vec2")
    return args + [f"--model.encoder.init_args.name_or_path={models[family]}"]


@pytest.mark.parametrize("config", shipped(), ids=lambda p: str(p.relative_to(CONFIGS)))
def test_shipped_config_runs(config, stand_ins, tiny_corpus, tiny_root, tmp_path):
    run = tmp_path / "run"
    args = plan(config, stand_ins) + [
        "--data.source=speech.sources.Embedded",
        f"--data.source.init_args.root={tiny_root}",
        "--data.source.init_args.tiny=true",
        "--data.source.init_args.languages=null",  # the tiny corpus' own; SpeechTaxi's 28 codes are not all embedded
        "--trainer.max_steps=2",
        "--trainer.max_epochs=1",
        "--trainer.limit_val_batches=1",
        "--trainer.enable_progress_bar=false",
        "--trainer.enable_model_summary=false",
        f"--model.cache_dir={tmp_path}/cache",
        "--threads=1",
        f"--run_dir={run}",
    ]
    main(args)
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["record"]["training"]["steps"] == 2 and metrics["splits"]["test"]["overall"]["n"] > 0
    assert (run / "config.yaml").is_file()


def test_every_config_is_planned():
    """A new config file cannot slip past CI: each is mapped to a base and its stand-ins."""
    names = {p.relative_to(CONFIGS).as_posix() for p in shipped()}
    assert "speechtaxi.yaml" in names and "embedded/speech.yaml" in names
    top_level = {p.name for p in CONFIGS.glob("*.yaml")} - {"models.yaml"}  # the model table, not a run config
    assert top_level == {SPEECHTAXI.name}  # a new top-level base needs a plan
    encoders = {p.stem for p in (CONFIGS / "encoder").glob("*.yaml")}
    assert encoders - {"whisper_openai"} == set(FAMILY)
