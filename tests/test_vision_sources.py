"""Hub image classification sets x translated class names (a local save_to_disk stand-in)."""

from __future__ import annotations

import pytest

from tests.helpers.vision_fixtures import CIFAR_NAMES, save_tiny_image_dataset
from vision.datamodule import class_names_by_language
from vision.sources import HFImageClassification
from workbench.errors import ConfigError
from workbench.items import Corpus, Item

NAMES = {
    "eng": CIFAR_NAMES,
    "rus": ["самолёт", "автомобиль", "птица", "кошка", "олень", "собака", "лягушка", "лошадь", "корабль", "грузовик"],
}


def test_rows_become_one_content_per_image_in_every_language(tmp_path):
    path = save_tiny_image_dataset(tmp_path / "ds")
    source = HFImageClassification(
        str(path), NAMES, image_column="img", dev_fraction=0.25, cache_dir=str(tmp_path / "cache")
    )
    corpus = source.load()
    assert corpus.label_names == CIFAR_NAMES and corpus.languages == ["eng", "rus"]
    assert {i.split for i in corpus.items} == {"train", "dev", "test"}
    per_content = {}
    for item in corpus.items:
        per_content.setdefault(item.content_id, set()).add((item.image, item.split, item.label))
        assert item.text == NAMES[item.language][item.label]
    assert all(len(v) == 1 for v in per_content.values()) and len(per_content) == 40
    rus = next(i for i in corpus.items if i.language == "rus" and i.label == 3)
    assert rus.romanized == "koshka"
    assert class_names_by_language(corpus)["rus"][3] == "кошка"
    sampled = HFImageClassification(
        str(path), NAMES, image_column="img", max_per_split=5, cache_dir=str(tmp_path / "cache")
    ).load()
    assert len({i.content_id for i in sampled.items if i.split == "test"}) == 5


def test_mistakes_are_named(tmp_path):
    path = save_tiny_image_dataset(tmp_path / "ds", per_split=4)
    with pytest.raises(ConfigError, match="different numbers of classes"):
        HFImageClassification(str(path), {"eng": CIFAR_NAMES, "deu": ["Flugzeug"]})
    with pytest.raises(ConfigError, match="3 names for 10 classes"):
        HFImageClassification(
            str(path), {"eng": ["a", "b", "c"]}, image_column="img", cache_dir=str(tmp_path / "c")
        ).load()
    with pytest.raises(Exception, match="image"):
        HFImageClassification(str(path), NAMES, image_column="image", cache_dir=str(tmp_path / "c")).load()


def test_class_names_fall_back_on_the_commonest_caption():
    items = [Item(f"{k}", f"c{k}", "eng", k % 2, "train", image="x", text=f"cap{k % 2}") for k in range(4)]
    assert class_names_by_language(Corpus(items, ["a", "b"])) == {"eng": ["cap0", "cap1"]}
