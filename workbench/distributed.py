"""Work done once under DDP: shard it over the ranks, then give every rank every result.

Lightning starts one process per device and runs ``setup`` and evaluation in each of them.
What is computed per item (a transcript, a romanization, a prediction) is dealt out over
the ranks here instead of being repeated by each, and the results are gathered with
``torch.distributed.all_gather_object`` so that every rank continues with the whole table
(only rank 0 writes the run directory). A process without an initialised process group is
rank 0 of 1: everything below is then the plain single-process computation.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from typing import TypeVar

import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset, DistributedSampler

T = TypeVar("T")
R = TypeVar("R")


def rank_and_world() -> tuple[int, int]:
    """``(rank, world size)`` of this process; ``(0, 1)`` without a process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


# what Lightning writes into os.environ when it sets DDP up (its launcher's children read them)
DIST_ENV = ("MASTER_ADDR", "MASTER_PORT", "NODE_RANK", "LOCAL_RANK", "RANK", "WORLD_SIZE")


@contextmanager
def program_scope():
    """Run a program, then leave no process group and no DDP variables behind.

    A program run inside a longer-lived process (a test, the demo's in-process training) would
    otherwise leave ``LOCAL_RANK`` in ``os.environ``, and a DDP program it starts later would
    take itself for an already-launched rank and wait for ranks nobody starts.
    """
    before = {name: os.environ.get(name) for name in DIST_ENV}
    try:
        yield
    finally:
        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def gathered(value: T) -> list[T]:
    """Every rank's ``value``, in rank order (``[value]`` alone). Every rank must call it."""
    _, world = rank_and_world()
    if world == 1:
        return [value]
    out: list = [None] * world
    dist.all_gather_object(out, value)
    return out


def compute_once(todo: Mapping[str, T], compute: Callable[[dict[str, T]], dict[str, R]]) -> dict[str, R]:
    """``compute`` over every key that some rank has in ``todo``, each key on one rank only.

    The union of the ranks' ``todo`` (a rank may see a cache another job wrote meanwhile) is
    sorted by key and dealt round robin; each rank computes its share (``compute`` also
    stores it, e.g. in a cache all ranks can read) and every rank gets every result.
    Every rank must call it, with or without work (it synchronises the ranks).
    """
    rank, world = rank_and_world()
    if world == 1:
        return compute(dict(todo)) if todo else {}
    union: dict[str, T] = {}
    for part in gathered(dict(todo)):
        union.update(part)
    mine = dict(sorted(union.items())[rank::world])
    results: dict[str, R] = {}
    for part in gathered(compute(mine) if mine else {}):
        results.update(part)
    return results


class _Batches(Dataset):
    """Whole batches of ``dataset``: item ``b`` is the list of samples of batch ``b``."""

    def __init__(self, dataset: Dataset, batches: list[list[int]]):
        self.dataset, self.batches = dataset, batches

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, index: int) -> list:
        return [self.dataset[i] for i in self.batches[index]]


class _RankShare(DistributedSampler):
    """Batches ``rank, rank + world, ...``: no item repeated (torch's sampler pads), none left out.

    A DistributedSampler, so that Lightning, seeing one, does not shard the loader again.
    """

    def __init__(self, batches: _Batches, rank: int, world: int):
        super().__init__(batches, num_replicas=world, rank=rank, shuffle=False, drop_last=False)
        self.mine = list(range(rank, len(batches), world))

    def __iter__(self):
        return iter(self.mine)

    def __len__(self) -> int:
        return len(self.mine)


def rank_share(loader: DataLoader, rank: int, world: int) -> DataLoader:
    """This rank's share of ``loader``'s batches, the batches themselves unchanged.

    Dealing whole batches (not items, as torch's DistributedSampler does) keeps every batch
    as one process would build it, padding included, so the predictions are the single
    process's, and no item is predicted twice.
    """
    batches = _Batches(loader.dataset, [list(b) for b in loader.batch_sampler])
    return DataLoader(
        batches,
        batch_size=None,  # each element is already a batch's samples; collate_fn pads them
        sampler=_RankShare(batches, rank, world),
        collate_fn=loader.collate_fn,
        num_workers=loader.num_workers,
    )
