"""Batches for training the CTC line recognizer on text images: line strips plus character targets.

The image counterpart of :mod:`cascade.asr_data` and built on its data module (same
protocols, targets, vocabulary and width-bucketed batches; a strip's width in columns takes
the place of a clip's duration). How an image becomes a strip belongs to the encoder
(:meth:`vision.line_encoder.LineEncoder.prepare`), which :class:`cascade.ctc.CTCRecognizer`
hands over in its ``setup``, so training and the cascade prepare images alike. Strips are
prepared once per split and kept in memory (uint8).

A batch::

    waves          (B, H, W) float32 ink strips in [0, 1], 0-padded on the right
    lengths        (B,)      valid columns
    label, index, keys       as the speech batch (keys: item ids)
    targets        (B, S)    character ids, 0-padded
    target_lengths (B,)
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from cascade.asr_data import ASRDataModule, target_text, with_targets
from cascade.asr_text import Vocabulary
from vision.lines import load_grey
from workbench.data.sources import CorpusSource
from workbench.errors import DataError
from workbench.items import Item
from workbench.protocols import Protocol
from workbench.romanize import Script

Prepare = Callable[[np.ndarray], np.ndarray]  # (H, W) uint8 grey -> (height, W') float32 strip


class LineDataset(Dataset):
    """Items -> ``(index, strip (H, W) uint8, label, id, target ids)``; strips prepared on first use."""

    def __init__(self, items: list[Item], vocabulary: Vocabulary, script: Script, prepare: Prepare):
        self.items, self.prepare = items, prepare
        self.targets = [vocabulary.encode(target_text(item, script)) for item in items]
        self._strips: list[np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.items)

    @property
    def strips(self) -> list[np.ndarray]:
        if self._strips is None:
            self._strips = [
                np.round(self.prepare(load_grey(i.image, where=f"item '{i.id}'")) * 255).astype(np.uint8)
                for i in self.items
            ]
        return self._strips

    def durations(self) -> list[float]:
        """Each strip's width in columns: what the length buckets sort by."""
        return [float(strip.shape[1]) for strip in self.strips]

    def __getitem__(self, index: int):
        item = self.items[index]
        return index, self.strips[index], item.label, item.id, self.targets[index]


def collate_lines(batch: list) -> dict:
    """``[(index, strip, label, id, target)]`` -> the batch documented above."""
    lengths = torch.tensor([row[1].shape[1] for row in batch])
    strips = torch.zeros(len(batch), batch[0][1].shape[0], int(lengths.max()))
    for k, row in enumerate(batch):
        strips[k, :, : row[1].shape[1]] = torch.from_numpy(row[1]).float() / 255
    out = {
        "waves": strips,
        "lengths": lengths,
        "label": torch.tensor([row[2] for row in batch]),
        "index": torch.tensor([row[0] for row in batch]),
        "keys": [row[3] for row in batch],
    }
    return with_targets(out, [row[4] for row in batch])


class LineImageDataModule(ASRDataModule):
    """Corpus of text images + protocol -> width-bucketed strip batches with CTC targets.

    Args:
        source: where the corpus comes from (e.g. ``vision.text_images.EmbeddedTextImages``).
        protocol: usually ``all_languages`` (one recognizer for every language).
        script: ``native`` (item.text) or ``romanized`` (item.romanized) transcripts.
        batch_size: maximum items per batch.
        num_workers: DataLoader worker processes.
        max_batch_columns: total strip width per batch (before padding), for width bucketing.
        num_buckets: width buckets.
        seed: batch shuffling seed; None follows ``seed_everything``.
    """

    def __init__(self, source: CorpusSource, protocol: Protocol, max_batch_columns: float = 16000.0, **kwargs):
        # the speech module's other arguments (script, batch_size, ...) come through kwargs; the CLI
        # finds them in its signature. Strips are never cut (max_seconds) and batch by width.
        super().__init__(source, protocol, max_batch_seconds=max_batch_columns, max_seconds=None, **kwargs)
        self.prepare_image: Prepare | None = None

    def use_front_end(self, prepare: Prepare) -> None:
        """Prepare images with ``prepare`` (the encoder's); strips made with another are dropped."""
        if prepare is not self.prepare_image:
            self.prepare_image = prepare
            self._datasets.clear()

    def check_item(self, item: Item) -> None:
        if not item.image:
            raise DataError(f"item '{item.id}'", "image", "no image path (the line recognizer reads images)")
        if not Path(item.image).is_file():
            raise DataError(f"item '{item.id}'", "image", f"file not found: '{item.image}'")

    def make_dataset(self, items: list[Item], train: bool) -> LineDataset:
        if self.prepare_image is None:
            raise RuntimeError("LineImageDataModule: no front end; CTCRecognizer.setup passes its encoder's prepare")
        return LineDataset(items, self.vocabulary, self.script, self.prepare_image)

    def collate(self, batch: list) -> dict:
        return collate_lines(batch)
