"""The vision module: overfit tests (prompts, captions, head, LoRA), freezing, tokenizer, loading."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from tests.helpers.vision_fixtures import accuracy, batch_of, overfit
from vision.bundle import ByteTokenizer
from vision.datamodule import class_names_by_language
from vision.digits import Digits
from vision.lora import LoraSettings
from vision.model import load_clip, save_local_dir
from vision.module import Optim, Prompts, VisionCLIP
from workbench.errors import ConfigError

torch.set_num_threads(1)  # tiny models: threads only add contention


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return Digits(root=str(tmp_path_factory.mktemp("digits")), languages=["eng", "rus"], per_language=40).load()


def make(corpus, **kwargs) -> VisionCLIP:
    torch.manual_seed(0)
    kwargs.setdefault("tokenizer", "bytes")
    return VisionCLIP("wb-tiny-bytes", class_names=class_names_by_language(corpus), num_classes=10, **kwargs)


def test_overfit_captions_contrastive(corpus):
    module = make(corpus, loss="captions")
    batch = batch_of(module, corpus)
    first, last = overfit(module, batch)
    assert last < 0.3 * first and last < 0.5
    assert accuracy(module, batch) == 1.0  # classified by the prompts of the batch's language


@pytest.mark.parametrize("loss", ["prompts", "head"])
def test_overfit_prompts_and_head(corpus, loss):
    module = make(corpus, loss=loss, script="romanized")
    batch = batch_of(module, corpus, language="rus")
    first, last = overfit(module, batch, steps=120)
    assert last < 0.2 and accuracy(module, batch) == 1.0


def test_lora_trains_only_adapters_and_learns(corpus):
    module = make(corpus, loss="prompts", lora=LoraSettings(r=4, alpha=8))
    trainable = [n for n, p in module.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n or n == "clip.logit_scale" for n in trainable)
    assert any(n.startswith("clip.visual.") for n in trainable) and any(".resblocks" in n for n in trainable)
    assert not any("out_proj" in n for n in trainable)  # nn.MultiheadAttention would bypass it
    frozen = {n: p.detach().clone() for n, p in module.named_parameters() if not p.requires_grad}
    batch = batch_of(module, corpus)
    first, last = overfit(module, batch, steps=100, lr=1e-2)
    assert last < 0.7 * first
    assert all(torch.equal(p, frozen[n]) for n, p in module.named_parameters() if n in frozen)


def test_frozen_image_tower_does_not_move(corpus):
    module = make(corpus, loss="prompts", freeze=["image"])
    before = {n: p.detach().clone() for n, p in module.clip.visual.named_parameters()}
    overfit(module, batch_of(module, corpus, n=8), steps=3)
    assert all(torch.equal(p, before[n]) for n, p in module.clip.visual.named_parameters())
    assert any(p.requires_grad for p in module.clip.transformer.parameters())


def test_caption_loss_treats_identical_texts_as_one():
    torch.manual_seed(0)
    module = VisionCLIP("wb-tiny-bytes", tokenizer="bytes", class_names={"eng": list("abcdefghij")}).eval()
    images = torch.randn(4, 3, 32, 32)
    texts = ["a", "a", "b", "b"]
    with torch.no_grad():
        loss = module.caption_loss(images, texts)
        image = module.clip.encode_image(images, normalize=True)
        scale = module.clip.logit_scale.exp()
        logits = scale * image @ module.encode_text(["a", "b"]).T  # [4 images, 2 distinct texts]
        per_copy = scale * image @ module.encode_text(texts).T  # [4, 4]: CLIP's usual pairing
    assert torch.isfinite(loss) and loss > 0
    # by hand: each image against the 2 distinct texts; each text against the 4 images, its
    # loss averaged over its own 2 images (both are right answers, neither a negative)
    owner = [0, 0, 1, 1]
    image_loss = sum(-logits[i].log_softmax(0)[owner[i]] for i in range(4)) / 4
    text_loss = sum(-(logits[:, u].log_softmax(0)[[i for i in range(4) if owner[i] == u]]).mean() for u in (0, 1)) / 2
    assert float(loss) == pytest.approx(float(image_loss + text_loss) / 2, rel=1e-5)
    # counting the copies as different captions (each image's twin a negative) is another number
    diagonal = torch.arange(4)
    copies = (F.cross_entropy(per_copy, diagonal) + F.cross_entropy(per_copy.T, diagonal)) / 2
    assert abs(float(copies) - float(loss)) > 1e-3


def test_prompts_templates_and_romanization(corpus):
    module = make(corpus, prompts=Prompts(templates={"rus": "цифра {}"}), script="romanized")
    assert module.prompt_texts("rus")[2] == "tsifra dva"
    assert module.prompt_texts("eng")[2] == "two"
    assert module.system_name(fitted=False) == "vis-zeroshot-romanized"
    assert module.system_name(fitted=True) == "vis-finetune-romanized"
    with pytest.raises(ConfigError, match="no class names"):
        module.prompt_texts("tha")


def test_byte_tokenizer_covers_every_script():
    tokens = ByteTokenizer(context_length=8)(["два", "two two two two"])
    assert tokens.shape == (2, 8)
    assert tokens[0, 0] == ByteTokenizer.START and tokens[0].argmax() == 7  # 6 bytes + start + end
    assert tokens[1, -1] == ByteTokenizer.END  # truncated, end kept


def test_local_checkpoint_and_local_dir_reload_the_same_weights(tmp_path):
    bundle = load_clip("wb-tiny", None)
    path = tmp_path / "weights.pt"
    torch.save(bundle.model.state_dict(), path)
    by_file = load_clip("wb-tiny", str(path))
    by_dir = load_clip(f"local-dir:{save_local_dir(bundle, tmp_path / 'exported')}")
    for other in (by_file, by_dir):
        for (name, a), b in zip(bundle.model.state_dict().items(), other.model.state_dict().values(), strict=True):
            assert torch.equal(a, b), name
    assert by_dir.preprocess_cfg["size"] == bundle.preprocess_cfg["size"]
    tokens = bundle.tokenizer(["два"])  # open_clip's BPE: bytes of any script, offline
    assert tokens.shape == (1, 16) and int((tokens > 0).sum()) > 2


def test_bad_names_are_config_errors():
    with pytest.raises(ConfigError, match="unknown open_clip architecture"):
        load_clip("no-such-arch")
    with pytest.raises(ConfigError, match="neither a file nor a tag"):
        load_clip("wb-tiny", "laion2b_nope")
    small_vocab = {
        "embed_dim": 8,
        "vision_cfg": {"image_size": 16, "layers": 1, "width": 16, "patch_size": 8, "head_width": 8},
        "text_cfg": {"context_length": 8, "vocab_size": 100, "width": 16, "heads": 2, "layers": 1},
    }
    with pytest.raises(ConfigError, match="vocab_size"):
        load_clip("wb-test-small-vocab", None, tokenizer="bytes", architecture=small_vocab)
    with pytest.raises(ConfigError, match="no linear layer named"):
        VisionCLIP(
            "wb-tiny-bytes", tokenizer="bytes", class_names={"eng": ["a"]}, lora=LoraSettings(target_modules=["x"])
        )
    with pytest.raises(ConfigError, match="nothing to train"):
        module = VisionCLIP(
            "wb-tiny-bytes",
            tokenizer="bytes",
            class_names={"eng": list("abcdefghij")},
            freeze=["image", "text"],
            optim=Optim(),
        )
        module.configure_optimizers()


def test_hf_text_tower_stand_in_trains_with_lora(corpus, tmp_path):
    """The xlm-roberta text tower path (HF model + HF tokenizer), with tiny local stand-ins."""
    from tests.helpers.vision_fixtures import tiny_hf_text_architecture

    torch.manual_seed(0)
    module = VisionCLIP(
        "wb-test-hf-xlmr",
        architecture=tiny_hf_text_architecture(tmp_path / "xlmr"),
        loss="prompts",
        freeze=["image"],
        lora=LoraSettings(r=4, alpha=8),
        class_names=class_names_by_language(corpus),
        num_classes=10,
    )
    trainable = [n for n, p in module.named_parameters() if p.requires_grad]
    assert any(".query.lora_A" in n for n in trainable) and not any("visual" in n for n in trainable)
    first, last = overfit(module, batch_of(module, corpus, n=10, language="rus"), steps=40, lr=1e-2)
    assert last < 0.8 * first
