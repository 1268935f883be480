"""A stand-in training program for the demo's supervisor tests (the scheduling is under test, not a fit).

    python -m tests.helpers.stand_in_training [-c CONFIG ...] --run_dir DIR [--seconds S]

It notes in ``DIR/ran.json`` when it ran and its environment (where the supervisor says how many torch
threads it may use), waits ``S`` seconds, then leaves a finished run (``metrics.json`` and
``checkpoints/best.ckpt``), as a training program does.
"""

from __future__ import annotations

import argparse
import json
import os
import time

from workbench.runs import RunDir


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-c", action="append", default=[])
    parser.add_argument("--run_dir", required=True)
    parser.add_argument("--seconds", type=float, default=0.0)
    args = parser.parse_args(argv)
    run = RunDir(args.run_dir)
    run.checkpoints.mkdir(parents=True, exist_ok=True)
    started = time.time()
    time.sleep(args.seconds)
    ran = {"started": started, "ended": time.time(), "env": dict(os.environ)}
    (run.path / "ran.json").write_text(json.dumps(ran))
    run.best.write_bytes(b"stand-in")
    run.metrics_path.write_text("{}")


if __name__ == "__main__":
    main()
