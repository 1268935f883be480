"""Every shipped vision config is parsed with its real names and run through the CLI with tiny stand-ins."""

from __future__ import annotations

from pathlib import Path

import open_clip
import pytest
import yaml

from tests.helpers.vision_fixtures import save_tiny_checkpoint, save_tiny_image_dataset
from vision.fit import main

REAL = Path("configs/vision/cifar10_xlmr.yaml")
# the VLM program's whole config and its Centurio overlay: run in test_vlm.py and test_centurio.py
VLM = {Path("configs/vision/qwen2_vl.yaml"), Path("configs/vision/centurio.yaml")}
PROTOCOLS = sorted(Path("configs/protocol").glob("*.yaml"))  # shared by every program
REAL_OVERLAYS = sorted(p for p in Path("configs/vision").glob("*.yaml") if p != REAL and p not in VLM) + PROTOCOLS
EMBEDDED = Path("configs/embedded/vision.yaml")
EMBEDDED_OVERLAYS = (
    sorted(Path("configs/embedded/vision").glob("*.yaml")) + PROTOCOLS + [Path("configs/vision/romanized.yaml")]
)
FAST = [
    "--trainer.max_steps", "2",
    "--trainer.limit_val_batches", "1",
    "--trainer.enable_model_summary", "false",
    "--data.batch_size", "16",
    "--data.num_workers", "0",
]  # fmt: skip


@pytest.fixture(scope="module")
def stand_ins(tmp_path_factory):
    root = tmp_path_factory.mktemp("vision-configs")
    return {
        "dataset": save_tiny_image_dataset(root / "cifar", per_split=20),
        "checkpoint": save_tiny_checkpoint(root / "wb-tiny.pt"),
        "root": root,
    }


def test_every_config_is_covered_and_real_names_are_known_to_open_clip():
    assert len(REAL_OVERLAYS) >= 8 and len(EMBEDDED_OVERLAYS) >= 5
    for path in [REAL, *REAL_OVERLAYS]:
        model = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("model", {})
        if "model_name" in model:
            assert model["model_name"] in open_clip.list_models()
            assert model["pretrained"] in open_clip.list_pretrained_tags_by_model(model["model_name"])


def test_print_config_resolves_overlays(capsys):
    with pytest.raises(SystemExit):
        main(
            ["-c", str(REAL), "-c", "configs/vision/nllb.yaml", "-c", "configs/vision/romanized.yaml", "--print_config"]
        )
    config = yaml.safe_load(capsys.readouterr().out)
    assert config["model"]["model_name"] == "nllb-clip-base" and config["model"]["pretrained"] == "v1"
    assert config["data"]["script"] == "romanized"
    assert config["model"]["prompts"]["templates"]["rus"] == "Фотография: {}."  # overlay merges, keeps templates


@pytest.mark.parametrize("overlay", [None, *REAL_OVERLAYS], ids=lambda p: p.stem if p else "base")
def test_real_configs_run_with_tiny_stand_ins(overlay, stand_ins, tmp_path):
    args = ["-c", str(REAL)] + (["-c", str(overlay)] if overlay else [])
    args += [
        "--model.model_name", "wb-tiny",
        "--model.pretrained", str(stand_ins["checkpoint"]),
        "--data.source.init_args.path", str(stand_ins["dataset"]),
        "--data.source.init_args.max_per_split", "10",
        "--data.source.init_args.dev_fraction", "0.2",
        "--data.source.init_args.cache_dir", str(stand_ins["root"] / "cache"),
        "--trainer.accelerator", "cpu",
        "--trainer.precision", "32-true",
        "--threads", "1",
        "--run_dir", str(tmp_path / "run"),
        *FAST,
    ]  # fmt: skip
    metrics = main(args).metrics
    assert metrics["splits"]["test"]["overall"]["n"] > 0
    assert (tmp_path / "run" / "predictions.jsonl").is_file()


@pytest.mark.parametrize("overlay", [None, *EMBEDDED_OVERLAYS], ids=lambda p: p.stem if p else "base")
def test_embedded_configs_run_on_the_tiny_digits(overlay, stand_ins, tmp_path):
    args = ["-c", str(EMBEDDED)] + (["-c", str(overlay)] if overlay else [])
    args += [
        "--data.source.init_args.root", str(stand_ins["root"] / "digits"),
        "--data.source.init_args.tiny", "true",
        "--run_dir", str(tmp_path / "run"),
        *FAST,
    ]  # fmt: skip
    metrics = main(args).metrics
    protocol = (yaml.safe_load(overlay.read_text(encoding="utf-8")) if overlay else {}) or {}
    name = protocol.get("data", {}).get("protocol", {}).get("name", "in_language")
    # the tiny digits are eng, rus, tha; the base config trains (and, in-language, tests) on eng
    expected = {"eng"} if name == "in_language" else {"eng", "rus", "tha"}
    per_language = metrics["splits"]["test"]["per_language"]
    assert set(per_language) == expected and all(scores["n"] > 0 for scores in per_language.values())
