"""Memory of a speech training loader: summed PSS of the main process and its DataLoader workers.

Run in a fresh interpreter by ``tests/test_audio_memory.py`` (so the figure holds only this
loader's memory)::

    python tests/audio_memory_probe.py MANIFEST --workers 4 --epochs 2

It iterates ``SpeechDataModule.train_dataloader()`` (persistent workers, length buckets) for
``--epochs`` epochs and prints one JSON line: the largest summed PSS at an epoch's end (the
workers still alive, no batch in flight), the clips and audio seconds delivered. PSS
(proportional set size, ``/proc/<pid>/smaps_rollup``) divides each shared page among the
processes mapping it, so the sum over processes counts shared pages once.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


def pss_bytes(pid: int) -> int:
    """Proportional set size of one process (0 when it is gone)."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return 0
    return next(int(line.split()[1]) * 1024 for line in text.splitlines() if line.startswith("Pss:"))


def child_pids(pid: int) -> list[int]:
    """Direct children of ``pid`` (the DataLoader workers), read from every thread's ``children``."""
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        out += [int(p) for p in (task / "children").read_text().split()]
    return out


def pss_per_process() -> list[int]:
    """PSS in bytes of this process, then of each of its children."""
    return [pss_bytes(pid) for pid in [os.getpid(), *child_pids(os.getpid())]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("manifest")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-seconds", type=float, default=160.0)
    args = parser.parse_args()

    from speech.data import SpeechDataModule
    from workbench.data.sources import Manifest
    from workbench.protocols import Protocol

    data = SpeechDataModule(
        Manifest(args.manifest), Protocol("all_languages"), 64, args.workers, args.batch_seconds, seed=0
    )
    data.setup("fit")
    loader = data.train_dataloader()
    clips, samples, ends = 0, 0, []
    for epoch in range(args.epochs):
        loader.batch_sampler.set_epoch(epoch)
        for batch in loader:
            clips += len(batch["lengths"])
            samples += int(batch["lengths"].sum())
        del batch
        # between epochs no batch is in flight and the persistent workers hold only what they keep
        ends.append(pss_per_process())
    peak = max(ends, key=sum)
    result = {"pss_bytes": sum(peak), "per_process": peak, "clips": clips, "seconds": samples / 16000}
    print(json.dumps(result))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
