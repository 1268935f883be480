"""``python -m workbench.tune -c configs/sweeps/<name>.yaml [--trials N] [--out DIR] [--workers N]``.

Tunes every system that declares a ``search_space`` with the same number of Optuna trials per
protocol (judged on dev), runs the best settings with every seed of the sweep, then writes the
report (:mod:`workbench.tune.study`). Rerun the same command to resume a killed run.
Exit status 1 when a final run failed, 2 on a bad sweep file.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

from workbench.errors import WorkbenchError
from workbench.sweep.runner import is_finished
from workbench.tune.study import counts, load_plan, tune


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workbench.tune", description=__doc__)
    parser.add_argument("-c", "--config", required=True, help="sweep file with search spaces (configs/sweeps/*.yaml)")
    parser.add_argument("--trials", type=int, help="trials per system and protocol (default: the file's tune.trials)")
    parser.add_argument("--out", help="output folder (default: the file's out_dir + '-tuned')")
    parser.add_argument("--workers", type=int, help="parallel trials (default: the file's workers)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="--KEY=VALUE",
        help="extra argument for every run and trial, e.g. --set=--trainer.max_epochs=1 (repeatable)",
    )
    parser.add_argument("--no-report", action="store_true", help="skip the report after the runs")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    try:
        extra = dict(item.split("=", 1) for item in args.set)
        plan = load_plan(args.config, args.out, extra, args.trials)
        start = time.monotonic()
        studies, points = tune(plan, args.workers)
    except (WorkbenchError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for study in studies:
        best, (spent, _) = study.study.best_trial, counts(study)
        print(f"{study.name}: best of {spent} trials: dev {best.value:.4f} with {best.params}")
    print(f"tuned sweep {plan.sweep.name}: {time.monotonic() - start:.0f} s, results in {plan.sweep.out_dir}")
    if not args.no_report:
        from workbench.report.build import build_report

        done = [p.run_dir for p in plan.sweep.setup + points if is_finished(p)]
        report = build_report(plan.sweep.out_dir, run_dirs=done)  # the trials are not results
        print(f"report: {report / 'report.md'}")
    failed = [p.tag for p in points if not is_finished(p)]
    for tag in failed:
        print(f"FAILED {tag} (see {plan.sweep.out_dir / 'status.json'})", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
