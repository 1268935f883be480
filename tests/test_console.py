"""The main job's console (README's quick start, ``python -m speech.fit -c configs/embedded/speech.yaml``)
shows only what a user can act on: no Python warning at all (LightningCLI's args-and-sys.argv
warning, Lightning's deprecations, its custom-sampler and srun hints), no logger advertisement,
and training progress against the step budget (``epoch e · step s/budget``), not ``Epoch 0/-2``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOT_ON_THE_CONSOLE = (
    "LightningCLI's args parameter",
    "deprecated",
    "custom batch sampler",
    "srun",
    "litlogger",
    "Tip:",
    "/-2",
)


@pytest.fixture(scope="module")
def console(tiny_corpus, tiny_root, tmp_path_factory) -> str:
    """Everything the main job prints (stdout and stderr) on the tiny corpus with a 4-step budget."""
    run_dir = tmp_path_factory.mktemp("console") / "run"
    tiny = [
        f"--data.source.init_args.root={tiny_root}",
        "--data.source.init_args.tiny=true",
        "--model.encoder.init_args.dim=32",
        "--model.encoder.init_args.num_blocks=1",
        "--data.batch_size=6",
        "--trainer.max_steps=4",
        "--trainer.limit_train_batches=2",  # two epochs of two steps: the second one validated, then stopped
        "--trainer.min_steps=0",
        "--trainer.log_every_n_steps=1",
        "--threads=1",
        f"--run_dir={run_dir}",
    ]
    cmd = [sys.executable, "-m", "speech.fit", "-c", "configs/embedded/speech.yaml", *tiny]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}  # the warnings a user's shell shows
    result = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout + result.stderr


def test_the_main_job_prints_no_warning(console):
    warnings = re.findall(r"^.*\.py:\d+: .*$", console, re.M)  # how Python prints any warning
    assert not warnings, warnings
    for text in NOT_ON_THE_CONSOLE:
        assert text not in console, text


def test_progress_is_told_against_the_step_budget(console):
    # the last training step, with the early-stopping patience of the shipped config (8 checks)
    assert re.search(r"epoch 1 · step 4/4 · patience \d/8", console), console[-3000:]
