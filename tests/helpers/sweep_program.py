"""A minimal run program for the sweep's and the tuner's tests (scheduling, skip, failure, kill, trials).

It takes the same arguments a sweep passes to a LightningCLI program and writes a real run
directory through ``workbench.runs``; ``--fail_seed`` makes one seed fail, ``--sleep`` slows it,
``--needs`` makes it read a file a setup step wrote, ``--starts_file`` counts its starts.

For the tuner, its dev score (the record's ``training.best_dev``) is a known function of its
settings: it peaks at ``--model.optim.lr`` = 10^-2.5 and ``--model.dropout`` = 0;
``--test_shift`` changes only its test predictions; ``--tuning`` goes into the run record as a
LightningCLI program's does. It has no trainer, so it reports nothing to a pruner (the pruning
callback is tested on a real Lightning run) and ignores the arguments it does not know.

Run it as ``python -m tests.helpers.sweep_program`` with the repository root on ``PYTHONPATH``
(:func:`repo_on_path`).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

from workbench.items import Item
from workbench.predictions import make_predictions
from workbench.protocols import Protocol
from workbench.record import ProtocolRecord, RunRecord, TrainingRecord
from workbench.runs import RunDir

PROGRAM = "tests.helpers.sweep_program"
REPO = Path(__file__).resolve().parents[2]


def repo_on_path(monkeypatch) -> None:
    """Let the sweep's workers (subprocesses, SLURM jobs with --export=ALL) find :data:`PROGRAM`."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))


def program_sweep(tmp_path: Path, systems: dict[str, dict], **spec) -> dict:
    """A sweep spec of this program's ``systems`` (name -> extra system keys) over a tiny grid:
    in_language and zero_shot from English, all_languages, seeds 0 and 1, 2 workers; ``spec``
    overrides or adds top-level keys."""
    base = tmp_path / "base.yaml"
    base.write_text("{}\n")
    return {
        "name": "t",
        "out_dir": str(tmp_path / "out"),
        "workers": 2,
        "systems": {
            name: {"program": PROGRAM, "configs": [str(base)], "args": {"--system": name}, **extra}
            for name, extra in systems.items()
        },
        "protocols": {"in_language": [["eng"]], "zero_shot": [["eng"]], "all_languages": [None]},
        "seeds": [0, 1],
        **spec,
    }


def chained_setup(tmp_path: Path) -> dict:
    """Two setup steps, the second reading the first's folder (the language adapters, the masked LM), and a
    point reading the second only."""
    spec = program_sweep(tmp_path, {"ca-test": {}}, protocols={"zero_shot": [["eng"]]}, seeds=[0])
    system = spec["systems"]["ca-test"]
    first = {"--sleep": 2}  # were the second started beside it, the file it needs would not be there yet
    second = {"--needs": "${sweep_dir}/setup/masked-lm/DONE"}
    spec["setup"] = [
        {"name": "masked-lm", "program": system["program"], "configs": system["configs"], "args": first},
        {"name": "adapters", "program": system["program"], "configs": system["configs"], "args": second},
    ]
    system["args"]["--needs"] = "${sweep_dir}/setup/adapters/DONE"
    return spec


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("-c", action="append", default=[])
    parser.add_argument("--data.protocol.name", dest="name")
    parser.add_argument("--data.protocol.sources", dest="sources")
    parser.add_argument("--seed_everything", type=int, dest="seed")
    parser.add_argument("--run_dir")
    parser.add_argument("--system", default="e2e-test")
    parser.add_argument("--sleep", type=float, default=0.0)
    parser.add_argument("--fail_seed", type=int, default=-1)
    parser.add_argument("--needs", help="a file an earlier (setup) run wrote: fail when it is not there yet")
    parser.add_argument("--starts_file", help="append this run directory to the file at each start (tests count runs)")
    parser.add_argument("--model.optim.lr", dest="lr", type=float, default=0.003)
    parser.add_argument("--model.dropout", dest="dropout", type=float, default=0.1)
    parser.add_argument("--test_shift", type=int, default=0)
    parser.add_argument("--tuning", type=json.loads, default=None)
    args, _ = parser.parse_known_args()  # the tuner's pruning callback is a trainer's business: ignored
    return args


def main() -> None:
    args = parse_args()
    if args.starts_file:
        with open(args.starts_file, "a") as handle:
            handle.write(f"{args.run_dir}\n")
    time.sleep(args.sleep)
    if args.needs and not Path(args.needs).is_file():
        print(f"needs {args.needs}, which is not there", file=sys.stderr)
        sys.exit(4)
    if args.name is None:  # a setup step: nothing to write (the sweep marks it done)
        sys.exit(0)
    if args.seed == args.fail_seed:
        print("failing on purpose", file=sys.stderr)
        sys.exit(3)
    dev = 1.0 - abs(math.log10(args.lr) + 2.5) / 2 - args.dropout / 10
    sources = json.loads(args.sources) if args.sources and args.sources != "null" else None
    items = [Item(f"eng-{k}", f"c{k}", "eng", k % 2, "test") for k in range(4)]
    # right on the first (4 - shift) items: the test score moves with --test_shift alone
    probs = [[0.8, 0.2] if (k % 2 == 0) == (k < 4 - args.test_shift) else [0.2, 0.8] for k in range(4)]
    protocol = Protocol(args.name, sources)
    trained = [] if protocol.name == "all_languages" else list(protocol.sources)
    record = RunRecord(
        "e2e",
        "speech",
        args.system,
        ProtocolRecord(protocol.name, trained, ["eng"]),
        args.seed,
        ["a", "b"],
        training=TrainingRecord(stopped_by="early_stopping", steps=10, epochs=2, monitor="val/acc", best_dev=dev),
        tuning=args.tuning,
    )
    RunDir(args.run_dir).write(record, make_predictions(items, probs, "test", args.system, protocol.tag, args.seed))


if __name__ == "__main__":
    main()
