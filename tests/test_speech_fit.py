"""``python -m speech.fit``: the run directory, exact mid-epoch resume, 2-process DDP on CPU."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from speech.fit import main
from tests.helpers.speech_runs import tiny_args

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def root(tiny_corpus, tiny_root):
    return tiny_root


def test_fit_writes_the_run_directory(root, tmp_path):
    run = tmp_path / "run"
    main(tiny_args(root, run, "--trainer.max_epochs=2", "-c", str(REPO / "configs/protocol/zero_shot.yaml")))
    assert (run / "config.yaml").is_file()
    assert (run / "checkpoints" / "best.ckpt").is_file()  # one naming for every program (workbench.program)
    assert (run / "checkpoints" / "last.ckpt").is_file()
    assert (run / "tensorboard").is_dir() and (run / "csv" / "metrics.csv").is_file()
    metrics = json.loads((run / "metrics.json").read_text())
    assert (
        metrics["record"]["system"] == "e2e-conv"
        and metrics["record"]["protocol"]["name"] == "zero_shot"
        and metrics["record"]["protocol"]["sources"] == ["eng"]
        and metrics["record"]["seed"] == 0
    )
    assert set(metrics["splits"]) == {"test", "test_unseen"}
    # zero-shot from eng evaluates every language of the corpus
    assert set(metrics["splits"]["test"]["per_language"]) == {"eng", "deu", "rus", "tha"}
    predictions = [json.loads(line) for line in (run / "predictions.jsonl").read_text().splitlines()]
    assert len(predictions) == sum(s["overall"]["n"] for s in metrics["splits"].values())
    assert {p["split"] for p in predictions} == {"test", "test_unseen"}


def test_print_config(root, tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(tiny_args(root, tmp_path / "run", "--print_config"))
    printed = capsys.readouterr().out
    assert "speech.encoders.conv.ConvEncoder" in printed and "run_dir" in printed


def step_checkpoint_args(run: Path) -> list[str]:
    return [
        "--trainer.callbacks+=lightning.pytorch.callbacks.ModelCheckpoint",
        f"--trainer.callbacks.dirpath={run}/steps",
        "--trainer.callbacks.filename={step}",
        "--trainer.callbacks.every_n_train_steps=2",
        "--trainer.callbacks.save_top_k=-1",
    ]


def results(run: Path) -> tuple[dict, list[str]]:
    metrics = json.loads((run / "metrics.json").read_text())
    return metrics["splits"], (run / "predictions.jsonl").read_text().splitlines()


def test_mid_epoch_resume_is_exact(root, tmp_path):
    """Stopped mid-epoch at step 6 and resumed from its checkpoint == never stopped."""
    common = ["--trainer.max_epochs=3", "--model.encoder.init_args.dropout=0.2"]
    a, b = tmp_path / "a", tmp_path / "b"
    cli = main(tiny_args(root, a, *common, *step_checkpoint_args(a)))
    per_epoch = cli.trainer.num_training_batches
    assert per_epoch >= 3, per_epoch  # the stop below must fall inside an epoch
    stop = per_epoch + 2
    if stop % 2:
        stop += 1
    main(
        tiny_args(
            root,
            b,
            *common,
            *step_checkpoint_args(b),
            "--trainer.callbacks+=tests.helpers.speech_stand_ins.StopAtStep",
            f"--trainer.callbacks.step={stop}",
        )
    )
    ckpt = b / "steps" / f"step={stop}.ckpt"
    assert ckpt.is_file() and stop % per_epoch != 0
    main(tiny_args(root, b, *common, *step_checkpoint_args(b), f"--ckpt_path={ckpt}"))
    assert results(a) == results(b)


@pytest.mark.slow
def test_resume_after_kill_9_is_exact(root, tmp_path):
    """A subprocess killed with SIGKILL once a mid-epoch checkpoint exists, then resumed."""
    common = ["--trainer.max_epochs=3", "--model.encoder.init_args.dropout=0.2"]
    a, b = tmp_path / "a", tmp_path / "b"
    cli = main(tiny_args(root, a, *common, *step_checkpoint_args(a)))
    per_epoch = cli.trainer.num_training_batches
    target = next(s for s in range(per_epoch + 1, 3 * per_epoch) if s % 2 == 0 and s % per_epoch)
    cmd = [sys.executable, "-m", "speech.fit", *tiny_args(root, b, *common, *step_checkpoint_args(b))]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpt = b / "steps" / f"step={target}.ckpt"
    # the loop ends when the checkpoints exist or the process has ended by itself (then the assert says so)
    while not (ckpt.is_file() and (b / "steps" / f"step={target + 2}.ckpt").exists()) and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be killed mid-epoch"
    proc.send_signal(signal.SIGKILL)  # not os.kill: once poll() has reaped it, the pid may be another process's
    proc.wait()
    assert not (b / "metrics.json").exists()
    main(tiny_args(root, b, *common, *step_checkpoint_args(b), f"--ckpt_path={ckpt}"))
    assert results(a) == results(b)


def test_ddp_two_cpu_processes_shard_the_batches(root, tmp_path):
    from speech.data import SpeechDataModule
    from speech.sources import Embedded
    from workbench.protocols import Protocol

    data = SpeechDataModule(Embedded(root=str(root), tiny=True), Protocol("in_language", ["eng"]), 6, 0, 120.0)
    data.setup()
    batches = len(data.train_dataloader())  # one process, one epoch
    ddp = tmp_path / "ddp"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "speech.fit", *tiny_args(root, ddp, "--trainer.max_epochs=1")]
    cmd += ["--trainer.strategy=ddp", "--trainer.devices=2", "--trainer.accelerator=cpu"]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    two = json.loads((ddp / "metrics.json").read_text())
    # each rank trained on its half of the batches: half the optimizer steps per epoch
    assert batches >= 2 and two["record"]["training"]["steps"] == batches // 2
    # evaluation still covers every item once
    assert two["splits"]["test"]["overall"]["n"] == len(data.eval_items("test"))
