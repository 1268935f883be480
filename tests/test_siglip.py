"""Multilingual SigLIP (open_clip ViT-B-16-SigLIP-i18n-256) through the vision module, with a tiny stand-in."""

from __future__ import annotations

import pytest
import torch

from tests.helpers.siglip_fixtures import REAL, save_tiny_siglip
from tests.helpers.vision_fixtures import CIFAR_NAMES, accuracy, batch_of, overfit, save_tiny_image_dataset
from vision.datamodule import class_names_by_language
from vision.digits import DIGIT_WORDS, Digits
from vision.fit import main
from vision.lora import LoraSettings
from vision.module import VisionCLIP

torch.set_num_threads(1)
CONFIG = "configs/vision/siglip_i18n.yaml"


@pytest.fixture(scope="module")
def stand_in(tmp_path_factory):
    import yaml

    cifar = yaml.safe_load(open("configs/vision/cifar10_xlmr.yaml", encoding="utf-8"))
    names = cifar["data"]["source"]["init_args"]["class_names"]
    texts = [n for table in (names, DIGIT_WORDS) for words in table.values() for n in words]
    templates = [t.replace("{}", "") for t in cifar["model"]["prompts"]["templates"].values()]
    return save_tiny_siglip(tmp_path_factory.mktemp("siglip") / "model", texts * 2 + templates * 5)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return Digits(root=str(tmp_path_factory.mktemp("digits")), languages=["eng", "rus"], per_language=40).load()


def test_the_config_names_a_real_sigmoid_model():
    import open_clip
    import yaml

    model = yaml.safe_load(open(CONFIG, encoding="utf-8"))["model"]
    assert model["model_name"] == REAL and model["pretrained"] in open_clip.list_pretrained_tags_by_model(REAL)
    assert open_clip.get_model_config(REAL)["init_logit_bias"] == -10  # what makes contrast=auto pick sigmoid


def test_sigmoid_loss_is_siglips_on_distinct_texts(stand_in):
    """With one text per image the multi-positive sigmoid loss is exactly open_clip's SigLipLoss."""
    from open_clip.loss import SigLipLoss

    module = VisionCLIP(stand_in, loss="captions", class_names={"eng": CIFAR_NAMES}, num_classes=10)
    assert module.sigmoid and type(module.tokenizer).__name__ == "HFTokenizer"
    images, texts = torch.randn(4, 3, 32, 32), CIFAR_NAMES[:4]
    ours = module.caption_loss(images, texts)
    clip = module.clip
    image = clip.encode_image(images, normalize=True)
    order = sorted(texts)  # caption_loss orders the unique texts
    text = module.encode_text(order)[[order.index(t) for t in texts]]
    reference = SigLipLoss()(image, text, clip.logit_scale.exp(), clip.logit_bias)
    assert torch.allclose(ours, reference, atol=1e-5)
    # a duplicated text is one text with two positive images, not a negative for either
    twice = module.caption_loss(images[:2], ["cat", "cat"])
    logit = module.scaled(image[:2] @ module.encode_text(["cat"]).T)
    assert torch.allclose(twice, -torch.nn.functional.logsigmoid(logit).sum() / 2, atol=1e-5)


def test_multilingual_tokenizer_path_covers_every_script(stand_in):
    module = VisionCLIP(stand_in, loss="prompts", class_names={k: list(v) for k, v in DIGIT_WORDS.items()})
    unk = module.tokenizer.tokenizer.unk_token_id
    for language in DIGIT_WORDS:
        tokens = module.tokenizer(module.prompt_texts(language))
        assert tokens.shape == (10, 16) and not (tokens == unk).any(), language


@pytest.mark.parametrize("loss", ["captions", "prompts"])
def test_overfit_with_the_sigmoid_loss_and_lora(stand_in, corpus, loss):
    torch.manual_seed(0)
    module = VisionCLIP(
        stand_in,
        loss=loss,
        lora=LoraSettings(r=4, alpha=8, target_modules=["qkv", "proj", "fc1", "fc2", "c_fc", "c_proj"]),
        class_names=class_names_by_language(corpus),
        num_classes=10,
    )
    trainable = [n for n, p in module.named_parameters() if p.requires_grad]
    assert all("lora_" in n or n in ("clip.logit_scale", "clip.logit_bias") for n in trainable)
    assert any("visual.trunk.blocks.0.attn.qkv.lora_A" in n for n in trainable)
    batch = batch_of(module, corpus, n=10, language="rus")
    first, last = overfit(module, batch, steps=60, lr=1e-2)
    assert last < 0.5 * first
    assert accuracy(module, batch) >= 0.8


def test_the_config_runs_through_vision_fit_with_the_stand_in(stand_in, tmp_path):
    data = save_tiny_image_dataset(tmp_path / "cifar", per_split=20)
    metrics = main(
        [
            "-c", "configs/vision/cifar10_xlmr.yaml", "-c", CONFIG,
            "--model.model_name", stand_in, "--model.pretrained", "null",
            "--data.source.init_args.path", str(data),
            "--data.source.init_args.max_per_split", "10",
            "--data.source.init_args.dev_fraction", "0.2",
            "--data.source.init_args.cache_dir", str(tmp_path / "cache"),
            "--data.batch_size", "8", "--data.num_workers", "0",
            "--trainer.accelerator", "cpu", "--trainer.precision", "32-true",
            "--trainer.max_steps", "2", "--trainer.limit_val_batches", "1",
            "--trainer.enable_model_summary", "false", "--threads", "1",
            "--run_dir", str(tmp_path / "run"),
        ]
    ).metrics  # fmt: skip
    assert metrics["splits"]["test"]["overall"]["n"] > 0 and metrics["record"]["model"]["name"] == stand_in
    from workbench.predictor import load_run

    predictor = load_run(tmp_path / "run")
    from PIL import Image

    probs = predictor.predict(Image.new("RGB", (16, 16), "white"), "tha")
    assert len(probs) == 10 and abs(sum(probs) - 1) < 1e-4
