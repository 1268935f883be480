"""Trains the demo's missing models in the background, one process at a time (see :mod:`apps.training`)."""

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
from apps.training import STOP_GRACE, Job, JobStatus, estimate_seconds_left, time_left
from workbench.children import die_with_parent
from workbench.runs import RunDir

log = logging.getLogger(__name__)


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
    """Runs ``jobs`` in order in a background thread, one child process at a time.

    Args:
        jobs: what to train (finished runs are reported ready without training).
        on_ready: called with each job whose run is ready, from the supervisor's thread.
        say: where the console lines go (one per change of stage or epoch).
        poll: seconds between looks at a running child's files.
    """

    def __init__(
        self,
        jobs: list[Job],
        on_ready: Callable[[Job], None] = lambda job: None,
        say: Callable[[str], None] = print,
        poll: float = 1.0,
    ):
        self.statuses = [JobStatus(job) for job in jobs]
        self.on_ready, self.say, self.poll = on_ready, say, poll
        self._stop = threading.Event()
        self._child: subprocess.Popen | None = None
        self._lock = threading.Lock()
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
        """Stop training: SIGTERM to the running child's process group, SIGKILL after ``grace`` s."""
        self._stop.set()
        child = self._child
        if child is not None and child.poll() is None:
            self.say(f"Stopping training (pid {child.pid}) ...")
            for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, grace)):
                try:
                    os.killpg(child.pid, sig)  # its own group: the program and anything it started
                except ProcessLookupError:
                    break
                try:
                    child.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(grace)

    # -- the supervisor thread ---------------------------------------------------------------------
    def _run(self) -> None:
        failed: set[str] = set()
        for status in self.statuses:
            job = status.job
            if self._stop.is_set():
                self._set(status, "stopped")
                continue
            if failed & set(job.needs):
                self._set(status, "skipped", error=f"needs {', '.join(sorted(failed & set(job.needs)))}, which failed")
                failed.add(job.name)
                continue
            if not job.finished():
                self._train(status)
            if status.state in ("failed", "stopped"):
                failed.add(job.name)
                continue
            try:
                self.on_ready(job)
            except Exception as err:  # noqa: BLE001 - a run that does not load is shown, the rest go on
                log.exception("demo: loading %s failed", job.run_dir)
                self._set(status, "failed", error=f"trained, but loading it failed: {type(err).__name__}: {err}")
                failed.add(job.name)
                continue
            self._set(status, "ready")

    def _set(self, status: JobStatus, state: str, error: str = "") -> None:
        with self._lock:
            status.state, status.error = state, error or status.error
        self._tell(status)

    def _tell(self, status: JobStatus) -> None:
        key = (status.state, status.stage, status.progress.epoch, status.progress.epochs_done)
        if self._said.get(status.job.name) != key:
            self._said[status.job.name] = key
            self.say(f"[demo] {summary(status)}")

    def _train(self, status: JobStatus) -> None:
        job = status.job
        job.run_dir.parent.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", job.module, *job.resume_argv()]
        resumed = "--ckpt_path" in command
        self.say(f"[demo] training {job.name}{' (resuming)' if resumed else ''}: {' '.join(command[1:])}")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
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
        self._child = child
        with self._lock:
            status.state, status.pid, status.samples, status.fit_started = "running", child.pid, [], None
            status.launched = launched
        while child.poll() is None:
            self._observe(status)
            if self._stop.wait(self.poll):
                break
        code = child.wait() if not self._stop.is_set() else child.poll()
        self._child = None
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
