"""Images + per-language text for the shared :class:`~workbench.datamodule.CorpusDataModule`.

A batch is a dict::

    index      LongTensor  [B]   position of the item in its split (to map predictions back)
    image      FloatTensor [B, 3, H, W]   transformed by the model's own preprocessing
    label      LongTensor  [B]
    language   list[str]   (B)
    text       list[str]   caption / class name in native script ('' when unknown)
    romanized  list[str]   its uroman romanization ('' when unknown)

The transforms are the model's (``preprocess_train`` / ``preprocess_val`` of the attached
LightningModule), so the datamodule never guesses sizes or normalisation.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset

from workbench.data.sources import CorpusSource
from workbench.datamodule import CorpusDataModule
from workbench.errors import ConfigError, DataError
from workbench.items import Corpus, Item
from workbench.protocols import Protocol
from workbench.romanize import Script


def open_image(path: str, where: str, size: tuple[int, int] | None = None) -> Image.Image:
    """An RGB PIL image, or a DataError naming the item.

    ``size`` (height, width): the model's input. A JPEG is then decoded at the smallest of its
    1/2, 1/4, 1/8 scales that still covers it (libjpeg's DCT scaling, PIL's ``draft``): the
    embedded text images (384x192) for a 64x128 tower decode at 192x96, which halves the data
    path's CPU a training image (1.39 -> 0.76 ms, measured) and leaves the crop and resize after
    it a smaller picture. Other formats decode whole.
    """
    try:
        with Image.open(path) as image:
            if size is not None:
                image.draft("RGB", (size[1], size[0]))
            return image.convert("RGB")
    except (FileNotFoundError, UnidentifiedImageError, OSError) as err:
        raise DataError(where, "image", f"unreadable image '{path}': {err}") from None


class ImageDataset(Dataset):
    """Items -> dicts of a transformed image and its texts."""

    def __init__(self, items: list[Item], transform, size: tuple[int, int] | None = None):
        self.items, self.transform, self.size = items, transform, size

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict:
        item = self.items[index]
        image = open_image(item.image, f"item '{item.id}'", self.size)
        return {
            "index": index,
            "image": self.transform(image),
            "label": item.label,
            "language": item.language,
            "text": item.text or "",
            "romanized": item.romanized or "",
        }


def class_names_by_language(corpus: Corpus) -> dict[str, list[str]]:
    """``{language: [class name per label]}``: the corpus' own table, else the commonest text.

    Classification corpora put their translated class names in ``meta["class_names"]``;
    captioned corpora fall back on the most frequent text of each (language, label).
    """
    table = corpus.meta.get("class_names")
    if table:
        return {lang: list(table[lang]) for lang in corpus.languages if lang in table}
    counts: dict[tuple[str, int], Counter] = {}
    for item in corpus.items:
        if item.text:
            counts.setdefault((item.language, item.label), Counter())[item.text] += 1
    names = {}
    for lang in corpus.languages:
        row = []
        for label, default in enumerate(corpus.label_names):
            found = counts.get((lang, label))
            row.append(found.most_common(1)[0][0] if found else default)
        names[lang] = row
    return names


class ImageDataModule(CorpusDataModule):
    """Image corpora for open_clip models (see the module docstring for the batch layout).

    Args:
        source: where the corpus comes from (``class_path``: ``vision.digits.Digits``,
            ``vision.sources.HFImageClassification``...).
        protocol: in_language / all_languages / zero_shot, with source languages.
        batch_size: images per batch.
        num_workers: DataLoader worker processes.
        script: the text the model reads: ``native``, or ``romanized`` by uroman (its prompts,
            captions, questions and answers; ``vision.fit`` links it into ``model.script``).
        **kwargs: further :class:`~workbench.datamodule.CorpusDataModule` options.
    """

    def __init__(
        self,
        source: CorpusSource,
        protocol: Protocol,
        batch_size: int = 64,
        num_workers: int = 0,
        script: Script = "native",
        **kwargs,
    ):
        super().__init__(source, protocol, **kwargs)
        self.batch_size, self.num_workers, self.script = batch_size, num_workers, script
        self.transforms: tuple | None = None  # (train, eval); else taken from the attached model

    def check_item(self, item: Item) -> None:
        if not item.image:
            raise DataError(f"item '{item.id}'", "image", "no image path")
        if not Path(item.image).is_file():
            raise DataError(f"item '{item.id}'", "image", f"file not found: '{item.image}'")
        try:
            with Image.open(item.image) as image:
                image.verify()  # reads the whole file: truncated or non-image bytes fail here, not mid-epoch
        except (OSError, SyntaxError, ValueError) as error:
            raise DataError(
                f"item '{item.id}'", "image", f"corrupt or unreadable image '{item.image}': {error}"
            ) from None

    def transform(self, train: bool):
        if self.transforms is None:
            module = getattr(self.trainer, "lightning_module", None) if self.trainer is not None else None
            if module is None or not hasattr(module, "preprocess_train"):
                raise ConfigError("ImageDataModule: set .transforms or attach a model with preprocess_train/_val")
            return module.preprocess_train if train else module.preprocess_val
        return self.transforms[0] if train else self.transforms[1]

    def make_dataset(self, items: list[Item], train: bool) -> Dataset:
        return ImageDataset(items, self.transform(train), self.input_size())

    def input_size(self) -> tuple[int, int] | None:
        """(height, width) the attached model reads images at (``input_size``), unless own transforms are set."""
        module = getattr(self.trainer, "lightning_module", None) if self.trainer is not None else None
        return getattr(module, "input_size", None) if self.transforms is None else None

    def collate(self, batch: list[dict]) -> dict:
        return {
            "index": torch.tensor([row["index"] for row in batch], dtype=torch.long),
            "image": torch.stack([row["image"] for row in batch]),
            "label": torch.tensor([row["label"] for row in batch], dtype=torch.long),
            "language": [row["language"] for row in batch],
            "text": [row["text"] for row in batch],
            "romanized": [row["romanized"] for row in batch],
        }

    @property
    def class_names(self) -> dict[str, list[str]]:
        """``{language: [class name per label]}`` in native script (prompts are built from it)."""
        if self.corpus is None:
            self.setup()
        return class_names_by_language(self.corpus)
