"""Image E2E on the embedded text images (configs/embedded/vision_text.yaml) and the vision sweep
(configs/sweeps/embedded_vision.yaml): the tower overfits, every config runs tiny, the sweep runs
E2E and the Tesseract cascades to one report with an image ladder."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch
import yaml

from tests.helpers.vision_fixtures import overfit_head
from vision.fit import main
from vision.module import VisionCLIP
from vision.text_images import EmbeddedTextImages
from workbench.sweep import load_sweep
from workbench.sweep.__main__ import main as sweep_main

ROOT = Path(__file__).resolve().parents[1]
BASE = "configs/embedded/vision_text.yaml"
PROTOCOLS = [None, "configs/protocol/zero_shot.yaml", "configs/protocol/all_languages.yaml"]
SWEEP = ROOT / "configs" / "sweeps" / "embedded_vision.yaml"
LINE_RECOGNIZER = "configs/embedded/ocr"  # configs of the trained CTC line recognizer (branch linerec)


@pytest.fixture(scope="module")
def tiny_images(tiny_root):
    return EmbeddedTextImages(root=str(tiny_root), tiny=True).load()


def test_the_tower_overfits_a_few_text_images(tiny_images):
    """The shipped tower (timm test_resnet through open_clip) + head learns 12 training images by heart."""
    torch.manual_seed(0)
    model = VisionCLIP(model_name="wb-text-resnet", tokenizer="bytes", loss="head", freeze=["text"], num_classes=6)
    train = [i for i in tiny_images.items if i.split == "train" and i.language == "eng"][:12]
    from PIL import Image

    images = torch.stack([model.preprocess_val(Image.open(i.image).convert("RGB")) for i in train])
    assert images.shape == (12, 3, 64, 128)  # the 2:1 images keep their shape
    labels = torch.tensor([i.label for i in train])
    right, loss = overfit_head(model, images, labels)
    assert right and loss < 0.2


def test_channels_last_is_the_same_model_in_another_layout(tiny_images):
    """``channels_last`` (configs/embedded/vision_text.yaml) changes the memory layout only: the same
    weights give the same logits and gradients, and the checkpoint loads into either layout."""
    from PIL import Image

    models = []
    for channels_last in (False, True):
        torch.manual_seed(0)
        models.append(
            VisionCLIP(
                model_name="wb-text-resnet",
                tokenizer="bytes",
                loss="head",
                freeze=["text"],
                num_classes=6,
                channels_last=channels_last,
            )
        )
    plain, fast = models
    conv = next(p for p in fast.clip.visual.parameters() if p.ndim == 4)
    assert conv.is_contiguous(memory_format=torch.channels_last)
    fast.load_state_dict(plain.state_dict())
    train = [i for i in tiny_images.items if i.split == "train"][:8]
    images = torch.stack([plain.preprocess_val(Image.open(i.image).convert("RGB")) for i in train])
    outputs = []
    for model in (plain, fast):
        model.train()
        logits = model.logits(images, ["eng"] * len(train))
        logits.sum().backward()
        outputs.append((logits.detach(), next(p for p in model.clip.visual.parameters() if p.ndim == 4).grad))
    assert torch.allclose(outputs[0][0], outputs[1][0], atol=1e-4)
    assert torch.allclose(outputs[0][1], outputs[1][1], atol=1e-3, rtol=1e-3)


@pytest.mark.parametrize("overlay", PROTOCOLS, ids=lambda p: Path(p).stem if p else "in_language")
def test_configs_run_on_the_tiny_text_images(overlay, tiny_images, tiny_root, tmp_path):
    args = ["-c", BASE] + (["-c", overlay] if overlay else [])
    args += [
        f"--data.source.init_args.root={tiny_root}",
        "--data.source.init_args.tiny=true",
        "--trainer.max_steps=2",
        "--trainer.limit_val_batches=1",
        "--trainer.enable_model_summary=false",
        "--data.batch_size=16",
        f"--run_dir={tmp_path / 'run'}",
    ]
    metrics = main(args).metrics
    record = metrics["record"]
    assert (record["path"], record["modality"], record["system"]) == ("e2e", "image", "img-e2e")
    assert record["model"]["name"] == "wb-text-resnet" and record["model"]["loss"] == "head"
    tested = {"eng"} if overlay is None else {i.language for i in tiny_images.items}
    assert set(metrics["splits"]["test"]["per_language"]) == tested == set(record["protocol"]["targets"])
    rows = (tmp_path / "run" / "predictions.jsonl").read_text().splitlines()
    assert all(len(json.loads(r)["probs"]) == 6 for r in rows)
    checkpoint = torch.load(tmp_path / "run" / "checkpoints" / "best.ckpt", weights_only=True)
    assert tuple(checkpoint["open_clip"]["preprocess_cfg"]["size"]) == (64, 128)


def shipped_sweep(tmp_path: Path) -> Path:
    """The shipped vision sweep; without the line recognizer's parts while its configs are not in this
    checkout (they come with branch linerec). Only those may be missing."""
    spec = yaml.safe_load(SWEEP.read_text(encoding="utf-8"))

    def missing(entry: dict) -> list[str]:
        return [c for c in entry["configs"] if not (ROOT / c).is_file()]

    absent = [c for entry in [*spec["setup"], *spec["systems"].values()] for c in missing(entry)]
    assert all(c.startswith(LINE_RECOGNIZER) for c in absent), absent
    dropped = [f"setup/{step['name']}/" for step in spec["setup"] if missing(step)]

    def kept(entry: dict) -> bool:  # neither a config missing nor reading a dropped setup step
        return not missing(entry) and not any(d in str(v) for v in (entry.get("args") or {}).values() for d in dropped)

    spec["setup"] = [step for step in spec["setup"] if not missing(step)]
    spec["systems"] = {name: entry for name, entry in spec["systems"].items() if kept(entry)}
    path = tmp_path / "embedded_vision.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path


def test_the_vision_sweep_expands(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)  # sweep files name configs relative to the repository root
    sweep = load_sweep(shipped_sweep(tmp_path))
    systems = {p.system for p in sweep.points}
    assert {"img-e2e", "tess-native", "tess-romanized"} <= systems <= {*systems, "ctc-native", "ctc-romanized"}
    assert {p.protocol for p in sweep.points} == {"in_language", "zero_shot", "all_languages"}
    assert {p.seed for p in sweep.points} == {0, 1}
    assert len(sweep.points) == len(systems) * 3 * 2
    # one line recognizer, native targets, read by both CTC cascades (romanized: uroman after it)
    assert [step.system for step in sweep.setup] == ["ocr-native"]
    for system, script in (("ctc-native", "native"), ("ctc-romanized", "romanized")):
        args = dict(next(p for p in sweep.points if p.system == system).args)
        assert args["--data.recognizer.init_args.checkpoint"].startswith(f"{sweep.setup[0].run_dir}/")
        assert args["--data.script"] == script


@pytest.mark.slow
def test_the_vision_sweep_runs_to_a_report_with_an_image_ladder(tiny_images, tiny_root, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    out = tmp_path / "sweep"
    tiny = [
        "--set=--data.source.init_args.tiny=true",
        f"--set=--data.source.init_args.root={tiny_root}",
        "--set=--data.source.init_args.languages=[eng, rus]",
        "--set=--trainer.max_epochs=1",
        "--set=--trainer.limit_train_batches=2",
    ]
    code = sweep_main(["-c", str(shipped_sweep(tmp_path)), "--out", str(out), "--only", "zero_shot-eng/seed0", *tiny])
    status = json.loads((out / "status.json").read_text())
    assert code == 0, {k: v.get("log_tail", "")[-800:] for k, v in status.items() if v["state"] == "failed"}
    done = {k for k, v in status.items() if v["state"] == "done"}
    assert {f"{system}/zero_shot-eng/seed0" for system in ("img-e2e", "tess-native", "tess-romanized")} <= done
    with (out / "report" / "ladder_test.csv").open() as handle:
        ladder = list(csv.DictReader(handle))
    assert {r["modality"] for r in ladder} == {"image"} and {r["language"] for r in ladder} == {"eng", "rus"}
    rus = sorted((r for r in ladder if r["language"] == "rus"), key=lambda r: int(r["rung"]))
    systems = [r["system"] for r in rus]
    golds = [s for s in systems if s.endswith(":gold")]  # the Tesseract cascades' (and the CTC ones' with linerec)
    assert {"tess-native:gold", "tess-romanized:gold"} <= set(golds) and systems[: len(golds)] == golds
    assert systems[-1] == "img-e2e" and systems.index("tess-native") < systems.index("tess-romanized")
    assert all(r["cer"] for r in rus if r["system"] in ("tess-native", "tess-romanized"))  # Tesseract's CER
    with (out / "report" / "significance_test.csv").open() as handle:
        pairs = {(r["modality"], r["e2e"], r["cascade"]) for r in csv.DictReader(handle)}
    assert {("image", "img-e2e", "tess-native"), ("image", "img-e2e", "tess-romanized")} <= pairs
