"""A PIXEL encoder by hub id or folder (vision.pixel): a tiny random stand-in saved as PIXEL ships
(config.json of model_type "pixel", PIXELForPreTraining; transformers-4.17 key names; a decoder),
read through ViT-MAE, overfitted, and run through configs/embedded/vision_text/pixel.yaml and pixel_m4.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.helpers.pixel_stand_ins import save_tiny_pixel
from tests.helpers.vision_fixtures import overfit_head
from vision.model import load_clip
from vision.module import VisionCLIP
from workbench.errors import ConfigError


@pytest.fixture(scope="module")
def pixel_folder(tmp_path_factory) -> Path:
    return save_tiny_pixel(tmp_path_factory.mktemp("pixel-tiny"))


def test_transformers_reads_pixel_as_vit_mae_not_by_auto(pixel_folder):
    from safetensors.torch import load_file
    from transformers import AutoConfig

    with pytest.raises(ValueError, match="pixel"):
        AutoConfig.from_pretrained(pixel_folder)
    bundle = load_clip(f"hf-pixel:{pixel_folder}", "weights", architecture={"image_size": [32, 64], "embed_dim": 8})
    encoder = bundle.model.visual.encoder
    saved = load_file(str(pixel_folder / "model.safetensors"))
    assert torch.equal(
        encoder.layers[1].attention.q_proj.weight, saved["vit.encoder.layer.1.attention.attention.query.weight"]
    )
    assert encoder.config.mask_ratio == 0.0  # no patch hidden when classifying
    assert bundle.preprocess_cfg["size"] == (32, 64)
    random = load_clip(f"hf-pixel:{pixel_folder}", None, architecture={"image_size": [32, 64], "embed_dim": 8})
    assert not torch.equal(
        random.model.visual.encoder.layers[1].attention.q_proj.weight, encoder.layers[1].attention.q_proj.weight
    )
    with pytest.raises(ConfigError, match="multiples of the patch size 16"):
        load_clip(f"hf-pixel:{pixel_folder}", None, architecture={"image_size": [30, 64]})
    with pytest.raises(ConfigError, match="'weights'"):
        load_clip(f"hf-pixel:{pixel_folder}", "laion2b")


def test_the_pixel_tower_overfits_random_images(pixel_folder):
    torch.manual_seed(0)
    model = VisionCLIP(model_name=f"hf-pixel:{pixel_folder}", pretrained="weights", loss="head", num_classes=4)
    images, labels = torch.randn(8, 3, 64, 128), torch.arange(8) % 4
    right, loss = overfit_head(model, images, labels)
    assert right and loss < 0.2


@pytest.mark.parametrize("config", ["pixel", "pixel_m4"])  # PIXEL-base, PIXEL-M4: one architecture
def test_the_pixel_config_runs_on_the_tiny_text_images(config, pixel_folder, tiny_root, tmp_path):
    from vision.fit import main

    metrics = main(
        ["-c", "configs/embedded/vision_text.yaml", "-c", f"configs/embedded/vision_text/{config}.yaml"]
        + [f"--model.model_name=hf-pixel:{pixel_folder}", f"--data.source.init_args.root={tiny_root}"]
        + ["--data.source.init_args.tiny=true", "--trainer.max_steps=2", "--trainer.limit_val_batches=1"]
        + ["--trainer.enable_model_summary=false", "--data.batch_size=16", f"--run_dir={tmp_path / 'run'}"]
    ).metrics
    record = metrics["record"]
    assert record["modality"] == "image" and record["model"]["name"] == f"hf-pixel:{pixel_folder}"
    assert record["model"]["pretrained"] == "weights" and metrics["splits"]["test"]["overall"]["n"] > 0
    checkpoint = torch.load(tmp_path / "run" / "checkpoints" / "best.ckpt", weights_only=True)
    assert tuple(checkpoint["open_clip"]["preprocess_cfg"]["size"]) == (64, 128)
