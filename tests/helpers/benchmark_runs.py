"""Run a benchmark in a subprocess as its README command does, and read its ratio lines."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RATIO = re.compile(r"^RATIO (\S+): (\d+\.\d+)x", re.MULTILINE)


def run(module: str, *args: str, timeout: int = 600) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{module}", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def ratios(output: str) -> dict[str, float]:
    return {name: float(value) for name, value in RATIO.findall(output)}
