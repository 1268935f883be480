"""Speech batches: items -> padded 16 kHz waves, bucketed by duration.

A training batch is a dict::

    waves   (B, T) float32, zero-padded
    lengths (B,)   valid samples
    label   (B,)   class indices
    index   (B,)   position of the item in its split (to map predictions back)
    keys    list[str] content hash of each clip (the frozen-encoder cache key)
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os

import numpy as np
import torch
from torch.utils.data import Dataset, get_worker_info

from speech.audio import MAX_SECONDS, duration_seconds, load_audio
from workbench.data.sources import CorpusSource
from workbench.datamodule import CorpusDataModule
from workbench.errors import DataError
from workbench.items import Item
from workbench.protocols import Protocol
from workbench.sampling import LengthBucketBatchSampler

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number
MMAP_THRESHOLD = 128 * 1024  # bytes: glibc's default threshold, kept fixed


@functools.cache
def fix_mmap_threshold() -> None:
    """Keep glibc from moving large freed buffers (decoded clips, batches) into the heap.

    glibc raises its mmap threshold whenever an mmapped block is freed; clips and batches are
    then allocated from the heap, which keeps what is freed: each persistent worker grew by
    ~120 MiB over 2 epochs of 2,000 clips (160 s batches), with the threshold fixed it stayed at
    ~107 MiB. Set in each DataLoader worker only, never in the training process: there a fixed
    threshold sends every activation and gradient above 128 KiB through mmap/munmap, a page-fault
    storm that made the main job's training 1.8x slower (29 s of system time in 150 steps;
    benchmarks/README.md). No-op off glibc.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)


class AudioDataset(Dataset):
    """Items -> ``(index, wave (T,), label, content hash)``, each clip read from its file when a batch needs it.

    Nothing decoded is kept: a DataLoader worker lives as long as the run (persistent
    workers), and one that kept its clips would hold a copy of the corpus (SpeechTaxi's ~80 h
    are ~18 GB of float32, per worker). Sources store their audio prepared as 16 kHz mono
    FLAC, which decodes at hundreds of times real time: DataLoader workers overlap it with the
    training step; with no worker it costs a share of the step (~20 % for the tiny embedded
    model on 2 loaded cores, ``benchmarks/audio_reading.py``). What a worker reads per item
    (path, label) sits in numpy arrays, not Python objects, so a forked worker does not copy
    the pages holding them when it touches their reference counts.
    """

    def __init__(self, items: list[Item], max_seconds: float | None = MAX_SECONDS):
        self.items, self.max_seconds = items, max_seconds
        self.paths = np.array([str(item.audio) for item in items])
        self.labels = np.array([item.label for item in items], dtype=np.int64)

    def __len__(self) -> int:
        return len(self.items)

    def durations(self) -> list[float]:
        """Seconds per item, from file headers (no decoding), capped at ``max_seconds``."""
        cap = self.max_seconds or float("inf")
        out = []
        for item in self.items:
            if item.audio is None:
                raise DataError(f"item '{item.id}'", "audio", "no audio path")
            out.append(min(duration_seconds(item.audio), cap))
        return out

    def load(self, index: int) -> tuple[np.ndarray, str]:
        """The clip's ``(wave (T,) float32 16 kHz, sha1 of its samples)``, decoded now."""
        wave = load_audio(str(self.paths[index]), where=f"item '{self.items[index].id}'", max_seconds=self.max_seconds)
        return wave, hashlib.sha1(wave.tobytes()).hexdigest()

    def __getitem__(self, index: int):
        if get_worker_info() is not None:
            fix_mmap_threshold()  # once per worker process (cached)
        wave, key = self.load(index)
        return index, wave, int(self.labels[index]), key


def collate_waves(batch: list) -> dict:
    """``[(index, wave, label, key)]`` -> the padded batch dict documented above."""
    lengths = torch.tensor([len(wave) for _, wave, _, _ in batch])
    waves = torch.zeros(len(batch), int(lengths.max()))
    for row, (_, wave, _, _) in enumerate(batch):
        waves[row, : len(wave)] = torch.from_numpy(wave)
    return {
        "waves": waves,
        "lengths": lengths,
        "label": torch.tensor([label for _, _, label, _ in batch]),
        "index": torch.tensor([index for index, _, _, _ in batch]),
        "keys": [key for _, _, _, key in batch],
    }


class SpeechDataModule(CorpusDataModule):
    """Corpus + protocol -> length-bucketed batches of 16 kHz waves.

    Args:
        source: where the corpus comes from (``class_path`` in config).
        protocol: in_language / all_languages / zero_shot with source languages.
        batch_size: maximum items per batch.
        num_workers: DataLoader worker processes.
        max_batch_seconds: total audio per batch (before padding), for length bucketing.
        num_buckets: duration buckets.
        max_seconds: clips are cut to this length (Whisper's window is 30 s).
        seed: batch shuffling seed; None follows ``seed_everything`` (``PL_GLOBAL_SEED``).
    """

    def __init__(
        self,
        source: CorpusSource,
        protocol: Protocol,
        batch_size: int = 16,
        num_workers: int = 0,
        max_batch_seconds: float = 60.0,
        num_buckets: int = 8,
        max_seconds: float | None = MAX_SECONDS,
        seed: int | None = None,
    ):
        super().__init__(source, protocol)
        self.batch_size, self.num_workers = batch_size, num_workers
        self.max_batch_seconds, self.num_buckets, self.max_seconds = max_batch_seconds, num_buckets, max_seconds
        self.seed = seed
        self.resume_batches = 0  # set on mid-epoch resume: batches of this epoch already trained on

    def make_dataset(self, items: list[Item], train: bool) -> AudioDataset:
        return AudioDataset(items, self.max_seconds)

    def collate(self, batch: list) -> dict:
        return collate_waves(batch)

    def dataset(self, split: str, train: bool = False) -> AudioDataset:
        # one dataset per split whatever the mode: training and validation read the same files
        return super().dataset(split, False)

    def batch_sampler(self, dataset: AudioDataset, train: bool) -> LengthBucketBatchSampler:
        """Duration buckets; a mid-epoch resume skips the batches already trained on."""
        trainer = getattr(self, "trainer", None)
        distributed = train and trainer is not None and trainer.world_size > 1
        seed = self.seed if self.seed is not None else int(os.environ.get("PL_GLOBAL_SEED", 0))
        durations = dataset.durations()
        sampler = LengthBucketBatchSampler(
            durations,
            max_batch_seconds=max(self.max_batch_seconds, max(durations)),
            max_batch_items=self.batch_size,
            num_buckets=self.num_buckets,
            shuffle=train,
            seed=seed,
            # evaluation: every rank sees every item, rank 0 writes the results
            rank=trainer.global_rank if distributed else 0,
            world_size=trainer.world_size if distributed else 1,
        )
        if train and 0 < self.resume_batches < len(sampler):
            sampler.skip_next(self.resume_batches)
        if train:
            self.resume_batches = 0
        return sampler
