"""Kill a sweep-like command (``workbench.sweep``, ``workbench.tune``) while one of its points runs."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path


def running_points(runs: Path) -> list[Path]:
    """Run directories under ``runs`` whose ``run.log`` a live process holds open as its output
    (Linux /proc): a point's process, however it was started (forked or a new interpreter); a
    zombie has closed its files, so only processes that can still write are listed."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                targets = [os.readlink(fd) for fd in (entry / "fd").iterdir()]
            except OSError:  # ended while we looked
                continue
            found += [Path(t).parent for t in targets if t.startswith(f"{runs}/") and t.endswith("/run.log")]
    return found


def kill_mid_point(command: list[str], runs: Path, timeout: float = 120) -> dict[Path, int]:
    """Start ``command``, SIGKILL it once 2 points under ``runs`` are done and the next one's process
    is running (not merely exiting); return the finished points' ``metrics.json`` mtimes."""
    process = subprocess.Popen(command, env=os.environ.copy())
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not (
        len(list(runs.rglob("metrics.json"))) >= 2
        and any(not (run / "metrics.json").exists() for run in running_points(runs))
    ):
        time.sleep(0.1)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    return {p: p.stat().st_mtime_ns for p in runs.rglob("metrics.json")}
