"""torch.profiler on CPU: where the time goes (top ops) and the peak of live tensor memory."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import torch
from torch.profiler import ProfilerActivity, profile


def peak_tensor_bytes(prof) -> int | None:
    """Peak bytes of live CPU tensors during a profile (torch's memory timeline; None if unavailable)."""
    try:
        from torch.profiler._memory_profiler import MemoryProfileTimeline

        timeline = MemoryProfileTimeline(prof._memory_profile())
        _, sizes = timeline._coalesce_timeline(torch.device("cpu"))
        return int(max(sum(row) for row in sizes)) if sizes else None
    except Exception:  # a private API: never let it break a benchmark
        return None


def profiled(fn: Callable[[], object], row_limit: int = 12, memory: bool = True) -> tuple[str, int | None, float]:
    """Run ``fn`` under the CPU profiler with memory tracking.

    Returns:
        ``(table of the top ops by self CPU time, peak live tensor bytes or None, profiled seconds)``.
    """
    import time

    with contextlib.ExitStack() as stack:
        prof = stack.enter_context(
            profile(activities=[ProfilerActivity.CPU], profile_memory=memory, record_shapes=memory, with_stack=memory)
        )
        start = time.perf_counter()
        fn()
        seconds = time.perf_counter() - start
    table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=row_limit, max_name_column_width=48)
    return table, peak_tensor_bytes(prof) if memory else None, seconds
