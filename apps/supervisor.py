"""Trains the demo's missing models in the background, two processes at a time (see :mod:`apps.training`)."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable

from apps.progress import COMMAND_MARK, building_corpus, error_line, last_line, read_progress
from apps.training import STOP_GRACE, Job, JobStatus, estimate_seconds_left, time_left, training_lanes
from workbench.children import die_with_parent
from workbench.cli import THREADS_ENV, default_threads
from workbench.runs import RunDir

log = logging.getLogger(__name__)


def stop_children(children: list[subprocess.Popen], grace: float) -> None:
    """SIGTERM to each child's process group (the program and anything it started) at once, SIGKILL to
    those still alive ``grace`` s later: one slow child does not hold back the others' signal."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        alive = [child for child in children if child.poll() is None]
        for child in alive:
            try:
                os.killpg(child.pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace
        for child in alive:
            try:
                child.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                continue


def summary(status: JobStatus) -> str:
    """One line for the console: ``e2e: training · epoch 2/8 · step 130/520 · ... · ~3 min left``."""
    parts = [f"{status.job.name}: {status.stage}"]
    if status.state == "running":
        parts += [p for p in (status.progress.describe(), status.detail) if p]
        left = time_left(status.seconds_left, status.seconds_bound)
        if left:
            parts.append(f"{left} left")
    elif status.state == "failed":
        parts.append(f"{status.error} (log: {status.job.log_path})")
    return " · ".join(parts)


class Supervisor:
    """Runs ``jobs`` in a background thread, up to ``lanes`` child processes at once.

    Jobs start in their order (none overtakes the one before it), each once a lane is free and the jobs it
    needs are done; every child gets an equal share of the cores as its torch threads (``XLING_NUM_THREADS``),
    so two side by side do not fight over them. On 2 cores the quick E2E model and the quick recognizer train
    side by side, one thread each, and the Speech tab's two paths answer minutes sooner than one after the other.

    Args:
        jobs: what to train (finished runs are reported ready without training).
        on_ready: called with each job whose run is ready, from the supervisor's threads, one job at a time.
        say: where the console lines go (one per change of stage or epoch).
        poll: seconds between looks at a running child's files.
        lanes: children at once (default :func:`apps.training.training_lanes`).
    """

    def __init__(
        self,
        jobs: list[Job],
        on_ready: Callable[[Job], None] = lambda job: None,
        say: Callable[[str], None] = print,
        poll: float = 1.0,
        lanes: int | None = None,
    ):
        self.statuses = [JobStatus(job) for job in jobs]
        self.on_ready, self.say, self.poll = on_ready, say, poll
        self.lanes = lanes or training_lanes()
        self.threads = max(1, default_threads() // self.lanes)  # each child's share of the cores
        self._stop = threading.Event()
        self._children: set[subprocess.Popen] = set()
        self._lock = threading.Lock()
        self._changed = threading.Condition()  # a lane came free or a job settled
        self._ready_lock = threading.Lock()  # on_ready loads one run at a time
        self._thread = threading.Thread(target=self._run, name="demo-training", daemon=True)
        self._said: dict[str, tuple] = {}

    def start(self) -> Supervisor:
        self._thread.start()
        return self

    def snapshot(self) -> list[dict]:
        """Every job's status as a dict (see :meth:`JobStatus.as_dict`)."""
        with self._lock:
            return [status.as_dict() for status in self.statuses]

    def done(self) -> bool:
        return not self._thread.is_alive()

    def stop(self, grace: float = STOP_GRACE) -> None:
        """Stop training: SIGTERM to each running child's process group, SIGKILL after ``grace`` s."""
        self._stop.set()
        with self._changed:
            self._changed.notify_all()
        running = [child for child in list(self._children) if child.poll() is None]
        for child in running:
            self.say(f"Stopping training (pid {child.pid}) ...")
        stop_children(running, grace)
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(grace)

    # -- the supervisor's threads --------------------------------------------------------------------
    def _run(self) -> None:
        lanes = [self._start(status) for status in self.statuses]  # in order: none overtakes the one before it
        for lane in lanes:
            if lane is not None:
                lane.join()

    def _start(self, status: JobStatus) -> threading.Thread | None:
        """Wait for the jobs it needs, then for a free lane; start its training (None: it needs none)."""
        job = status.job
        with self._changed:
            self._changed.wait_for(lambda: self._stop.is_set() or self._settled(job.needs))
            failed = self._failed(job.needs)
            self._changed.wait_for(
                lambda: self._stop.is_set() or failed or job.finished() or self._running() < self.lanes
            )
        if self._stop.is_set():
            self._set(status, "stopped")
        elif failed:
            self._set(status, "skipped", error=f"needs {', '.join(failed)}, which failed")
        elif job.finished():
            self._serve(status)
        else:
            child = self._launch(status)
            lane = threading.Thread(target=self._lane, args=(status, child), name=f"demo-{job.name}", daemon=True)
            lane.start()
            return lane
        return None

    def _settled(self, names: list[str]) -> bool:
        return all(s.state not in ("queued", "running") for s in self.statuses if s.job.name in names)

    def _failed(self, names: list[str]) -> list[str]:
        return sorted(s.job.name for s in self.statuses if s.job.name in names and s.state != "ready")

    def _running(self) -> int:
        """Children alive (a lane is free as soon as its child ends, while on_ready may still load its run)."""
        return len(self._children)

    def _lane(self, status: JobStatus, child: subprocess.Popen) -> None:
        self._watch(status, child)
        if status.state == "running":
            self._serve(status)

    def _serve(self, status: JobStatus) -> None:
        """``on_ready``, then the job is ready (or failed, when its run does not load)."""
        try:
            with self._ready_lock:
                self.on_ready(status.job)
        except Exception as err:  # noqa: BLE001 - a run that does not load is shown, the rest go on
            log.exception("demo: loading %s failed", status.job.run_dir)
            self._set(status, "failed", error=f"trained, but loading it failed: {type(err).__name__}: {err}")
            return
        self._set(status, "ready")

    def _set(self, status: JobStatus, state: str, error: str = "") -> None:
        with self._lock:
            status.state, status.error = state, error or status.error
        self._tell(status)
        with self._changed:
            self._changed.notify_all()

    def _tell(self, status: JobStatus) -> None:
        key = (status.state, status.stage, status.progress.epoch, status.progress.epochs_done)
        if self._said.get(status.job.name) != key:
            self._said[status.job.name] = key
            self.say(f"[demo] {summary(status)}")

    def _launch(self, status: JobStatus) -> subprocess.Popen:
        """Start the job's program (from the scheduling thread: the console lists the starts in order)."""
        job = status.job
        job.run_dir.parent.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", job.module, *job.resume_argv()]
        resumed = "--ckpt_path" in command
        self.say(f"[demo] training {job.name}{' (resuming)' if resumed else ''}: {' '.join(command[1:])}")
        env = {**os.environ, "PYTHONUNBUFFERED": "1", THREADS_ENV: str(self.threads)}
        launched = time.time()
        with job.log_path.open("w") as handle:
            handle.write(f"{COMMAND_MARK}{' '.join(command)}\n")
            handle.flush()
            child = subprocess.Popen(
                command,
                stdout=handle,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,  # its own process group: stop() reaches its children too
                preexec_fn=die_with_parent,  # noqa: PLW1509 - only a prctl bound before the fork
            )
        self._children.add(child)
        with self._lock:
            status.state, status.pid, status.samples, status.fit_started = "running", child.pid, [], None
            status.launched = launched
        return child

    def _watch(self, status: JobStatus, child: subprocess.Popen) -> None:
        """Follow the child to its end; the job is then still running (trained) or failed/stopped."""
        job = status.job
        while child.poll() is None:
            self._observe(status)
            if self._stop.wait(self.poll):
                break
        code = child.wait() if not self._stop.is_set() else child.poll()
        if code is not None:  # a child still running when stopped stays listed: stop() must still reach it
            self._children.discard(child)
        with self._changed:
            self._changed.notify_all()
        if self._stop.is_set():
            self._set(status, "stopped")
        elif code == 0 and job.finished():
            self._observe(status)
            self.say(f"[demo] {job.name}: trained ({job.run_dir})")
        else:
            why = error_line(job.log_path) or f"exit code {code}"
            self._set(status, "failed", error=why)

    def _observe(self, status: JobStatus) -> None:
        progress, now = read_progress(status.job.run_dir), time.monotonic()
        detail = "" if progress.epoch else building_corpus(status.job.corpus_roots()) or last_line(status.job.log_path)
        with self._lock:
            status.progress, status.detail = progress, detail[:160]
            config = RunDir(status.job.run_dir).config_path
            # a resumed run's old config is there from the start: the fit begins when it is rewritten
            if status.fit_started is None and config.is_file() and config.stat().st_mtime >= status.launched:
                status.fit_started = now
            if progress.step and (not status.samples or status.samples[-1][1] != progress.step):
                status.samples.append((now, progress.step))
            status.seconds_left, status.seconds_bound = estimate_seconds_left(status, now)
        self._tell(status)
