"""Tuning every system of a sweep with the same number of Optuna trials, judged on dev only.

A sweep file's system entry declares its ``search_space`` (:mod:`workbench.tune.space`); the
file's ``tune`` section says which protocols are tuned and the default budget::

    tune:
      trials: 6                          # per system and protocol (--trials overrides)
      protocols: [in_language, zero_shot]
      pruner: {n_startup_trials: 2, n_warmup_steps: 3}   # optuna.pruners.MedianPruner

Layout under the tuned sweep's folder (``--out``; default ``<out_dir>-tuned``)::

    setup/...                       the sweep's setup steps (recognizers), as a sweep has them
    tune/studies.db                 one Optuna study per system and protocol (SQLite: the parallel
                                    workers and every trial's own process, whose pruning callback
                                    reports to it, share the file)
    tune/<system>/<protocol>/trial<k>/   a trial: an ordinary run directory
    runs/<system>/<protocol>/seed<k>/    the best settings, run with every seed of the sweep
    report/                         the report of setup + runs (not the trials)

A trial is a sweep point with the sampled settings added to its arguments, run by
:func:`workbench.sweep.runner.run_point` (same program, same run directory contract) with
the sweep's first seed. Its objective is the run record's ``training.best_dev`` (the dev score
``best.ckpt`` was chosen by): no test prediction is ever read. A trial the pruner stops
(:mod:`workbench.tune.pruning`) is told "pruned". Each study stops at ``trials`` finished
(complete or pruned) trials, so every system gets the same budget.

Trials run on this machine (the sweep's fork launcher) whatever the sweep's ``engine``; the
final points run as the sweep's engine runs points. One tune process drives a sweep folder:
its workers run trials in parallel; two tune
processes on one folder could each ask for the last trial of a budget and would both run the
final points (not supported).

Resuming: a killed tune run leaves its trials ``RUNNING`` in the study; the next run marks
those of dead processes on this host failed, enqueues their settings again, and asks only
for the trials still missing: finished trials are never run again.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import yaml
from optuna.trial import TrialState

from workbench.errors import ConfigError, DataError, WorkbenchError
from workbench.runs import RunDir
from workbench.sweep.launch import ForkLauncher, fork_available
from workbench.sweep.runner import is_finished, point_record, run_point, run_sweep, worker_env
from workbench.sweep.spec import Point, Sweep, load_sweep
from workbench.tune.pruning import PRUNED_AT
from workbench.tune.space import as_arguments, read_space, suggest

log = logging.getLogger(__name__)
TUNE_DIR, STUDIES = "tune", "studies.db"  # <sweep folder>/tune/studies.db
MONITOR, DIRECTION = "val/acc", "maximize"  # every program's best.ckpt is chosen by dev accuracy
TUNE_KEYS = {"trials", "protocols", "pruner", "seed"}
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
SQLITE_TIMEOUT = 60  # seconds a writer waits for the file's lock (parallel workers, other jobs)


@dataclass
class Plan:
    """What a sweep file asks to tune: its sweep, each system's search space, the budget."""

    sweep: Sweep
    spaces: dict[str, dict]  # system -> search space ({} : run untuned)
    trials: int
    protocols: list[str]
    pruner: dict
    seed: int = 0

    @property
    def folder(self) -> Path:
        return self.sweep.out_dir / TUNE_DIR

    @property
    def storage_url(self) -> str:
        return f"sqlite:///{(self.folder / STUDIES).resolve()}"


@dataclass
class StudyRun:
    """One study: a system on one protocol (and source set), tuned with the sweep's first seed."""

    name: str  # <system>/<protocol tag>
    base: Point
    space: dict
    study: optuna.Study
    failures: int = 0

    def trial_dir(self, root: Path, number: int) -> Path:
        return root / self.name / f"trial{number:03d}"


def load_plan(path: str | Path, out: str | Path | None, extra: dict | None, trials: int | None) -> Plan:
    """Read the sweep file's ``tune`` section and search spaces; every error names the key."""
    spec = yaml.safe_load(Path(path).read_text(encoding="utf-8")) if Path(path).is_file() else {}
    tune = (spec or {}).get("tune") or {}
    where = f"sweep file {path}"
    if not isinstance(tune, dict) or set(tune) - TUNE_KEYS:
        raise ConfigError(f"{where}: tune: unknown key(s) {sorted(set(tune) - TUNE_KEYS)}; known: {sorted(TUNE_KEYS)}")
    default_out = Path(f"{spec.get('out_dir') or Path('sweeps') / Path(path).stem}-tuned") if spec else None
    sweep = load_sweep(path, out or default_out, extra)
    spaces = {
        name: read_space(f"{where}: systems.{name}", (entry or {}).get("search_space"))
        for name, entry in spec["systems"].items()
    }
    if not any(spaces.values()):
        raise ConfigError(f"{where}: no system declares a search_space (systems.<name>.search_space)")
    budget = trials if trials is not None else tune.get("trials")
    if not isinstance(budget, int) or isinstance(budget, bool) or budget < 1:
        raise ConfigError(f"{where}: tune.trials (or --trials) must be a whole number >= 1, got {budget!r}")
    swept = list(dict.fromkeys(p.protocol for p in sweep.points))
    protocols = list(tune.get("protocols") or swept)
    for protocol in protocols:
        if protocol not in swept:
            raise ConfigError(f"{where}: tune.protocols: '{protocol}' is not a protocol of this sweep ({swept})")
    pruner = dict(tune.get("pruner") or {})
    try:
        optuna.pruners.MedianPruner(**pruner)
    except TypeError as error:
        raise ConfigError(f"{where}: tune.pruner: {error} (keys of optuna.pruners.MedianPruner)") from None
    return Plan(sweep, spaces, budget, protocols, pruner, int(tune.get("seed", 0)))


def open_storage(plan: Plan) -> optuna.storages.RDBStorage:
    plan.folder.mkdir(parents=True, exist_ok=True)
    return optuna.storages.RDBStorage(plan.storage_url, engine_kwargs={"connect_args": {"timeout": SQLITE_TIMEOUT}})


def study_runs(plan: Plan, storage) -> list[StudyRun]:
    """One study per tuned system and protocol source set, on the sweep's first seed's point."""
    first_seed = min(p.seed for p in plan.sweep.points)
    runs = []
    for point in plan.sweep.points:
        if point.seed != first_seed or point.protocol not in plan.protocols or not plan.spaces.get(point.system):
            continue
        name = f"{point.system}/{point.run_dir.parent.name}"  # <system>/<protocol tag>
        study = optuna.create_study(
            study_name=name,
            storage=storage,
            direction=DIRECTION,
            pruner=optuna.pruners.MedianPruner(**plan.pruner),
            load_if_exists=True,
        )
        # seeded by what the study holds: a resumed study does not draw its first settings again
        study.sampler = optuna.samplers.TPESampler(seed=plan.seed + len(study.get_trials(deepcopy=False)))
        runs.append(StudyRun(name, point, plan.spaces[point.system], study))
    return runs


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def recover(run: StudyRun) -> None:
    """Fail the trials a killed tune process on this host left running; ask for their settings again."""
    host = socket.gethostname()
    for trial in run.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        owner = trial.user_attrs
        if owner.get("host") == host and not _alive(int(owner.get("pid", -1))):
            run.study.tell(trial.number, state=TrialState.FAIL)
            run.study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})
            log.info(
                "study %s: trial %d was left running by a killed run; its settings go again", run.name, trial.number
            )


def counts(run: StudyRun) -> tuple[int, int]:
    """(finished, running) trials of a study."""
    trials = run.study.get_trials(deepcopy=False, states=(*FINISHED, TrialState.RUNNING))
    finished = sum(t.state in FINISHED for t in trials)
    return finished, len(trials) - finished


def dev_score(run_dir: Path, monitor: str = MONITOR) -> float:
    """A trial's objective: the dev score its best checkpoint was chosen by, from its run record only."""
    run = RunDir(run_dir)
    record, where = run.record(), str(run.metrics_path)
    if record.training.monitor != monitor:
        raise DataError(where, "record.training.monitor", f"'{record.training.monitor}', the tuner judges '{monitor}'")
    if record.training.best_dev is None:
        raise DataError(where, "record.training.best_dev", "no dev check ran: the trial has no dev score")
    return float(record.training.best_dev)


def pruning_argument(plan: Plan, run: StudyRun, number: int) -> tuple[str, str]:
    """The trial program's extra callback (:class:`workbench.tune.pruning.TrialPruning`)."""
    callback = {
        "class_path": "workbench.tune.pruning.TrialPruning",
        "init_args": {
            "storage": plan.storage_url,
            "study": run.name,
            "trial": number,
            "monitor": MONITOR,
            "pruner": plan.pruner,
        },
    }
    return "--trainer.callbacks+", json.dumps(callback)


class Tuner:
    """Runs the studies' missing trials on ``workers`` slots, one trial a slot at a time."""

    def __init__(self, plan: Plan, runs: list[StudyRun], workers: int):
        self.plan, self.runs, self.workers = plan, runs, workers
        self.lock = threading.Lock()  # Optuna's samplers are not thread-safe; the budget is counted under it
        self.launcher = ForkLauncher() if fork_available() else None  # the sweep's launcher (main thread)

    def next_trial(self) -> tuple[StudyRun, optuna.trial.Trial, Point] | None:
        """Ask the study with the fewest trials so far for one more; None when every budget is spent."""
        with self.lock:
            open_runs = [r for r in self.runs if sum(counts(r)) < self.plan.trials and r.failures <= self.plan.trials]
            if not open_runs:
                return None
            run = min(open_runs, key=lambda r: sum(counts(r)))
            trial = run.study.ask()
            trial.set_user_attr("host", socket.gethostname())
            trial.set_user_attr("pid", os.getpid())
            params = suggest(trial, run.space)
        args = run.base.args + as_arguments(params) + (pruning_argument(self.plan, run, trial.number),)
        run_dir = run.trial_dir(self.plan.folder, trial.number)
        return run, trial, dataclasses.replace(run.base, args=args, run_dir=run_dir)

    def work(self, slot: int) -> None:
        while (task := self.next_trial()) is not None:
            run, trial, point = task
            try:
                ok, tail = run_point(point, worker_env(slot, self.workers), self.launcher)
            except OSError as error:
                ok, tail = False, repr(error)
            with self.lock:
                self.tell(run, trial, point, ok, tail)

    def tell(self, run: StudyRun, trial: optuna.trial.Trial, point: Point, ok: bool, tail: str) -> None:
        if not ok:
            run.failures += 1
            run.study.tell(trial, state=TrialState.FAIL)
            log.error("study %s: trial %d FAILED (%s/run.log):\n%s", run.name, trial.number, point.run_dir, tail[-800:])
            return
        if PRUNED_AT in run.study.get_trials(deepcopy=False)[trial.number].user_attrs:
            run.study.tell(trial, state=TrialState.PRUNED)
            log.info("study %s: trial %d pruned", run.name, trial.number)
            return
        score = dev_score(point.run_dir)
        run.study.tell(trial, score)
        log.info("study %s: trial %d dev %s %.4f %s", run.name, trial.number, MONITOR, score, trial.params)

    def run(self) -> None:
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            for future in [pool.submit(self.work, slot) for slot in range(self.workers)]:
                future.result()


def tuning_of(plan: Plan, run: StudyRun) -> dict[str, Any]:
    """The run record's ``tuning``: the budget spent, the space searched, the study, what won."""
    finished, _ = counts(run)
    try:
        best = run.study.best_trial
    except ValueError:
        raise WorkbenchError(f"study {run.name}: no trial completed (see {plan.folder / run.name})") from None
    return {
        "trials": finished,
        "search_space": run.space,
        "study": f"{plan.folder / STUDIES}#{run.name}",
        "best_trial": best.number,
        "best_params": best.params,
        "best_dev": best.value,
    }


def final_points(plan: Plan, runs: list[StudyRun]) -> list[Point]:
    """The sweep's points of the tuned protocols, each with its study's best settings and ``--tuning``."""
    chosen = {(r.base.system, r.base.run_dir.parent.name): r for r in runs}
    points = []
    for point in plan.sweep.points:
        if point.protocol not in plan.protocols:
            continue
        run = chosen.get((point.system, point.run_dir.parent.name))
        if run is None:  # no search space: the system runs with its hand-set settings (the report flags it)
            points.append(point)
            continue
        tuning = tuning_of(plan, run)
        args = point.args + as_arguments(tuning["best_params"]) + (("--tuning", json.dumps(tuning)),)
        points.append(dataclasses.replace(point, args=args))
    return points


def clear_outdated(points: list[Point]) -> None:
    """Remove a finished final run whose tuning is not the current one (more trials since, another winner)."""
    for point in points:
        if not is_finished(point):
            continue
        wanted = dict(point.args).get("--tuning")
        record = point_record(point)
        if record is not None and (json.loads(wanted) if wanted else None) != record.tuning:
            shutil.rmtree(point.run_dir)


def tune(plan: Plan, workers: int | None = None) -> tuple[list[StudyRun], list[Point]]:
    """Setup steps, the missing trials of every study, then the best settings on every seed."""
    workers = workers or plan.sweep.workers
    run_sweep(dataclasses.replace(plan.sweep, points=[]), workers)  # the recognizers the cascades read
    failed = [step.tag for step in plan.sweep.setup if not is_finished(step)]
    if failed:
        raise WorkbenchError(f"setup step(s) {failed} failed: see {plan.sweep.out_dir / 'status.json'}")
    runs = study_runs(plan, open_storage(plan))
    for run in runs:
        recover(run)
    Tuner(plan, runs, workers).run()
    points = final_points(plan, runs)
    clear_outdated(points)
    run_sweep(dataclasses.replace(plan.sweep, points=points), workers)
    return runs, points
