"""Two runs of the same config and seed give the same predictions and metrics, on every program.

Each run is its own process through the real command line (``python -m <program>``), so Python's
per-process hash seed and whatever else a process starts with cannot leak into the results, nor
can the machine's load (nothing is timed). Only timing fields and the run directory's own path
may differ. Both runs use the same number of torch threads: results DO depend on it (CPU
reductions split differently; measured: 1 vs 2 threads gave probabilities ~1e-3 apart after 3
tiny epochs of speech.fit), so a run is reproducible on the same thread count, which defaults
to the machine's cores or the sweep worker's share, not to the load.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.runs import RunDir

pytestmark = pytest.mark.long  # several real trainings in fresh processes: beyond the default run's budget

REPO = Path(__file__).resolve().parents[1]
EMBEDDED = REPO / "configs" / "embedded"
TIMING = ("seconds", "device")  # durations, and what they were measured on (its thread count differs)
THREADS = 1  # train_seconds, train_cpu_seconds, ... (any key naming a duration)


def run(program: str, args: list[str], run_dir: Path, threads: int) -> Path:
    """``python -m program args`` in a fresh process; returns the run directory."""
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.pop("XLING_NUM_THREADS", None)
    command = [sys.executable, "-m", program, *args, f"--threads={threads}", f"--run_dir={run_dir}"]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return run_dir


def comparable(value, run_dir: Path):
    """``value`` without timing fields, with the run directory's path replaced by ``<run>``."""
    if isinstance(value, dict):
        return {k: comparable(v, run_dir) for k, v in value.items() if not any(t in k for t in TIMING)}
    if isinstance(value, list):
        return [comparable(v, run_dir) for v in value]
    if isinstance(value, str):
        return value.replace(str(run_dir), "<run>")
    return value


def results(run_dir: Path) -> tuple[dict, list[dict]]:
    metrics = json.loads((run_dir / "metrics.json").read_text())
    path = run_dir / ("predictions.jsonl" if (run_dir / "predictions.jsonl").is_file() else "transcripts.jsonl")
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return comparable(metrics, run_dir), comparable(rows, run_dir)


def assert_same(program: str, args: list[str], tmp_path: Path) -> Path:
    """Run twice; the metrics and every prediction must be equal."""
    first = run(program, args, tmp_path / "a", threads=THREADS)
    second = run(program, args, tmp_path / "b", threads=THREADS)
    (metrics_a, rows_a), (metrics_b, rows_b) = results(first), results(second)
    assert rows_a and rows_a == rows_b
    assert metrics_a == metrics_b
    return first


def tiny_speech_data(root: Path) -> list[str]:
    return [
        "--data.source=speech.sources.Embedded",
        f"--data.source.init_args.root={root}",
        "--data.source.init_args.tiny=true",
    ]


# a few epochs: enough steps for rounding differences to grow into different predictions
TRAINER = ["--trainer.max_epochs=3", "--trainer.max_steps=-1", "--trainer.min_steps=0"]
SMALL_CONV = ["--model.encoder.init_args.dim=32", "--model.encoder.init_args.num_blocks=2"]


@pytest.fixture(scope="module")
def root(tiny_corpus, tiny_root):
    return tiny_root


def test_speech_fit_is_reproducible(root, tmp_path):
    args = ["-c", str(EMBEDDED / "speech.yaml"), *tiny_speech_data(root), *SMALL_CONV, *TRAINER]
    assert_same("speech.fit", [*args, "--data.batch_size=8", f"--model.cache_dir={tmp_path}/cache"], tmp_path)


@pytest.fixture(scope="module")
def recognizer(root, tmp_path_factory):
    """The tiny romanized recognizer, trained twice: both runs must agree; returns one checkpoint."""
    folder = tmp_path_factory.mktemp("asr")
    args = ["-c", str(EMBEDDED / "asr.yaml"), *tiny_speech_data(root), *SMALL_CONV, *TRAINER]
    run_dir = assert_same("cascade.fit_asr", args, folder)
    return str(RunDir(run_dir).best_checkpoint())


def test_cascade_fit_asr_is_reproducible(recognizer):
    assert Path(recognizer).is_file()


def test_cascade_fit_is_reproducible(root, recognizer, tmp_path):
    # separate caches per run (the cache dir is not a timing field but the same for both),
    # so the second run transcribes again instead of reading the first run's transcripts
    args = ["-c", str(EMBEDDED / "cascade.yaml"), *tiny_speech_data(root), *TRAINER]
    args += [f"--data.recognizer.init_args.checkpoint={recognizer}", "--model.model.init_args.num_buckets=4096"]
    first = run("cascade.fit", [*args, f"--data.cache_dir={tmp_path}/cache"], tmp_path / "a", threads=1)
    second = run("cascade.fit", [*args, f"--data.cache_dir={tmp_path}/cache2"], tmp_path / "b", threads=2)
    (metrics_a, rows_a), (metrics_b, rows_b) = results(first), results(second)
    assert rows_a and rows_a == rows_b
    assert comparable(metrics_a, Path(f"{tmp_path}/cache")) == comparable(metrics_b, Path(f"{tmp_path}/cache2"))


def test_vision_fit_is_reproducible(tmp_path):
    args = ["-c", str(EMBEDDED / "vision.yaml"), f"--data.source.init_args.root={tmp_path}/digits"]
    args += ["--data.source.init_args.tiny=true", "--data.batch_size=32", *TRAINER]
    assert_same("vision.fit", args, tmp_path)
