"""Running a sweep: setup steps in order, then the grid in parallel worker processes.

Each point is a process of its own running one LightningCLI program, so a crash, an OOM or a
``kill -9`` of one point never takes down the others (locally forked from a server that has
imported the programs once, :mod:`workbench.sweep.launch`). A point is finished when its run
directory holds ``metrics.json`` (written last, atomically) whose run record
(:mod:`workbench.record`) is this point's: same protocol, sources and seed. A rerun skips
it; an unfinished point (or one whose record says it is another run) is cleared and run
again. ``<out_dir>/status.json`` records each point: done (with the record's
``stopped_by`` and steps) or failed (with the command and the log's tail); the rest go on.

Engines:

- ``local``: a pool of worker processes on this machine; CPU threads are divided among
  workers, and with GPUs each worker sees one (``CUDA_VISIBLE_DEVICES``).
- ``submitit``: SLURM through submitit (its ``local`` cluster runs the same code on this
  machine, which is how the tests exercise it).
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from workbench.errors import WorkbenchError
from workbench.io import atomic_write_json, read_json
from workbench.record import RunRecord, read_record
from workbench.runs import METRICS
from workbench.sweep.launch import ForkLauncher, fork_available, run_subprocess
from workbench.sweep.schedule import dependencies, next_ready, priority_order, thread_share
from workbench.sweep.spec import Point, Sweep

log = logging.getLogger(__name__)
LOG_TAIL = 3000  # characters of a failed point's log kept in status.json


def point_record(point: Point) -> RunRecord | None:
    """The record of a point's finished run; None when there is none or it is another run's."""
    try:
        record = read_record(point.run_dir)
    except (OSError, ValueError, WorkbenchError):  # absent, half-written, or written without a record
        return None
    if point.protocol is None:
        return record
    protocol = record.protocol
    sources = sorted(point.sources or [])
    if protocol.name != point.protocol or record.seed != point.seed:
        return None
    if point.protocol != "all_languages" and sorted(protocol.sources) != sources:
        return None
    return record


def is_finished(point: Point) -> bool:
    if point.protocol is None:  # setup steps mark themselves done with a file of their own
        return (point.run_dir / "DONE").is_file() or (point.run_dir / METRICS).is_file()
    return point_record(point) is not None


def worker_env(slot: int, workers: int) -> dict[str, str]:
    """Environment of one worker: its share of CPU threads, its own GPU when there are any."""
    env = dict(os.environ)
    threads = thread_share(workers)
    env.setdefault("OMP_NUM_THREADS", str(threads))
    env["XLING_NUM_THREADS"] = str(threads)
    gpus = env.get("XLING_GPUS")  # e.g. "0,1,2,3": one per worker
    if gpus:
        ids = gpus.split(",")
        env["CUDA_VISIBLE_DEVICES"] = ids[slot % len(ids)]
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def run_point(point: Point, env: dict | None = None, launcher: ForkLauncher | None = None) -> tuple[bool, str]:
    """Run one point in a process of its own (forked by ``launcher``, else a new interpreter);
    returns (ok, tail of its log)."""
    if point.run_dir.exists():  # a point that died half-way starts again from a clean directory
        shutil.rmtree(point.run_dir)
    point.run_dir.mkdir(parents=True)
    log_path = point.run_dir / "run.log"
    command = point.command(sys.executable)
    log_path.write_text(" ".join(command) + "\n")
    if launcher is None:
        returncode = run_subprocess(command, env, log_path)
    else:
        returncode = launcher.run(point.program, point.arguments(), env, log_path)
    if returncode == 0 and point.protocol is None:
        (point.run_dir / "DONE").write_text("ok\n")
    ok = returncode == 0 and is_finished(point)
    tail = log_path.read_text(errors="replace")[-LOG_TAIL:]
    return ok, tail


class Status:
    """``status.json``: per point, done / failed (with command and log tail), kept across reruns."""

    def __init__(self, path: Path):
        self.path = path
        self.entries: dict[str, dict] = read_json(path) if path.is_file() else {}
        self._lock = threading.Lock()  # worker threads record concurrently

    def record(self, point: Point, state: str, seconds: float = 0.0, tail: str = "") -> None:
        entry = {"state": state, "run_dir": str(point.run_dir), "seconds": round(seconds, 1)}
        record = point_record(point) if state == "done" else None
        if record is not None:  # why each run stopped, visible without opening it (a max_time cut, ...)
            entry.update(kind=record.kind, stopped_by=record.training.stopped_by, steps=record.training.steps)
        if state == "failed":
            entry["command"] = " ".join(point.command())
            entry["log_tail"] = tail
        with self._lock:
            self.entries[point.tag] = entry
            atomic_write_json(self.path, self.entries)

    def failed(self) -> list[str]:
        return [tag for tag, e in self.entries.items() if e["state"] == "failed"]

    def cut_by_the_clock(self) -> list[str]:
        """Points whose training was stopped by ``max_time``: their results depend on the machine's load."""
        return [tag for tag, e in self.entries.items() if e.get("stopped_by") == "max_time"]


def _execute(point: Point, slot: int, workers: int, status: Status, launcher: ForkLauncher | None) -> bool:
    start = time.monotonic()
    try:
        ok, tail = run_point(point, worker_env(slot, workers), launcher)
    except OSError as error:  # e.g. the disk is full: this point fails, the sweep goes on
        ok, tail = False, repr(error)
    status.record(point, "done" if ok else "failed", time.monotonic() - start, tail)
    log.info("%s %s in %.0f s", "finished" if ok else "FAILED", point.tag, time.monotonic() - start)
    return ok


def run_local(points: list[Point], workers: int, status: Status, setup: list[Point] | None = None) -> None:
    """Run points on a pool of ``workers`` slots; each slot runs one subprocess at a time.

    ``points`` run in the given order, except that a point waits while a setup step it reads
    (see :func:`workbench.sweep.schedule.dependencies`) is still pending or running.
    """
    slots = list(range(workers))
    setup = setup or []
    # one forkserver that imports the programs' libraries once (workbench.sweep.launch)
    launcher = ForkLauncher() if points and fork_available() else None
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {}
        pending = list(points)
        while pending or futures:
            while slots and (point := next_ready(pending, {*pending, *(p for _, p in futures.values())}, setup)):
                slot = slots.pop()
                pending.remove(point)
                futures[pool.submit(_execute, point, slot, workers, status, launcher)] = (slot, point)
            done = next(as_completed(futures))
            slot, _ = futures.pop(done)
            slots.append(slot)
            done.result()


def run_submitit(points: list[Point], sweep: Sweep, status: Status) -> None:
    """Submit each point as a job (SLURM, or submitit's ``local`` cluster) and wait for all."""
    import submitit

    executor = submitit.AutoExecutor(folder=str(sweep.out_dir / "submitit"), cluster=sweep.slurm.get("cluster"))
    params = {k: v for k, v in sweep.slurm.items() if k != "cluster"}
    executor.update_parameters(timeout_min=params.pop("timeout_min", 240), **params)
    jobs = [(point, executor.submit(run_point, point, None)) for point in points]
    for point, job in jobs:
        try:
            ok, tail = job.result()
        except Exception as error:  # the job itself died (preempted, killed): record and go on
            ok, tail = False, repr(error)
        status.record(point, "done" if ok else "failed", 0.0, tail)


def run_sweep(sweep: Sweep, workers: int | None = None, only: str | None = None) -> Status:
    """Run what is not finished yet; returns the status of every point."""
    sweep.out_dir.mkdir(parents=True, exist_ok=True)
    status = Status(sweep.out_dir / "status.json")
    workers = workers or sweep.workers
    todo = [p for p in sweep.points if not is_finished(p) and (only is None or only in p.tag)]
    setup = [step for step in sweep.setup if not is_finished(step)]
    if only is not None:  # --only: just the setup steps the chosen points read (none for E2E points)
        needed = {step for point in todo for step in dependencies(point, sweep.setup)}
        setup = [step for step in setup if step in needed]
    for point in sweep.points:
        if is_finished(point):
            status.record(point, "done")
    log.info("sweep %s: %d of %d points to run, %d workers", sweep.name, len(todo), len(sweep.points), workers)
    if sweep.engine == "submitit":
        run_local(setup, workers, status)  # before the grid: the cluster does not know the dependencies
        log_failed_setup(setup)
        run_submitit(todo, sweep, status)
    else:
        # one pool: the setup steps (recognizers) first, the grid's free points beside them, the
        # points that read a setup step once it has ended (workbench.sweep.schedule)
        run_local(priority_order(setup, todo), workers, status, setup)
        log_failed_setup(setup)
    return status


def log_failed_setup(setup: list[Point]) -> None:
    """Name every setup step run here that did not finish (its dependants fail too)."""
    for step in setup:
        if not is_finished(step):
            log.error("setup step %s failed; its dependants failed too (see status.json)", step.tag)
