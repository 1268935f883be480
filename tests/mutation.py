"""Mutation testing, one module at a time: ``python -m tests.mutation [--before] [MODULE ...]``.

The modules are those whose bugs change a conclusion without an error (issue 26). Each runs
mutmut (settings: ``[tool.mutmut]`` in pyproject.toml) in a scratch folder of its own,
``.mutation/<module>/`` (``<package>.<module>`` where two share a name), with only the tests
that cover it, so that a mutant costs seconds; mutmut further narrows each mutant to the tests
that call the mutated function.

- ``--before``: only the tests that existed before issue 26 (``.mutation/<module>-before/``).
  ``--before --sample N``: only N more mutants, drawn at random (seeded, never by their outcome) among
  those the plain run killed and no before run has run yet: a mutant that survives every covering test
  survives their subset, so the before score is ``killed before / judged``, estimated from the share
  of the sampled mutants that the older tests kill, with a 95 % Wilson interval (exact once all have run).
- without it: every covering test. Only the mutants that no earlier stage has killed run
  against them (a mutant killed by fewer tests stays killed by more; a changed test selection
  makes mutmut forget a run's verdicts), and the stages' verdicts are merged. The earlier stages:
  a ``--before`` run when there is one, and for the modules in ``QUICK`` a first pass with only
  their fast unit tests (``.mutation/<module>-quick/``), which kills most mutants in seconds.

Prints per module: mutants killed (a test failed, or the run timed out), survived, not
covered by any selected test, not run yet, and the score ``killed / (killed + survived +
not covered)``; then every survivor. Equivalent mutants are listed with their reason in
tests/README.md. One child process at a time unless ``--children N``: a shared machine keeps
a core for the others; an idle 2-core one runs about twice as fast with 2.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRATCH = ROOT / ".mutation"
LINKED = ["workbench", "cascade", "speech", "vision", "apps", "configs", "tests", "README.md"]
# module -> (tests before issue 26: the --before run, the other covering tests: issue 26's, and for the report
# modules test_report_conventions.py and test_tune.py's tuning check, older but left out of --before when the
# first runs had started); smallest modules first
MODULES = {
    "workbench/early_stopping.py": (["tests/test_early_stopping.py"], ["tests/test_early_stopping_limits.py"]),
    "workbench/record.py": (
        ["tests/test_sweep_schedule.py", "tests/test_security.py::test_load_run_refuses_a_pickle_payload"],
        ["tests/test_record.py"],
    ),
    "workbench/protocols.py": (
        ["tests/test_protocols.py"],
        ["tests/test_leakage_properties.py", "tests/test_protocol_config.py"],
    ),
    "speech/cache.py": (
        ["tests/test_speech_model.py::test_frozen_cache_skips_the_encoder_and_survives_truncation"],
        ["tests/test_cache_keys.py", "tests/test_encoder_cache.py"],
    ),
    "cascade/asr_text.py": (["tests/test_cascade_stages.py"], ["tests/test_asr_text.py"]),
    "cascade/cache.py": (["tests/test_cascade_stages.py"], ["tests/test_shard_cache.py"]),
    "speech/feature_cache.py": (["tests/test_feature_cache.py"], ["tests/test_feature_cache_keys.py"]),
    "workbench/report/stats.py": (
        ["tests/test_report_stats.py"],
        [
            "tests/test_report_properties.py",
            "tests/test_report_conventions.py",
            "tests/test_report_stats_units.py",
            "tests/test_doctests.py::test_docstring_examples_are_true[workbench.report.stats]",
        ],
    ),
    "workbench/report/calibration.py": (
        ["tests/test_report_checks.py"],
        [
            "tests/test_report_properties.py",
            "tests/test_report_conventions.py",
            "tests/test_report_calibration_units.py",
            "tests/test_doctests.py::test_docstring_examples_are_true[workbench.report.calibration]",
        ],
    ),
    "workbench/report/checks.py": (
        ["tests/test_report_checks.py"],
        [
            "tests/test_report_checks_units.py",
            "tests/test_report_conventions.py",
            "tests/test_tune.py::test_unequal_and_missing_budgets_are_flagged",
        ],
    ),
    "workbench/report/compare.py": (
        ["tests/test_report_stats.py", "tests/test_report.py"],
        ["tests/test_report_properties.py", "tests/test_report_conventions.py", "tests/test_report_compare_units.py"],
    ),
    "workbench/report/tables.py": (
        ["tests/test_report.py", "tests/test_report_checks.py"],
        ["tests/test_report_conventions.py", "tests/test_report_tables_units.py"],
    ),
}
# module -> its fast unit tests (seconds in all), run on every mutant first; only their survivors then
# run against all the covering tests, whose report builds take half a minute a mutant
QUICK = {
    "workbench/report/checks.py": ["tests/test_report_checks_units.py"],
    "workbench/report/calibration.py": [
        "tests/test_report_calibration_units.py",
        "tests/test_doctests.py::test_docstring_examples_are_true[workbench.report.calibration]",
    ],
    "workbench/report/tables.py": ["tests/test_report_tables_units.py"],
    "workbench/report/compare.py": ["tests/test_report_compare_units.py"],
}
# tests that issue 26 added to files that existed before it: left out of the --before runs
ADDED_TO_OLD_FILES = ["tests/test_cascade_stages.py::test_error_rates_are_edits_over_reference_length"]
KILLED = {"killed", "timeout"}
MISSED = {"survived", "no tests"}
RESULT = re.compile(r"^\s*(?P<name>\S+__mutmut_\d+): (?P<status>.+)$")


def scratch(module: str, stage: str) -> Path:
    """``.mutation/<module>[-before|-quick]/``: links to the code and tests, a pyproject naming the
    module and the stage's tests (``before``, ``quick`` or ``all``)."""
    original, added = MODULES[module]
    stem = Path(module).stem
    if sum(Path(other).stem == stem for other in MODULES) > 1:  # speech/cache.py, cascade/cache.py
        stem = f"{Path(module).parent.name}.{stem}"
    folder = SCRATCH / (stem + ("" if stage == "all" else f"-{stage}"))
    folder.mkdir(parents=True, exist_ok=True)
    for name in LINKED:
        link = folder / name
        if not link.exists():
            link.symlink_to(ROOT / name)
    config = (ROOT / "pyproject.toml").read_text()
    assert "\n[" not in config[config.index("[tool.mutmut]") :], "[tool.mutmut] must be the last section"
    selection = {
        "before": original + [f"--deselect={test}" for test in ADDED_TO_OLD_FILES],
        "quick": QUICK.get(module, []),
        "all": original + added,
    }[stage]
    config += f"only_mutate = [{module!r}]\npytest_add_cli_args_test_selection = {selection!r}\n".replace("'", '"')
    (folder / "pyproject.toml").write_text(config)
    return folder


def results(folder: Path) -> dict[str, str]:
    """``mutant name -> status`` of the module's mutants (empty before any run)."""
    if not (folder / "mutants").is_dir():
        return {}
    out = subprocess.run(
        [sys.executable, "-m", "mutmut", "results", "--all", "true"], cwd=folder, capture_output=True, text=True
    ).stdout
    return {m["name"]: m["status"].strip() for m in map(RESULT.match, out.splitlines()) if m}


def mutate(folder: Path, names: list[str] | None = None, children: int = 1) -> None:
    env = {**os.environ, "HYPOTHESIS_PROFILE": "mutation"}
    env.pop("PYTHONPATH", None)  # the mutants must be imported, not the checkout
    command = [sys.executable, "-m", "mutmut", "run", "--max-children", str(children), *(names or [])]
    subprocess.run(command, cwd=folder, env=env, stdout=subprocess.DEVNULL, check=False)


def score(statuses: dict[str, str]) -> tuple[Counter, str]:
    counts = Counter(statuses.values())
    killed = sum(counts[s] for s in KILLED)
    judged = killed + sum(counts[s] for s in MISSED)
    return counts, f"{100 * killed / judged:.1f}%" if judged else "-"


def earlier_kills(module: str) -> tuple[set[str], set[str]]:
    """(every mutant an earlier stage saw, those it killed): the before run's and the quick run's."""
    seen, killed = set(), set()
    for stage in ["before"] + (["quick"] if module in QUICK else []):
        statuses = results(scratch(module, stage))
        seen |= set(statuses)
        killed |= {name for name, status in statuses.items() if status in KILLED}
    return seen, killed


def merged(module: str, earlier: tuple[set[str], set[str]] | None = None) -> dict[str, str]:
    """The after statuses: a kill in an earlier stage stands, the others get the plain run's verdict
    (``earlier``: :func:`earlier_kills` when the caller has it already)."""
    seen, killed = earlier or earlier_kills(module)
    after = results(scratch(module, "all"))
    if not seen:
        return after
    return {name: "killed" if name in killed else after.get(name, "not checked") for name in seen | set(after)}


def before_sample(after: dict[str, str], before: dict[str, str], size: int, seed: int = 26) -> list[str]:
    """``size`` mutants drawn at random among those the plain run killed (``after``: :func:`merged`) and no
    before run has run (``before``: the before folder's :func:`results`)."""
    pool = sorted(n for n, s in after.items() if s in KILLED and before.get(n, "not checked") == "not checked")
    return sorted(random.Random(f"{seed}:{len(pool)}").sample(pool, min(size, len(pool))))


def before_estimate(after: dict[str, str], before: dict[str, str]) -> tuple[float, float, float, int, int]:
    """(score, its 95 % interval's low and high end, mutants run before, of how many the plain run killed):
    the before kills among the plain run's kills, counted where run and estimated for the rest from the
    share of the run ones that were killed (Wilson interval: scipy's binomtest)."""
    from scipy.stats import binomtest

    killed_after = [name for name, status in after.items() if status in KILLED]
    judged = sum(status in KILLED | MISSED for status in after.values())
    run = [name for name in killed_after if before.get(name, "not checked") != "not checked"]
    if not run or not judged:
        return float("nan"), float("nan"), float("nan"), 0, len(killed_after)
    kept = sum(before[name] in KILLED for name in run)
    rest = len(killed_after) - len(run)
    interval = binomtest(kept, len(run)).proportion_ci(method="wilson")
    low, mid, high = (kept + rest * share for share in (interval.low, kept / len(run), interval.high))
    return mid / judged, low / judged, high / judged, len(run), len(killed_after)


def run_module(module: str, before: bool, children: int = 1) -> dict[str, str]:
    """Mutate one module (after a before or quick run: only their survivors); its statuses."""
    if before:
        mutate(scratch(module, "before"), children=children)
        return results(scratch(module, "before"))
    if module in QUICK:
        quick = results(scratch(module, "quick"))
        if not quick or "not checked" in quick.values():  # not run, or stopped part way
            mutate(scratch(module, "quick"), children=children)
    seen, killed = earlier = earlier_kills(module)
    later = results(scratch(module, "all"))
    # a mutant killed by fewer tests stays killed by more: only the ones no run has killed yet
    survivors = sorted(name for name in seen - killed if later.get(name) not in KILLED)
    if survivors or not seen:
        mutate(scratch(module, "all"), survivors, children)
    return merged(module, earlier)  # the earlier stages' verdicts are unchanged by the plain run


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("modules", nargs="*", help=f"paths, default all: {', '.join(MODULES)}")
    parser.add_argument("--before", action="store_true", help="only the tests that existed before issue 26")
    parser.add_argument("--sample", type=int, help="with --before: only this many more mutants, drawn at random")
    parser.add_argument("--report", action="store_true", help="print the scores of earlier runs, run nothing")
    parser.add_argument("--children", type=int, default=1, help="mutants run at once (default 1: a shared machine)")
    args = parser.parse_args(argv)
    modules = args.modules or list(MODULES)
    unknown = sorted(set(modules) - set(MODULES))
    if unknown:
        parser.error(f"unknown module(s) {unknown}; known: {list(MODULES)}")
    if args.sample is not None and not args.before:
        parser.error("--sample draws mutants for a --before run: give --before too")
    rows, survivors, estimates = [], [], []
    for module in modules:
        after = None  # the after statuses a before run is judged against (merged reads them with mutmut)
        if args.report:
            statuses = results(scratch(module, "before")) if args.before else merged(module)
        elif args.sample is not None:
            folder = scratch(module, "before")
            after = merged(module)  # a sample is drawn from its kills, so the before run leaves it as it is
            mutate(folder, before_sample(after, results(folder), args.sample), args.children)
            statuses = results(folder)
        else:
            statuses = run_module(module, args.before, args.children)
        if args.before:
            estimates.append((module, before_estimate(after or merged(module), statuses)))
        counts, percent = score(statuses)
        rows.append((module, counts, percent))
        survivors += [f"  {status}: {name}" for name, status in sorted(statuses.items()) if status in MISSED]
    print(f"{'module':34} {'mutants':>7} {'killed':>7} {'survived':>8} {'no tests':>8} {'not run':>7} {'score':>6}")
    for module, c, percent in rows:
        killed = sum(c[s] for s in KILLED)
        total = sum(c.values())
        line = f"{module:34} {total:7} {killed:7} {c['survived']:8} {c['no tests']:8} {c['not checked']:7} {percent:>6}"
        print(line)
    for module, (score_, low, high, run, killed) in estimates:
        if 0 < run < killed:
            print(f"{module}: before {score_:.1%} estimated (95 % interval {low:.1%} to {high:.1%}; {run} of the")
            print(f"    {killed} mutants the plain run killed were run with the older tests)")
    print("\n".join(["", "survivors (killed by a new test, or equivalent: tests/README.md):", *survivors]))


if __name__ == "__main__":
    main()
