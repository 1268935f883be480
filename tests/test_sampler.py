"""Length-bucketed batching: similar durations per batch, deterministic epochs, DDP shards, resume skip."""

from __future__ import annotations

import random

import pytest

from workbench.sampling import LengthBucketBatchSampler


def durations(n: int = 200, seed: int = 0) -> list[float]:
    rng = random.Random(seed)
    return [rng.uniform(0.5, 8.0) for _ in range(n)]


def padding_fraction(batches, lengths) -> float:
    padded = sum(len(b) * max(lengths[i] for i in b) for b in batches)
    return 1 - sum(lengths) / padded


def test_buckets_cut_padding_compared_with_random_batches():
    lengths = durations()
    sampler = LengthBucketBatchSampler(lengths, max_batch_seconds=40, seed=3)
    batches = list(sampler)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))  # every item once
    assert all(sum(lengths[i] for i in b) <= 40 for b in batches)
    rng = random.Random(0)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    size = round(len(lengths) / len(batches))
    random_batches = [order[i : i + size] for i in range(0, len(order), size)]
    assert padding_fraction(batches, lengths) < 0.5 * padding_fraction(random_batches, lengths)


def test_epochs_are_deterministic_and_differ():
    a = LengthBucketBatchSampler(durations(), max_batch_seconds=40, seed=1)
    b = LengthBucketBatchSampler(durations(), max_batch_seconds=40, seed=1)
    assert list(a) == list(b)
    first = list(a)
    a.set_epoch(1)
    assert list(a) != first
    b.set_epoch(1)
    assert list(a) == list(b)


def test_ddp_shards_are_disjoint_and_equal_in_count():
    shards = [
        list(LengthBucketBatchSampler(durations(), max_batch_seconds=40, seed=1, rank=r, world_size=2)) for r in (0, 1)
    ]
    assert len(shards[0]) == len(shards[1]) > 0
    seen = [set(i for b in shard for i in b) for shard in shards]
    assert not seen[0] & seen[1]


@pytest.mark.parametrize("world_size", [2, 3, 4])
@pytest.mark.parametrize("seed", range(6))
def test_ddp_shards_together_cover_every_item_once(world_size, seed):
    """Every item is trained on once per epoch whatever the batch count: none dropped, none repeated."""
    lengths = durations(97, seed)
    shards = [
        list(LengthBucketBatchSampler(lengths, max_batch_seconds=40, seed=seed, rank=r, world_size=world_size))
        for r in range(world_size)
    ]
    assert len({len(shard) for shard in shards}) == 1  # no rank waits on a collective the others skip
    trained = sorted(i for shard in shards for b in shard for i in b)
    assert trained == list(range(len(lengths)))
    assert all(sum(lengths[i] for i in b) <= 40 for shard in shards for b in shard)


def test_skip_next_resumes_mid_epoch():
    sampler = LengthBucketBatchSampler(durations(), max_batch_seconds=40, seed=1)
    sampler.set_epoch(2)
    full = list(sampler)
    sampler.skip_next(5)
    assert list(sampler) == full[5:]
    assert list(sampler) == full  # the skip applies once
