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
- ``submitit``: SLURM through submitit; the submitting host only submits and waits. Setup
  steps and points are job arrays, a cascade point's job (and a setup step's) depends (``afterok``) on
  the setup jobs it reads; each job runs :func:`run_point`, so a cancelled or requeued point resumes from
  its ``last.ckpt`` (``scripts/slurm-local.sh`` starts a one-node cluster here for the tests).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from workbench.errors import WorkbenchError
from workbench.io import atomic_write_json, read_json
from workbench.record import RunRecord
from workbench.runs import RunDir
from workbench.sweep.launch import ForkLauncher, fork_available, run_subprocess
from workbench.sweep.schedule import dependencies, next_ready, priority_order, thread_share
from workbench.sweep.spec import Point, Sweep, steps_read

log = logging.getLogger(__name__)
LOG_TAIL = 3000  # characters of a failed point's log kept in status.json
POINT_FILE = "point.json"  # in a run directory: the arguments it was started with (a resume must match them)


def point_record(point: Point) -> RunRecord | None:
    """The record of a point's finished run; None when there is none or it is another run's."""
    try:
        record = RunDir(point.run_dir).record()
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


def started_with(point: Point) -> list[str] | None:
    """The arguments the run in ``point.run_dir`` was started with by a sweep; None when unknown."""
    try:
        return read_json(point.run_dir / POINT_FILE).get("arguments")
    except (OSError, ValueError):
        return None


def is_finished(point: Point) -> bool:
    if point.protocol is None:  # setup steps mark themselves done with a file of their own; one that
        # two sweeps share (setup_from) counts only when it was started with these very arguments
        done = (point.run_dir / "DONE").is_file() or RunDir(point.run_dir).is_finished()
        return done and started_with(point) in (None, point.arguments())
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


def cluster_rank() -> int:
    """This process's task in its cluster job (``SLURM_PROCID``): a point of N devices is N tasks, 0 outside SLURM."""
    return int(os.environ.get("SLURM_PROCID", "0"))


def attempt() -> str:
    """This start of the point: its job and how often SLURM requeued it (one value for all its tasks)."""
    return f"{os.environ.get('SLURM_JOB_ID', 'here')}.{os.environ.get('SLURM_RESTART_COUNT', '0')}"


def resumable_checkpoint(point: Point) -> Path | None:
    """The last checkpoint of an earlier, unfinished start of this very point (same arguments), else None."""
    last = RunDir(point.run_dir).last
    return last if started_with(point) == point.arguments() and last.is_file() else None


def run_point(point: Point, env: dict | None = None, launcher: ForkLauncher | None = None) -> tuple[bool, str]:
    """Run one point in a process of its own (forked by ``launcher``, else a new interpreter);
    returns (ok, tail of its log).

    A point that was stopped after writing ``last.ckpt`` (a cancelled, requeued or killed job, a
    killed sweep) resumes from it (``--ckpt_path``), which ends as an uninterrupted run would
    (:class:`workbench.resume.ExactResume`); any other leftover directory is cleared first.
    On a cluster, task 0 of a multi-task (DDP) job prepares the directory and the other tasks
    start the same command once it has (:func:`follow_point`).
    """
    if cluster_rank() > 0:
        return follow_point(point, env)
    checkpoint = resumable_checkpoint(point)
    if checkpoint is None:
        if point.run_dir.exists():
            shutil.rmtree(point.run_dir)
        point.run_dir.mkdir(parents=True)
    args = [*point.arguments(), *([f"--ckpt_path={checkpoint}"] if checkpoint else [])]
    launch = {"arguments": point.arguments(), "launch": args, "attempt": attempt()}
    atomic_write_json(point.run_dir / POINT_FILE, launch)
    log_path = point.run_dir / "run.log"
    with log_path.open("a") as handle:  # a resumed point's log keeps its earlier attempts
        handle.write(" ".join([sys.executable, "-m", point.program, *args]) + "\n")
    if launcher is None:
        returncode = run_subprocess([sys.executable, "-m", point.program, *args], env, log_path)
    else:
        returncode = launcher.run(point.program, args, env, log_path)
    if returncode == 0 and point.protocol is None:
        (point.run_dir / "DONE").write_text("ok\n")
    ok = returncode == 0 and is_finished(point)
    tail = log_path.read_text(errors="replace")[-LOG_TAIL:]
    return ok, tail


def follow_point(point: Point, env: dict | None, wait_s: float = 600.0) -> tuple[bool, str]:
    """Task k > 0 of a point's job: once task 0 has written this attempt's launch, run the same
    command (Lightning's SLURM environment makes it rank k), its output in ``run.rank<k>.log``."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            started = read_json(point.run_dir / POINT_FILE)
            if started.get("attempt") == attempt():
                break
        except (OSError, ValueError):
            pass
        if time.monotonic() > deadline:
            return False, f"task {cluster_rank()}: task 0 did not start {point.tag} in {wait_s:.0f} s"
        time.sleep(0.5)
    log_path = point.run_dir / f"run.rank{cluster_rank()}.log"
    returncode = run_subprocess([sys.executable, "-m", point.program, *started["launch"]], env, log_path)
    return returncode == 0, log_path.read_text(errors="replace")[-LOG_TAIL:]


class Status:
    """``status.json``: per point, done / failed (with command and log tail), kept across reruns."""

    def __init__(self, path: Path):
        self.path = path
        self.entries: dict[str, dict] = read_json(path) if path.is_file() else {}
        self._lock = threading.Lock()  # worker threads record concurrently

    def record(self, point: Point, state: str, seconds: float = 0.0, tail: str = "", job: dict | None = None) -> None:
        """``job``: a cluster job's id, state and log files, linked from the entry."""
        entry = {"state": state, "run_dir": str(point.run_dir), "seconds": round(seconds, 1), **(job or {})}
        record = point_record(point) if state == "done" else None
        if record is not None:  # why each run stopped, visible without opening it (a max_time cut, ...)
            entry.update(
                path=record.path,
                modality=record.modality,
                stopped_by=record.training.stopped_by,
                steps=record.training.steps,
            )
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


#: SLURM job states from which a job still runs (again): every other state is final
STILL_QUEUED = {
    "PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED",
    "RESIZING", "SUSPENDED", "STOPPED", "SIGNALING", "STAGE_OUT", "PREEMPTED", "RESV_DEL_HOLD",
}  # fmt: skip


def cluster_env() -> dict[str, str]:
    """A cluster job's environment for its point: as many CPU threads as SLURM gave each task."""
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = env["XLING_NUM_THREADS"] = os.environ.get("SLURM_CPUS_PER_TASK", "1")
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


class PointFailed(RuntimeError):
    """A point's program failed in its cluster job: the job fails, so jobs after it (``afterok``) never start."""


def run_cluster_point(point: Point) -> tuple[bool, str]:
    """What a cluster job runs: its point, in a new interpreter, with the job's CPUs."""
    ok, tail = run_point(point, cluster_env())
    if not ok:
        raise PointFailed(f"{point.tag} failed; its log ends:\n{tail}")
    return ok, tail


def cluster_executor(sweep: Sweep, **parameters):
    """A submitit executor for the sweep's ``slurm`` section, ``parameters`` on top."""
    import submitit

    section = dict(sweep.slurm)
    executor = submitit.AutoExecutor(folder=str(sweep.out_dir / "submitit"), cluster=section.pop("cluster", None))
    section.setdefault("timeout_min", 240)
    executor.update_parameters(**section, **parameters)
    return executor


def submit(sweep: Sweep, points: list[Point], after: dict[Point, object]) -> dict[Point, object]:
    """Submit ``points`` as job arrays, one per set of setup jobs they read (``afterok``) and per task
    count (a point of N ``trainer.devices`` is N tasks: Lightning's SLURM environment joins them)."""
    groups: dict[tuple[tuple[str, ...], int], list[Point]] = {}
    for point in points:
        needs = tuple(after[step].job_id for step in dependencies(point, list(after)))
        groups.setdefault((needs, point.devices), []).append(point)
    jobs = {}
    for (needs, devices), group in groups.items():
        parameters = {}
        if needs:  # a failed setup job cancels its dependants instead of leaving them pending forever
            extra = {**sweep.slurm.get("slurm_additional_parameters", {}), "kill-on-invalid-dep": "yes"}
            parameters = {"slurm_dependency": "afterok:" + ":".join(needs), "slurm_additional_parameters": extra}
        executor = cluster_executor(sweep, tasks_per_node=devices, **parameters)
        with executor.batch():
            submitted = [executor.submit(run_cluster_point, point) for point in group]
        jobs.update(zip(group, submitted, strict=True))
        log.info("submitted %d point(s) as job %s, after %s", len(group), submitted[0].job_id.split("_")[0], needs)
    return jobs


def submit_setup(sweep: Sweep, setup: list[Point]) -> dict[Point, object]:
    """Submit the setup steps, each after the setup jobs it reads (``afterok``: the language adapters after the
    masked LM), in waves: the steps that read none of them, then those that read only submitted ones (a step
    reads only steps listed before it, :func:`workbench.sweep.spec.check_setup_order`, so each wave has one)."""
    jobs: dict[Point, object] = {}
    while len(jobs) < len(setup):
        ready = [step for step in setup if step not in jobs and all(d in jobs for d in dependencies(step, setup))]
        jobs.update(submit(sweep, ready, jobs))
    return jobs


def job_links(job, state: str) -> dict:
    """A job's entry in status.json: its id, last state and its log files (task 0)."""
    paths = job.paths
    return {"job_id": job.job_id, "job_state": state, "job_log": str(paths.stdout), "job_err": str(paths.stderr)}


def queue_states() -> dict[str, str]:
    """State of every job of this user the controller knows (array elements as ``<id>_<index>``)."""
    lines = subprocess.run(
        ["squeue", "--me", "--states=all", "--array", "--noheader", "--format=%i|%T"],
        check=True, capture_output=True, text=True,
    ).stdout.split()  # fmt: skip
    return dict(line.split("|", 1) for line in lines)


def job_outcome(point: Point, job, state: str) -> tuple[bool, str]:
    """(ok, log tail) of an ended job: ok when it completed and its point's run is finished."""
    if state in ("COMPLETED", "GONE") and is_finished(point):
        return True, ""
    run_log = point.run_dir / "run.log"
    tail = run_log.read_text(errors="replace")[-LOG_TAIL:] if run_log.is_file() else ""
    return False, f"{tail}\njob {job.job_id} ended {state} (its own log: {job.paths.stderr})"


def wait_for_jobs(jobs: dict[Point, object], status: Status, poll_s: float = 1.0) -> None:
    """Record each point as its job ends, polling the controller (``squeue``)."""
    pending = dict(jobs)
    started = time.monotonic()
    while pending:
        states = queue_states()
        for point, job in list(pending.items()):
            state = states.get(job.job_id, "GONE")  # GONE: purged by the controller (MinJobAge) after it ended
            if state in STILL_QUEUED:
                continue
            del pending[point]
            ok, tail = job_outcome(point, job, state)
            status.record(point, "done" if ok else "failed", time.monotonic() - started, tail, job_links(job, state))
            log.info("%s %s (job %s %s)", "finished" if ok else "FAILED", point.tag, job.job_id, state)
        if pending:
            time.sleep(poll_s)


def run_submitit(setup: list[Point], points: list[Point], sweep: Sweep, status: Status) -> None:
    """Submit the setup steps, then the points (job arrays; a cascade point's job starts once the
    setup jobs it reads have ended well), record every job's id and logs, and wait for all.

    With submitit's ``local`` cluster (no dependencies) the setup steps run here first.
    """
    if sweep.slurm.get("cluster") == "local":
        run_local(setup, 1, status)
        log_failed_setup(setup)
        executor = cluster_executor(sweep)
        jobs = [(point, executor.submit(run_cluster_point, point)) for point in points]
        for point, job in jobs:
            try:
                ok, tail = job.result()
            except Exception as error:  # the job itself died (killed): record and go on
                ok, tail = False, repr(error)
            status.record(point, "done" if ok else "failed", 0.0, tail)
        return
    setup_jobs = submit_setup(sweep, setup)
    jobs = {**setup_jobs, **submit(sweep, points, setup_jobs)}
    for point, job in jobs.items():
        status.record(point, "submitted", job=job_links(job, "PENDING"))
    wait_for_jobs(jobs, status)
    log_failed_setup(setup)


def run_sweep(sweep: Sweep, workers: int | None = None, only: str | None = None) -> Status:
    """Run what is not finished yet; returns the status of every point."""
    sweep.out_dir.mkdir(parents=True, exist_ok=True)
    status = Status(sweep.out_dir / "status.json")
    workers = workers or sweep.workers
    todo = [p for p in sweep.points if not is_finished(p) and (only is None or only in p.tag)]
    setup = [step for step in sweep.setup if not is_finished(step)]
    if only is not None:  # --only: the setup steps it names (--only setup/), those the chosen points read, and so on
        needed = set(steps_read(todo, sweep.setup))
        setup = [step for step in setup if step in needed or only in step.tag]
    for point in sweep.points:
        if is_finished(point):
            status.record(point, "done")
    log.info("sweep %s: %d of %d points to run, %d workers", sweep.name, len(todo), len(sweep.points), workers)
    if sweep.engine == "submitit":
        run_submitit(setup, todo, sweep, status)
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
