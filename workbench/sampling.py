"""Length-bucketed batching: a batch holds clips of similar duration, so little is padding.

Built on speechbrain's :class:`~speechbrain.dataio.sampler.DynamicBatchSampler`, which
fills duration buckets up to a total length per batch and shuffles deterministically
from ``seed + epoch``. This wrapper adds what training runs need on top:

- sharding whole batches across DDP ranks (every rank gets the same number of batches,
  so no rank waits forever on a collective),
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
        everything = [list(map(int, b)) for b in self._speechbrain_sampler()]
        per_rank = len(everything) // self.world_size if self.world_size > 1 else len(everything)
        if per_rank == 0:
            raise ValueError(f"{len(everything)} batches cannot feed {self.world_size} ranks")
        mine = everything[self.rank :: self.world_size][:per_rank]
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
