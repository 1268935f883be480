"""A trial program for the tuner's tests: the sweep program's run directory, with a dev score
that is a known function of its settings.

Its dev score (the record's ``training.best_dev``) peaks at ``--model.optim.lr`` = 10^-2.5 and
``--model.dropout`` = 0; ``--test_shift`` changes only its test predictions; ``--tuning`` goes
into the run record as a LightningCLI program's does; ``--sleep`` slows it. It has no trainer,
so it reports nothing to a pruner (the pruning callback is tested on a real Lightning run).
"""

from __future__ import annotations

import argparse
import json
import math
import time

from workbench.items import Item
from workbench.predictions import make_predictions
from workbench.protocols import Protocol
from workbench.record import ProtocolRecord, RunRecord, TrainingRecord
from workbench.runs import RunDir

parser = argparse.ArgumentParser()
parser.add_argument("-c", action="append", default=[])
parser.add_argument("--data.protocol.name", dest="name")
parser.add_argument("--data.protocol.sources", dest="sources")
parser.add_argument("--seed_everything", type=int, dest="seed")
parser.add_argument("--run_dir")
parser.add_argument("--system", default="e2e-test")
parser.add_argument("--model.optim.lr", dest="lr", type=float, default=0.003)
parser.add_argument("--model.dropout", dest="dropout", type=float, default=0.1)
parser.add_argument("--test_shift", type=int, default=0)
parser.add_argument("--tuning", type=json.loads, default=None)
parser.add_argument("--sleep", type=float, default=0.0)
args, _ = parser.parse_known_args()  # the tuner's pruning callback is a trainer's business: ignored
time.sleep(args.sleep)
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
