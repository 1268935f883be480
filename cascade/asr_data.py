"""Batches for training a CTC recognizer: the speech batches plus character targets.

Built on :class:`speech.data.SpeechDataModule` (same audio loading, length bucketing and
protocols as the E2E path); the target of an item is its gold transcript in native
script (``item.text``) or romanized (``item.romanized``, uroman: SpeechTaxi's
language-agnostic transcription). The character vocabulary comes from the training
transcripts of every training language.
"""

from __future__ import annotations

import torch

from cascade.asr_text import Vocabulary
from speech.data import AudioDataset, SpeechDataModule, collate_waves
from workbench.data.sources import CorpusSource
from workbench.errors import DataError
from workbench.items import Item
from workbench.protocols import Protocol
from workbench.romanize import Script


def target_text(item: Item, script: Script) -> str:
    """The transcript an item is trained/scored on, in ``script``."""
    text = item.romanized if script == "romanized" else item.text
    if not text:
        field = "romanized" if script == "romanized" else "text"
        raise DataError(f"item '{item.id}'", field, f"a {script} transcript is needed to train/score a recognizer")
    return text


class TranscriptDataset(AudioDataset):
    """``(index, wave, label, key, target ids)`` per item."""

    def __init__(self, items: list[Item], vocabulary: Vocabulary, script: Script, max_seconds: float | None):
        super().__init__(items, max_seconds)
        self.targets = [vocabulary.encode(target_text(item, script)) for item in items]

    def __getitem__(self, index: int):
        return (*super().__getitem__(index), self.targets[index])


def with_targets(out: dict, targets: list[list[int]]) -> dict:
    """``out`` plus ``targets (B, S)`` (0-padded character ids) and ``target_lengths (B,)``."""
    lengths = torch.tensor([len(t) for t in targets])
    padded = torch.zeros(len(targets), max(1, int(lengths.max())), dtype=torch.long)
    for i, t in enumerate(targets):
        padded[i, : len(t)] = torch.tensor(t, dtype=torch.long)
    out.update(targets=padded, target_lengths=lengths)
    return out


def collate_transcripts(batch: list) -> dict:
    """The speech batch plus ``targets (B, S)`` (0-padded) and ``target_lengths (B,)``."""
    return with_targets(collate_waves([row[:4] for row in batch]), [row[4] for row in batch])


class ASRDataModule(SpeechDataModule):
    """Corpus + protocol -> speech batches with CTC targets.

    Args:
        source: where the corpus comes from (``class_path`` in config).
        protocol: usually ``all_languages`` (one recognizer for every language).
        script: ``native`` (item.text) or ``romanized`` (item.romanized) transcripts.
        batch_size: maximum items per batch.
        num_workers: DataLoader worker processes.
        max_batch_seconds: total audio per batch, for length bucketing.
        num_buckets: duration buckets.
        max_seconds: clips are cut to this length.
        seed: batch shuffling seed; None follows ``seed_everything``.
    """

    def __init__(
        self,
        source: CorpusSource,
        protocol: Protocol,
        script: Script = "romanized",
        batch_size: int = 32,
        num_workers: int = 0,
        max_batch_seconds: float = 120.0,
        num_buckets: int = 8,
        max_seconds: float | None = 30.0,
        seed: int | None = None,
    ):
        super().__init__(source, protocol, batch_size, num_workers, max_batch_seconds, num_buckets, max_seconds, seed)
        if script not in ("native", "romanized"):
            raise DataError("asr data", "script", f"unknown script '{script}', expected native or romanized")
        self.script = script
        self._vocabulary: Vocabulary | None = None

    @property
    def vocabulary(self) -> Vocabulary:
        if self._vocabulary is None:
            if self.selection is None:
                self.setup()
            self._vocabulary = Vocabulary.from_texts(target_text(i, self.script) for i in self.selection["train"])
        return self._vocabulary

    def make_dataset(self, items: list[Item], train: bool) -> TranscriptDataset:
        return TranscriptDataset(items, self.vocabulary, self.script, self.max_seconds)

    def collate(self, batch: list) -> dict:
        return collate_transcripts(batch)
