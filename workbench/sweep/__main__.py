"""``python -m workbench.sweep -c configs/sweeps/<name>.yaml [--workers N] [--out DIR] [--engine E] [--dry-run]``.

Runs every unfinished point of the grid, then (unless ``--no-report``) writes the report.
Exit status 1 when any point failed; the others' results are kept.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

from workbench.errors import WorkbenchError
from workbench.sweep.estimate import summary
from workbench.sweep.runner import is_finished, run_sweep
from workbench.sweep.spec import ENGINES, load_sweep


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workbench.sweep", description=__doc__)
    parser.add_argument("-c", "--config", required=True, help="sweep file (configs/sweeps/*.yaml)")
    parser.add_argument("--out", help="output folder (default: the file's out_dir)")
    parser.add_argument("--workers", type=int, help="parallel points (default: the file's workers)")
    parser.add_argument("--only", help="run only points whose tag contains this text (setup/: only the setup steps)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="--KEY=VALUE",
        help="extra argument for every run, e.g. --set=--trainer.max_epochs=1 (repeatable)",
    )
    parser.add_argument("--engine", choices=ENGINES, help="local or submitit (default: the file's engine)")
    parser.add_argument(
        "--dry-run", action="store_true", help="print the commands, the number of points and the GPU hours; run nothing"
    )
    parser.add_argument("--no-report", action="store_true", help="skip the report after the runs")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    try:
        extra = dict(item.split("=", 1) for item in args.set)
        sweep = load_sweep(args.config, args.out, extra)
        sweep.engine = args.engine or sweep.engine
    except (WorkbenchError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.dry_run:
        for point in sweep.setup + sweep.points:
            mark = "done" if is_finished(point) else "todo"
            print(f"[{mark}] {point.tag}: {' '.join(point.command())}")
        print("\n".join(summary(sweep)))  # points, estimated GPU hours and memory (workbench/sweep/estimate.py)
        return 0
    start = time.monotonic()
    status = run_sweep(sweep, args.workers, args.only)
    print(f"sweep {sweep.name}: {time.monotonic() - start:.0f} s, results in {sweep.out_dir}")
    if not args.no_report:
        from workbench.report.build import build_report

        build_report(sweep.out_dir)
        print(f"report: {sweep.out_dir / 'report' / 'report.md'}")
    for tag in status.cut_by_the_clock():
        print(f"note: {tag} was stopped by max_time; its result depends on the machine's load", file=sys.stderr)
    failed = status.failed()
    for tag in failed:
        print(f"FAILED {tag} (see {sweep.out_dir / 'status.json'})", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
