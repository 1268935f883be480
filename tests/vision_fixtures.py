"""Tiny local stand-ins for the vision tests: an image dataset saved like the hub's, a tiny checkpoint."""

from __future__ import annotations

from pathlib import Path

import numpy as np

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
