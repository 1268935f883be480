"""The modality-agnostic half of every DataModule: corpus + protocol -> splits.

Speech and vision subclass :class:`CorpusDataModule` and supply only how an item
becomes a tensor (``make_dataset``) and how tensors become a batch (``collate``); the
selection of items, the leakage guard and the order of evaluated splits live here once.
"""

from __future__ import annotations

import logging

import lightning as L
from torch.utils.data import DataLoader, Dataset

from workbench.data.sources import CorpusSource
from workbench.data.validate import OnBadItem, SkipReport, keep_good
from workbench.items import Corpus, Item
from workbench.protocols import Protocol, Selection

log = logging.getLogger(__name__)


class CorpusDataModule(L.LightningDataModule):
    """Loads a corpus from ``source`` and splits it by ``protocol``.

    Args:
        source: where the corpus comes from (``class_path`` in config).
        protocol: in_language / all_languages / zero_shot, with source languages.
        batch_size: items per batch (speech may bucket by length instead).
        num_workers: DataLoader worker processes.
        on_bad_item: ``raise`` on the first unusable item (naming it and the fault), or
            ``skip`` bad items, counted and reported in ``skip_report`` and the run log.
    """

    def __init__(
        self,
        source: CorpusSource,
        protocol: Protocol,
        batch_size: int = 16,
        num_workers: int = 0,
        on_bad_item: OnBadItem = "raise",
    ):
        super().__init__()
        self.source = source
        self.protocol = protocol
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.on_bad_item = on_bad_item
        self.skip_report = SkipReport()
        self.corpus: Corpus | None = None
        self.selection: Selection | None = None

    def check_item(self, item: Item) -> None:
        """Raise a DataError if ``item`` cannot be used; subclasses check their signal."""

    # -- what subclasses provide -------------------------------------------------------
    def make_dataset(self, items: list[Item], train: bool) -> Dataset:
        raise NotImplementedError

    def collate(self, batch: list):
        raise NotImplementedError

    # -- shared ------------------------------------------------------------------------
    def prepare_data(self) -> None:
        # builds/caches the corpus once (e.g. generating the embedded default) before DDP forks
        self.source.load_for(self.protocol)

    def setup(self, stage: str | None = None) -> None:
        if self.selection is not None:
            return
        self.corpus = self.source.load_for(self.protocol)
        self.selection = self.protocol.select(self.corpus)
        for split, items in self.selection.splits.items():
            self.selection.splits[split] = keep_good(items, self.check_item, self.on_bad_item, self.skip_report)
        self.skip_report.log(f"data for protocol {self.protocol.tag}")
        counts = {split: len(items) for split, items in self.selection.splits.items()}
        log.info(
            "protocol %s: %s (dropped %d for leakage)", self.protocol.tag, counts, self.selection.dropped_for_leakage
        )

    @property
    def label_names(self) -> list[str]:
        if self.corpus is None:
            self.setup()
        return self.corpus.label_names

    @property
    def num_classes(self) -> int:
        return len(self.label_names)

    @property
    def eval_splits(self) -> list[str]:
        """Splits evaluated after training, in ``test_dataloader``'s order (dataloader_idx)."""
        return [s for s in self.protocol.eval_splits if self.selection[s]]

    def eval_items(self, split: str) -> list[Item]:
        return self.selection[split]

    def loader(self, items: list[Item], train: bool = False) -> DataLoader:
        return DataLoader(
            self.make_dataset(items, train),
            batch_size=self.batch_size,
            shuffle=train,
            num_workers=self.num_workers,
            collate_fn=self.collate,
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self.loader(self.selection["train"], train=True)

    def val_dataloader(self) -> DataLoader:
        return self.loader(self.selection["dev"] or self.selection["train"])

    def test_dataloader(self) -> list[DataLoader]:
        return [self.loader(self.selection[split]) for split in self.eval_splits]

    def predict_dataloader(self) -> list[DataLoader]:
        return self.test_dataloader()
