"""Image corpora from Hugging Face ``datasets``: classification sets with translated class names.

A row (an image and its label) is one content, shown in every language under the class
name in that language (``class_names[language][label]``, romanized by uroman): the vision
counterpart of a verse read in many languages. Images are decoded once and written as PNG
under a cache folder, so every consumer reads local files the same way (as audio is).
"""

from __future__ import annotations

import hashlib
import io
import random
from pathlib import Path

from workbench.data.hub import available_split, class_names
from workbench.data.sources import DEFAULT_CACHE, CorpusSource
from workbench.errors import ConfigError, DataError
from workbench.io import atomic_write_bytes
from workbench.items import Corpus, Item
from workbench.romanize import romanize


def cache_image(value, where: str, folder: Path, key: str) -> str:
    """A ``datasets`` image value (PIL image, or dict with bytes/path) -> path of a PNG in the cache."""
    target = folder / f"{hashlib.sha1(key.encode()).hexdigest()[:16]}.png"
    if target.is_file():
        return str(target)
    from PIL import Image, UnidentifiedImageError

    try:
        if isinstance(value, dict):
            source = io.BytesIO(value["bytes"]) if value.get("bytes") else value.get("path")
            if source is None:
                raise DataError(where, "image", "no image bytes or path in the dataset row")
            image = Image.open(source)
        elif isinstance(value, Image.Image):
            image = value
        else:
            raise DataError(where, "image", f"not an image: {type(value).__name__}")
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, format="PNG")
    except (UnidentifiedImageError, OSError) as err:
        raise DataError(where, "image", f"unreadable image: {err}") from None
    atomic_write_bytes(target, buffer.getvalue())
    return str(target)


class HFImageClassification(CorpusSource):
    """An image classification dataset (hub id or ``save_to_disk`` folder) x translated class names.

    Args:
        path: hub id (e.g. ``uoft-cs/cifar10``) or a local ``save_to_disk`` folder.
        class_names: language -> class names in that language, in label order.
        image_column: the image column.
        label_column: the label column (a ClassLabel, or integers with ``label_names``).
        label_names: language-neutral class names; default the ClassLabel names.
        config: dataset config name, if any.
        splits: workbench splits read from the dataset (``dev`` maps to validation/valid).
        dev_fraction: share of train contents moved to dev when the dataset has no dev split.
        max_per_split: keep at most this many rows per split (seeded sample); None keeps all.
        seed: seeds the sampling and the dev carve-out.
        cache_dir: where decoded images are written.
        load_kwargs: passed to ``datasets.load_dataset``.
    """

    def __init__(
        self,
        path: str,
        class_names: dict[str, list[str]],
        image_column: str = "image",
        label_column: str = "label",
        label_names: list[str] | None = None,
        config: str | None = None,
        splits: list[str] = ("train", "dev", "test"),
        dev_fraction: float = 0.1,
        max_per_split: int | None = None,
        seed: int = 0,
        cache_dir: str = str(DEFAULT_CACHE),
        load_kwargs: dict | None = None,
    ):
        if not class_names:
            raise ConfigError("source.class_names: give the class names in at least one language")
        sizes = {lang: len(names) for lang, names in class_names.items()}
        if len(set(sizes.values())) != 1:
            raise ConfigError(f"source.class_names: languages list different numbers of classes: {sizes}")
        self.path, self.class_names, self.config = path, {k: list(v) for k, v in class_names.items()}, config
        self.image_column, self.label_column, self.label_names = image_column, label_column, label_names
        self.splits, self.dev_fraction, self.max_per_split = list(splits), dev_fraction, max_per_split
        self.seed, self.cache_dir, self.load_kwargs = seed, cache_dir, load_kwargs

    def _rows(self) -> tuple[list[tuple[str, int, object]], list[str]]:
        """``[(split, row index, dataset)]`` per content, and the label names."""
        rows, names = [], self.label_names
        for split in self.splits:
            dataset = available_split(self.path, self.config, split, self.load_kwargs)
            if dataset is None:
                if split == "train":
                    raise ConfigError(f"dataset '{self.path}': no train split")
                continue
            for column in (self.image_column, self.label_column):
                if column not in dataset.column_names:
                    raise DataError(
                        f"dataset '{self.path}' split '{split}'", column, f"missing; has {dataset.column_names}"
                    )
            names = names or class_names(dataset, self.label_column)
            indices = list(range(len(dataset)))
            if self.max_per_split is not None and self.max_per_split < len(indices):
                indices = sorted(random.Random(f"{self.seed}-{split}").sample(indices, self.max_per_split))
            rows += [(split, i, dataset) for i in indices]
        if names is None:
            raise ConfigError(f"dataset '{self.path}': label column is not a ClassLabel; set label_names")
        return rows, list(names)

    def _dev_carve_out(self, rows: list) -> set[tuple[str, int]]:
        """Train rows that become dev (a seeded sample of ``dev_fraction``) when there is no dev split."""
        if any(split == "dev" for split, _, _ in rows):
            return set()
        train = [(split, index) for split, index, _ in rows if split == "train"]
        return set(random.Random(self.seed).sample(train, round(len(train) * self.dev_fraction)))

    def load(self) -> Corpus:
        rows, names = self._rows()
        for lang, table in self.class_names.items():
            if len(table) != len(names):
                raise ConfigError(f"source.class_names.{lang}: {len(table)} names for {len(names)} classes")
        moved_to_dev = self._dev_carve_out(rows)
        folder = Path(self.cache_dir) / hashlib.sha1(repr(("img", self.path, self.config)).encode()).hexdigest()[:12]
        items = []
        for split, index, dataset in rows:
            row = dataset[index]
            content = f"{split}-{index}"
            where = f"dataset '{self.path}' split '{split}' row {index}"
            image = cache_image(row[self.image_column], where, folder, content)
            label = int(row[self.label_column])
            if not 0 <= label < len(names):
                raise DataError(where, self.label_column, f"label {label} outside {len(names)} classes")
            final = "dev" if (split, index) in moved_to_dev else split
            for lang, table in self.class_names.items():
                items.append(
                    Item(
                        id=f"{lang}-{content}",
                        content_id=content,
                        language=lang,
                        label=label,
                        split=final,
                        image=image,
                        text=table[label],
                        romanized=romanize(table[label], lang),
                    )
                )
        return Corpus(items, names, name=Path(self.path).name, meta={"class_names": self.class_names})
