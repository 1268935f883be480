"""A demo under test: tiny training arguments, a free port, polling, a demo process, Debian's chromium."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


CHROMIUM = "/usr/bin/chromium"


CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-gpu",
    "--no-first-run",
    "--disable-sync",
]


LABELS = ["months", "weekdays", "territories", "currencies", "languages", "units"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tiny_extra(corpus_root: Path, digits_root: Path) -> dict[str, list[str]]:
    """CLI overrides that make the five embedded configs tiny: tiny corpus, tiny model, 3 epochs of 2 steps
    (the OCR cascade: the tiny text images of two scripts, Latin and Cyrillic)."""
    source = [f"--data.source.init_args.root={corpus_root}", "--data.source.init_args.tiny=true"]
    steps = [
        "--trainer.max_epochs=3",
        "--trainer.limit_train_batches=2",
        "--trainer.limit_val_batches=1",
        "--trainer.logger=false",
    ]
    encoder = ["--model.encoder.init_args.dim=32", "--model.encoder.init_args.num_blocks=1"]
    text_model = ["--model.model.init_args.num_buckets=4096", "--model.model.init_args.dim=16"]
    return {
        "asr": source + steps + encoder,
        "cascade": source + steps + text_model,
        "e2e": source + steps + encoder,
        "vision": [f"--data.source.init_args.root={digits_root}", "--data.source.init_args.tiny=true", *steps],
        "ocr": [*source, "--data.source.init_args.languages=[eng, rus]", *steps, *text_model],
    }


def wait_for(condition, timeout: float = 120.0, what: str = "condition"):
    """Poll ``condition`` until it returns something truthy (returned); fail after ``timeout`` s.

    The timeout only keeps a broken demo from hanging the suite: nothing is asserted about time.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


def need_chromium() -> None:
    """Skip without Debian's chromium, except in CI (``CI=true``), where its absence is a failure."""
    if Path(CHROMIUM).exists():
        return
    message = f"Debian's chromium is not installed at {CHROMIUM} (apt-get install chromium; see scripts/setup.sh)"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message)
    pytest.skip(message)


def train_args(extra: dict[str, list[str]]) -> list[str]:
    """``--train-arg NAME=ARG`` for each argument of each job."""
    return [flag for name, args in extra.items() for arg in args for flag in ("--train-arg", f"{name}={arg}")]


def start_demo(cwd: Path, port: int, args: list[str]) -> subprocess.Popen:
    """``python -m apps.demo`` in ``cwd`` (a fresh checkout's state: no data, no runs), output to cwd/demo.log."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    env["GRADIO_ANALYTICS_ENABLED"] = "False"
    log = (cwd / "demo.log").open("w")
    return subprocess.Popen(
        [sys.executable, "-m", "apps.demo", "--port", str(port), *args],
        cwd=cwd,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.kill()
    process.wait()
