"""``python -m benchmarks.gpu --quick``: the GPU check's three rows on CPU with tiny shapes (no timing asserted).

The check itself is for a GPU machine (``bash benchmarks/gpu.sh``, benchmarks/README.md); here it
must run end to end and print its one table, each row with its figures and no failure.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.timeout(900)
@pytest.mark.slow
def test_gpu_check_quick_prints_its_table(tiny_corpus, tiny_root, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.gpu", "--quick", "--data-root", str(tiny_root), "--work-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = dict(re.findall(r"^\| ([^|]+?) \| CPU \| ([^|]+) \|$", proc.stdout, re.MULTILINE))
    assert list(rows) == [
        "e2e XLS-R 300m bf16 training",
        "Whisper large-v3 batched vs per-file",
        "main job --trainer.accelerator=gpu",
    ]
    assert re.search(r"[\d.]+ clips/s, [\d,]+ tokens/s, [\d.]+ TFLOP/s, MFU", rows["e2e XLS-R 300m bf16 training"])
    # tiny, float32 on CPU: batched decoding gives per-file transcribe's transcripts exactly
    assert re.search(r"= [\d.]+x; same transcripts 4/4", rows["Whisper large-v3 batched vs per-file"])
    # the two runs of the main job (both on CPU here) are the same deterministic run
    assert "equal within noise" in rows["main job --trainer.accelerator=gpu"]
    assert "difference 0.0000" in rows["main job --trainer.accelerator=gpu"]
