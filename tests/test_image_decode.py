"""Images are decoded no larger than the model reads them: a JPEG at a reduced DCT scale (PIL's
``draft``), other formats whole; the size comes from the attached model's image tower."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from PIL import Image

from vision.datamodule import ImageDataModule, ImageDataset, open_image
from vision.module import VisionCLIP
from workbench.data.sources import Manifest
from workbench.items import Item
from workbench.protocols import Protocol


def picture(path, format):
    pixels = np.random.default_rng(0).integers(0, 255, (192, 384, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, format=format)
    return str(path)


def test_a_jpeg_is_decoded_at_the_smallest_scale_that_covers_the_model_input(tmp_path):
    jpeg, png = picture(tmp_path / "a.jpg", "JPEG"), picture(tmp_path / "a.png", "PNG")
    assert open_image(jpeg, "item 'a'").size == (384, 192)  # no size asked: whole
    assert open_image(jpeg, "item 'a'", (64, 128)).size == (192, 96)  # 1/2 covers 64x128, 1/4 would not
    assert open_image(jpeg, "item 'a'", (32, 64)).size == (96, 48)  # 1/4: 1/8 (48x24) would be too small
    assert open_image(jpeg, "item 'a'", (192, 384)).size == (384, 192)
    assert open_image(png, "item 'a'", (64, 128)).size == (384, 192)  # not a JPEG: decoded whole


def test_the_data_module_decodes_at_the_attached_towers_input_size(tmp_path):
    module = VisionCLIP("wb-text-resnet", tokenizer="bytes", loss="head", num_classes=2, freeze=["text"])
    assert module.input_size == (64, 128)
    data = ImageDataModule(Manifest(str(tmp_path / "unused.csv")), Protocol("all_languages"))
    data.trainer = SimpleNamespace(lightning_module=module)
    items = [Item("eng-0", "c0", "eng", 0, "train", image=picture(tmp_path / "a.jpg", "JPEG"))]
    dataset = data.make_dataset(items, train=False)
    assert isinstance(dataset, ImageDataset) and dataset.size == (64, 128)
    assert dataset[0]["image"].shape == (3, 64, 128)
    data.transforms = (module.preprocess_train, module.preprocess_val)  # own transforms: whole images
    assert data.make_dataset(items, train=False).size is None
