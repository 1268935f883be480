"""Length-bucketed batching: a batch holds clips of similar duration, so little is padding.

Built on speechbrain's :class:`~speechbrain.dataio.sampler.DynamicBatchSampler`, which
fills duration buckets up to a total length per batch and shuffles deterministically
from ``seed + epoch``. This wrapper adds what training runs need on top:

- sharding whole batches across DDP ranks: every rank gets the same number of batches, so
  no rank waits forever on a collective, and together they train on every item once per
  epoch (a batch count that does not divide evenly is evened out by halving the largest
  batches, never by dropping or repeating items),
- skipping the batches already trained on when a run resumes mid-epoch, so a resumed
  run sees exactly the batches an uninterrupted one would.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from torch.utils.data import Sampler

LENGTH_UNIT = 100  # length units per second: speechbrain keys lengths by integer


def quantile_boundaries(lengths: Sequence[int], num_buckets: int) -> list[int]:
    """Ascending, distinct bucket upper bounds at the quantiles of ``lengths``; the last is the max."""
    ordered = sorted(lengths)
    bounds = {ordered[max(0, len(ordered) * (i + 1) // num_buckets - 1)] for i in range(num_buckets)}
    bounds.add(ordered[-1])
    return sorted(bounds)


def divisible_batches(batches: list[list[int]], world_size: int) -> list[list[int]]:
    """``batches`` with the largest ones halved (in place, halves adjacent) until ``world_size`` divides their count.

    Halving keeps every item exactly once and each half within the batch's duration bucket.

    Raises:
        ValueError: too few items to give every rank a batch.

    Example:
        >>> divisible_batches([[0, 1, 2], [3, 4], [5]], 2)
        [[0], [1, 2], [3, 4], [5]]
    """
    batches = list(batches)
    while len(batches) % world_size:
        largest = max(range(len(batches)), key=lambda k: len(batches[k]))
        batch = batches[largest]
        if len(batch) < 2:
            raise ValueError(f"{len(batches)} one-item batches cannot be shared evenly by {world_size} ranks")
        batches[largest : largest + 1] = [batch[: len(batch) // 2], batch[len(batch) // 2 :]]
    return batches


class LengthBucketBatchSampler(Sampler[list[int]]):
    """Batches of item indices, bucketed by duration.

    Args:
        durations: duration in seconds of every item, in dataset order.
        max_batch_seconds: total audio per batch (before padding).
        max_batch_items: cap on items per batch.
        num_buckets: duration buckets (speechbrain spaces them geometrically).
        shuffle: shuffle items and batches every epoch (deterministic from seed + epoch).
        seed: shuffling seed.
        rank, world_size: DDP shard of this process (batches are dealt round-robin).

    Example:
        >>> sampler = LengthBucketBatchSampler([1.0, 1.1, 5.0, 5.2], max_batch_seconds=11, num_buckets=2, shuffle=False)
        >>> sorted(sorted(b) for b in sampler)
        [[0, 1], [2, 3]]
    """

    def __init__(
        self,
        durations: Sequence[float],
        max_batch_seconds: float = 60.0,
        max_batch_items: int | None = 64,
        num_buckets: int = 8,
        shuffle: bool = True,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
    ):
        if not durations:
            raise ValueError("LengthBucketBatchSampler: no items to batch")
        if max(durations) > max_batch_seconds:
            raise ValueError(
                f"max_batch_seconds={max_batch_seconds} is shorter than the longest item ({max(durations):.1f} s)"
            )
        self.durations = list(durations)
        self.max_batch_seconds = max_batch_seconds
        self.max_batch_items = max_batch_items
        self.num_buckets = max(1, min(num_buckets, len(durations)))
        self.shuffle, self.seed = shuffle, seed
        self.rank, self.world_size = rank, world_size
        self.epoch = 0
        self._skip = 0
        self._cached: tuple[int, list[list[int]]] | None = None

    def _speechbrain_sampler(self):
        from speechbrain.dataio.sampler import DynamicBatchSampler

        lengths = [max(1, round(d * LENGTH_UNIT)) for d in self.durations]
        return DynamicBatchSampler(
            # buckets at the quantiles of *these* durations (speechbrain's default spreads them
            # up to max_batch_length, which leaves short corpora with one-item batches)
            bucket_boundaries=quantile_boundaries(lengths, self.num_buckets),
            dataset=range(len(lengths)),
            max_batch_length=round(self.max_batch_seconds * LENGTH_UNIT),
            lengths_list=lengths,
            shuffle=self.shuffle,
            batch_ordering="random" if self.shuffle else "ascending",
            max_batch_ex=self.max_batch_items,
            seed=self.seed,
            epoch=self.epoch,
        )

    def batches(self) -> list[list[int]]:
        """This rank's batches for the current epoch, before any resume skip."""
        if self._cached is not None and self._cached[0] == self.epoch:
            return self._cached[1]
        everything = divisible_batches([list(map(int, b)) for b in self._speechbrain_sampler()], self.world_size)
        mine = everything[self.rank :: self.world_size]
        self._cached = (self.epoch, mine)
        return mine

    def set_epoch(self, epoch: int) -> None:
        """Called by Lightning at every epoch start: reshuffle deterministically."""
        self.epoch = epoch

    def skip_next(self, batches: int) -> None:
        """Make the next iteration start after ``batches`` batches (mid-epoch resume)."""
        self._skip = batches

    def __iter__(self) -> Iterator[list[int]]:
        skip, self._skip = self._skip, 0
        yield from self.batches()[skip:]

    def __len__(self) -> int:
        return len(self.batches())
