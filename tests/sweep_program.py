"""A minimal run program for testing the sweep engine's mechanics (scheduling, skip, failure, kill).

It takes the same arguments a sweep passes to a LightningCLI program and writes a real run
directory through ``workbench.runs``; ``--fail_seed`` makes one seed fail, ``--sleep`` slows it,
``--needs`` makes it read a file a setup step wrote, ``--starts_file`` counts its starts.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from workbench.items import Item
from workbench.predictions import make_predictions
from workbench.protocols import Protocol
from workbench.record import ProtocolRecord, RunRecord
from workbench.runs import RunDir

parser = argparse.ArgumentParser()
parser.add_argument("-c", action="append", default=[])
parser.add_argument("--data.protocol.name", dest="name")
parser.add_argument("--data.protocol.sources", dest="sources")
parser.add_argument("--seed_everything", type=int, dest="seed")
parser.add_argument("--run_dir")
parser.add_argument("--sleep", type=float, default=0.0)
parser.add_argument("--fail_seed", type=int, default=-1)
parser.add_argument("--system", default="e2e-test")
parser.add_argument("--needs", help="a file an earlier (setup) run wrote: fail when it is not there yet")
parser.add_argument("--starts_file", help="append this run directory to the file at each start (tests count runs)")
args = parser.parse_args()
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
sources = json.loads(args.sources) if args.sources and args.sources != "null" else None
items = [Item(f"eng-{k}", f"c{k}", "eng", k % 2, "test") for k in range(4)]
probs = [[0.8, 0.2], [0.3, 0.7], [0.6, 0.4], [0.1, 0.9]]
protocol = Protocol(args.name, sources)
trained = [] if protocol.name == "all_languages" else list(protocol.sources)
record = RunRecord("e2e", "speech", args.system, ProtocolRecord(protocol.name, trained, ["eng"]), args.seed, ["a", "b"])
RunDir(args.run_dir).write(record, make_predictions(items, probs, "test", args.system, protocol.tag, args.seed))
