"""The modality-agnostic half of every DataModule: corpus + protocol -> splits.

Speech and vision subclass :class:`CorpusDataModule` and supply only how an item
becomes a tensor (``make_dataset``) and how tensors become a batch (``collate``), plus
optionally how a split is cut into batches (``batch_sampler``, e.g. length buckets); the
selection of items, the leakage guard, the no-dev fallback and the order of evaluated
splits live here once.
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
        on_bad_item: ``raise`` on the first unusable item (naming it and the fault), or
            ``skip`` bad items, counted and reported in ``skip_report`` and the run log.
    """

    #: set by each subclass from its own arguments (their meaning and defaults differ: items,
    #: texts or images per batch, or a cap when speech batches by duration)
    batch_size: int = 16
    num_workers: int = 0

    def __init__(self, source: CorpusSource, protocol: Protocol, on_bad_item: OnBadItem = "raise"):
        super().__init__()
        self.source = source
        self.protocol = protocol
        self.on_bad_item = on_bad_item
        self.skip_report = SkipReport()
        self.corpus: Corpus | None = None
        self.selection: Selection | None = None
        self._datasets: dict[tuple[str, bool], Dataset] = {}

    def check_item(self, item: Item) -> None:
        """Raise a DataError if ``item`` cannot be used; subclasses check their signal."""

    # -- what subclasses provide -------------------------------------------------------
    def make_dataset(self, items: list[Item], train: bool) -> Dataset:
        raise NotImplementedError

    def collate(self, batch: list):
        raise NotImplementedError

    def batch_sampler(self, dataset: Dataset, train: bool):
        """A batch sampler for ``dataset``; None: ``batch_size`` items, shuffled when training."""
        return None

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

    @property
    def predict_splits(self) -> list[str]:
        """``predict_dataloader``'s splits: the evaluated ones, then ``dev`` (for calibration) when present."""
        dev = ["dev"] if self.selection["dev"] and "dev" not in self.eval_splits else []
        return [*self.eval_splits, *dev]

    def eval_items(self, split: str) -> list[Item]:
        return self.selection[split]

    def dataset(self, split: str, train: bool = False) -> Dataset:
        """One dataset per split (and mode), so what it keeps in memory is reused across epochs."""
        if self.selection is None:
            self.setup()
        if (split, train) not in self._datasets:
            self._datasets[split, train] = self.make_dataset(self.selection[split], train)
        return self._datasets[split, train]

    def split_loader(self, split: str, train: bool = False) -> DataLoader:
        """The loader of one split (batches carry ``index``: the item's position in the split)."""
        dataset = self.dataset(split, train)
        return self._loader(dataset, train, self.batch_sampler(dataset, train))

    @property
    def fit_dev_split(self) -> str:
        """The split validation runs on: ``dev``, or ``train`` when the corpus has no dev items."""
        if self.selection is None:
            self.setup()
        if not self.selection["dev"]:
            log.warning("protocol %s: no dev items; validating on the training split", self.protocol.tag)
            return "train"
        return "dev"

    def loader(self, items: list[Item], train: bool = False) -> DataLoader:
        """A loader over any items (not cached)."""
        dataset = self.make_dataset(items, train)
        return self._loader(dataset, train, self.batch_sampler(dataset, train))

    def _loader(self, dataset: Dataset, train: bool, sampler) -> DataLoader:
        common = {
            "num_workers": self.num_workers,
            "collate_fn": self.collate,
            "persistent_workers": self.num_workers > 0,
        }
        if sampler is not None:
            return DataLoader(dataset, batch_sampler=sampler, **common)
        return DataLoader(dataset, batch_size=self.batch_size, shuffle=train, **common)

    def train_dataloader(self) -> DataLoader:
        return self.split_loader("train", train=True)

    def val_dataloader(self) -> DataLoader:
        return self.split_loader(self.fit_dev_split)

    def test_dataloader(self) -> list[DataLoader]:
        return [self.split_loader(split) for split in self.eval_splits]

    def predict_dataloader(self) -> list[DataLoader]:
        return [self.split_loader(split) for split in self.predict_splits]
