"""Tiny local stand-ins for the vision tests: an image dataset saved like the hub's, a tiny checkpoint."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from vision.datamodule import ImageDataset

CIFAR_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def save_tiny_image_dataset(folder: Path, per_split: int = 20, image_column: str = "img") -> Path:
    """A CIFAR-10-shaped DatasetDict (train/test, ClassLabel labels, 16x16 images) via save_to_disk."""
    import datasets
    from PIL import Image

    rng = np.random.default_rng(0)
    features = datasets.Features({image_column: datasets.Image(), "label": datasets.ClassLabel(names=CIFAR_NAMES)})
    splits = {}
    for split in ("train", "test"):
        labels = [i % 10 for i in range(per_split)]
        images = [Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)) for _ in labels]
        splits[split] = datasets.Dataset.from_dict({image_column: images, "label": labels}, features=features)
    datasets.DatasetDict(splits).save_to_disk(str(folder))
    return folder


def save_tiny_checkpoint(path: Path, model_name: str = "wb-tiny") -> Path:
    """Random weights of a tiny architecture saved as a file, loadable as ``pretrained=<path>``."""
    import torch

    from vision.model import load_clip

    torch.save(load_clip(model_name).model.state_dict(), path)
    return path


def tiny_hf_text_architecture(folder: Path) -> dict:
    """An open_clip architecture with a tiny local xlm-roberta text tower and a character tokenizer.

    Stands in for ``xlm-roberta-base-ViT-B-32`` (whose tower and tokenizer come from the hub).
    """
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast, XLMRobertaConfig, XLMRobertaModel

    folder.mkdir(parents=True, exist_ok=True)
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for char in "abcdefghijklmnopqrstuvwxyz абвгдежзийклмнопрстуфхцчшщъыьэюяё":
        vocab.setdefault(char, len(vocab))
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Split("", "isolated")
    PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>"
    ).save_pretrained(folder)
    config = XLMRobertaConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=40,
    )
    XLMRobertaModel(config, add_pooling_layer=False).save_pretrained(folder)
    return {
        "embed_dim": 16,
        "vision_cfg": {"image_size": 16, "layers": 1, "width": 16, "patch_size": 8, "head_width": 8},
        "text_cfg": {
            "hf_model_name": str(folder),
            "hf_tokenizer_name": str(folder),
            "hf_pooler_type": "mean_pooler",
            "context_length": 16,
        },
    }


def overfit_head(model, images, labels, steps: int = 60, lr: float = 0.003) -> tuple[bool, float]:
    """Train a head-classifying VisionCLIP on one batch; (all right afterwards?, loss afterwards)."""
    import torch
    import torch.nn.functional as F

    languages = ["eng"] * len(labels)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
    model.train()
    for _ in range(steps):
        loss = F.cross_entropy(model.logits(images, languages), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        logits = model.logits(images, languages)
    return bool((logits.argmax(-1) == labels).all()), float(F.cross_entropy(logits, labels))


def batch_of(module, corpus, n=20, language="eng"):
    items = [i for i in corpus.where("train", [language])][:n]
    rows = [ImageDataset(items, module.preprocess_val)[k] for k in range(len(items))]
    return {
        "image": torch.stack([r["image"] for r in rows]),
        "label": torch.tensor([r["label"] for r in rows]),
        "language": [r["language"] for r in rows],
        "text": [r["text"] for r in rows],
        "romanized": [r["romanized"] for r in rows],
    }


def overfit(module, batch, steps=150, lr=3e-3) -> tuple[float, float]:
    """Train on one batch; returns (first loss, last loss) and leaves the module in eval mode."""
    params = [p for p in module.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    module.train()
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = module.training_step(batch, 0)
        loss.backward()
        optimizer.step()
        losses.append(float(loss))
    module.eval()
    module.on_validation_epoch_start()
    return losses[0], losses[-1]


def accuracy(module, batch) -> float:
    with torch.no_grad():
        return float((module.logits(batch["image"], batch["language"]).argmax(-1) == batch["label"]).float().mean())
