"""The demo's default models: the embedded-default configs, trained in the background into ``runs/demo/``.

Each model is the engineers' own program run on its shipped config (``python -m speech.fit -c
configs/embedded/speech.yaml ...``), with the ``all_languages`` protocol so that every language
of the embedded corpus can be tried. :class:`Supervisor` runs the missing ones, two processes at a
time (:func:`training_lanes`), while the page is served, and tells the page and the console how far each has got
(:mod:`apps.progress`). The children die with the demo: each runs in its own process group
(killed on Ctrl-C / SIGTERM, see :meth:`Supervisor.stop`) and asks Linux to SIGKILL it when the
demo dies any other way (``PR_SET_PDEATHSIG``). A run left unfinished resumes from its
``last.ckpt`` on the next start.
"""

from __future__ import annotations

import importlib
import logging
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from apps.progress import Progress, error_line, format_seconds
from workbench.runs import RunDir

log = logging.getLogger(__name__)

DEFAULT_BASE = Path("runs/demo")
CONFIGS = Path(__file__).resolve().parents[1] / "configs"  # the shipped configs, whatever the working directory
STOP_GRACE = 5.0  # s: a child asked to stop (SIGTERM) is killed after this
LANES = 2  # trainings at once: the quick E2E model beside the quick recognizer (benchmarks/README.md)


def training_lanes() -> int:
    """How many trainings the demo runs at once: :data:`LANES`, at most one per usable core."""
    from workbench.cli import default_threads

    return max(1, min(LANES, default_threads()))


@dataclass
class Job:
    """One training program run: ``python -m <module> <args>`` into ``run_dir``.

    ``kind`` is what the finished run serves in the demo (``e2e``, ``cascade``, ``vision``; None for
    the recognizer, which only the cascade uses); ``needs`` names the jobs it must wait for.
    """

    name: str
    module: str
    configs: list[str]
    run_dir: Path
    args: list[str] = field(default_factory=list)
    kind: str | None = None
    needs: list[str] = field(default_factory=list)
    tier: str = "full"  # "quick": a small recipe that serves within minutes, replaced by the full one when better

    def argv(self) -> list[str]:
        out = []
        for config in self.configs:
            out += ["-c", config]
        return [*out, "--run_dir", str(self.run_dir), *self.args]

    def corpus_roots(self) -> list[Path]:
        """Where the program may build the embedded corpus: ``data`` or its ``--data.source.init_args.root``."""
        roots = [arg.split("=", 1)[1] for arg in self.args if arg.startswith("--data.source.init_args.root=")]
        return [Path(root) for root in roots[-1:] or ["data"]]

    @property
    def log_path(self) -> Path:
        return self.run_dir.parent / f"{self.name}.log"

    def finished(self) -> bool:
        run = RunDir(self.run_dir)
        return run.is_finished() and any(run.checkpoints.glob("*.ckpt"))

    def resume_argv(self) -> list[str]:
        """:meth:`argv`, plus ``--ckpt_path`` of the run's last checkpoint when an earlier start left one."""
        last = RunDir(self.run_dir).last
        return [*self.argv(), "--ckpt_path", str(last)] if last.is_file() else self.argv()


def default_jobs(
    base: str | Path = DEFAULT_BASE,
    quick: bool = False,
    extra: dict[str, list[str]] | None = None,
    quick_first: bool = False,
) -> list[Job]:
    """The default runs, in the order they are trained (the E2E model first: the Speech tab's
    first usable path; the cascade after the recognizer whose checkpoint it reads; the Vision tab's
    E2E model on the embedded text images (``configs/embedded/vision_text.yaml``, every language), then
    its OCR cascade: Tesseract on the same images, needs no training of its own).

    Args:
        base: folder of the runs (``<base>/e2e``, ``asr``, ``cascade``, ``vision``, ``ocr``).
        quick: a shortened training (2-3 epochs each) for a first look.
        extra: more CLI arguments per job name (``e2e``, ``asr``, ``cascade``, ``vision``, ``ocr``, or
            ``all``), e.g. a tiny corpus and model for tests; a name's arguments go to its quick recipe too,
            ``<name>-quick`` to the quick recipe only.
        quick_first: first the quick recipes (:func:`quick_jobs`: speech's, then vision's), so every path
            answers within minutes; the full recipes follow and replace them in the demo when their dev score
            is not worse.
    """
    base, extra = Path(base), extra or {}
    asr_ckpt = RunDir(base / "asr").best
    short = {"asr": 2, "cascade": 3, "e2e": 3, "vision": 3, "ocr": 3}
    embedded, every_language = CONFIGS / "embedded", str(CONFIGS / "protocol" / "all_languages.yaml")
    cascade_args = [f"--data.recognizer.init_args.checkpoint={asr_ckpt}", f"--data.cache_dir={base / 'cache'}"]
    jobs = [
        Job("e2e", "speech.fit", [str(embedded / "speech.yaml"), every_language], base / "e2e", kind="e2e"),
        Job("asr", "cascade.fit_asr", [str(embedded / "asr.yaml")], base / "asr"),
        Job(
            "cascade",
            "cascade.fit",
            [str(embedded / "cascade.yaml"), every_language],
            base / "cascade",
            cascade_args,
            kind="cascade",
            needs=["asr"],
        ),
        Job(
            "vision", "vision.fit", [str(embedded / "vision_text.yaml"), every_language], base / "vision", kind="vision"
        ),
        Job(
            "ocr",
            "cascade.fit",
            [str(embedded / "cascade.yaml"), str(embedded / "vision_cascade.yaml")],
            base / "ocr",
            [f"--data.cache_dir={base / 'cache'}"],
            kind="ocr",
        ),
    ]
    for job in jobs:
        job.args += ([f"--trainer.max_epochs={short[job.name]}"] if quick else []) + extra.get("all", [])
        job.args += extra.get(job.name, [])
    return (quick_jobs(base, extra) if quick_first else []) + jobs


def quick_jobs(base: Path, extra: dict[str, list[str]]) -> list[Job]:
    """The quick recipes: the full ones' configs plus a ``configs/embedded/demo/<name>_quick.yaml`` overlay
    (smaller models, step budgets sized to serve within minutes on 2 cores). Speech's first (``e2e-quick``,
    ``asr-quick``, ``cascade-quick``: the Speech tab answers within 3 minutes), then vision's (``vision-quick``,
    the image E2E; ``ocr-quick``, the OCR cascade, whose recognizer is Tesseract and needs no training), so the
    Vision tab answers next, before any full recipe takes the machine."""
    embedded, every_language = CONFIGS / "embedded", str(CONFIGS / "protocol" / "all_languages.yaml")
    demo = CONFIGS / "embedded" / "demo"
    asr_ckpt = RunDir(base / "asr-quick").best
    cascade_args = [f"--data.recognizer.init_args.checkpoint={asr_ckpt}", f"--data.cache_dir={base / 'cache'}"]
    jobs = [
        Job("e2e-quick", "speech.fit", [str(embedded / "speech.yaml"), every_language, str(demo / "e2e_quick.yaml")],
            base / "e2e-quick", kind="e2e", tier="quick"),
        Job("asr-quick", "cascade.fit_asr", [str(embedded / "asr.yaml"), str(demo / "asr_quick.yaml")],
            base / "asr-quick", tier="quick"),
        Job("cascade-quick", "cascade.fit",
            [str(embedded / "cascade.yaml"), every_language, str(demo / "cascade_quick.yaml")],
            base / "cascade-quick", cascade_args, kind="cascade", needs=["asr-quick"], tier="quick"),
        Job("vision-quick", "vision.fit",
            [str(embedded / "vision_text.yaml"), every_language, str(demo / "vision_quick.yaml")],
            base / "vision-quick", kind="vision", tier="quick"),
        Job("ocr-quick", "cascade.fit",
            [str(embedded / "cascade.yaml"), str(embedded / "vision_cascade.yaml"), str(demo / "ocr_quick.yaml")],
            base / "ocr-quick", [f"--data.cache_dir={base / 'cache'}"], kind="ocr", tier="quick"),
    ]  # fmt: skip
    for job in jobs:
        recipe = job.name.removesuffix("-quick")
        job.args += extra.get("all", []) + extra.get(recipe, []) + extra.get(job.name, [])
    return jobs


def jobs_for(jobs: list[Job], kinds: set[str]) -> list[Job]:
    """The jobs that make the runs of ``kinds``, with the jobs they need, in training order."""
    wanted = {job.name for job in jobs if job.kind in kinds}
    for job in jobs:
        if job.name in wanted:
            wanted.update(job.needs)
    return [job for job in jobs if job.name in wanted]


def run_job(job: Job, in_process: bool = False) -> None:
    """Run one training program to the end; its output goes to :attr:`Job.log_path`.

    Raises:
        RuntimeError: the program failed (its error line and log path are in the message).
    """
    job.run_dir.parent.mkdir(parents=True, exist_ok=True)
    if in_process:  # tests: no interpreter start-up, same code
        importlib.import_module(job.module).main(job.resume_argv())
        return
    with job.log_path.open("w") as handle:
        code = subprocess.call(
            [sys.executable, "-m", job.module, *job.resume_argv()], stdout=handle, stderr=subprocess.STDOUT
        )
    if code != 0:
        why = error_line(job.log_path)
        raise RuntimeError(f"training '{job.name}' failed (exit {code}): {why} (log: {job.log_path})")


def ensure_trained(jobs: list[Job], in_process: bool = False, say=print) -> list[Path]:
    """Train every job whose run is not finished, in the foreground; returns the run directories."""
    todo = [job for job in jobs if not job.finished()]
    if todo:
        say(f"First use: training {len(todo)} embedded-default model(s) into {jobs[0].run_dir.parent} ...")
    for number, job in enumerate(todo, 1):
        say(f"[{number}/{len(todo)}] python -m {job.module} {' '.join(job.argv())}")
        started = time.perf_counter()
        run_job(job, in_process)
        say(f"[{number}/{len(todo)}] {job.name} done in {time.perf_counter() - started:.0f} s")
    return [job.run_dir for job in jobs]


@dataclass
class JobStatus:
    """What the page and the console show of one job.

    ``state``: ``queued``, ``running``, ``ready`` (trained; the demo serves it), ``failed``,
    ``skipped`` (a job it needs failed) or ``stopped`` (the demo is shutting down).
    """

    job: Job
    state: str = "queued"
    pid: int | None = None
    detail: str = ""
    error: str = ""
    progress: Progress = field(default_factory=Progress)
    seconds_left: float | None = None
    seconds_bound: float | None = None  # what is left of trainer.max_time
    samples: list[tuple[float, int]] = field(default_factory=list)  # (monotonic time, step) seen this start
    fit_started: float | None = None  # monotonic time this start's fit began (its config.yaml was written)
    launched: float = 0.0  # wall-clock time the child was started

    @property
    def stage(self) -> str:
        """``waiting``, ``preparing data and model``, ``training``, ``testing``, or the state."""
        if self.state == "queued":
            waits = ", ".join(self.job.needs)
            return f"waiting for {waits}" if waits else "waiting"
        if self.state != "running":
            return self.state
        progress = self.progress
        if not progress.epoch:
            return "preparing data and model"
        if progress.max_epochs and progress.epochs_done >= progress.max_epochs:
            return "testing"
        if progress.max_steps and progress.step >= progress.max_steps:
            return "testing"
        return "training"

    def as_dict(self) -> dict:
        """A JSON-ready summary (the ``/progress`` API and the tests read it)."""
        p = self.progress
        return {
            "name": self.job.name,
            "kind": self.job.kind,
            "state": self.state,
            "stage": self.stage,
            "pid": self.pid,
            "epoch": p.epoch,
            "max_epochs": p.max_epochs,
            "max_steps": p.max_steps,
            "tier": self.job.tier,
            "needs": list(self.job.needs),
            "step": p.step,
            "total_steps": p.total_steps,
            "monitor": p.monitor,
            "dev": p.dev[-1] if p.dev else None,
            "best_dev": p.best_dev,
            "seconds_left": self.seconds_left,
            "time_left": time_left(self.seconds_left, self.seconds_bound) if self.state == "running" else "",
            "detail": self.detail,
            "error": self.error,
            "log": str(self.job.log_path),
            "run_dir": str(self.job.run_dir),
        }


def estimate_seconds_left(status: JobStatus, now: float) -> tuple[float | None, float | None]:
    """(estimate, bound) of the training time left: the step rate seen since this start over the
    steps still to go (None until two steps apart were seen), and what is left of ``trainer.max_time``
    (None when unset); the estimate never exceeds the bound."""
    progress, estimate, bound = status.progress, None, None
    seen = [(t, s) for t, s in status.samples if s > 0]
    if progress.total_steps and len(seen) >= 2 and seen[-1][1] > seen[0][1]:
        rate = (seen[-1][1] - seen[0][1]) / (seen[-1][0] - seen[0][0])
        estimate = max(0.0, (progress.total_steps - progress.step) / rate)
    if progress.max_seconds and status.fit_started is not None:
        bound = max(0.0, progress.max_seconds - (now - status.fit_started))
        estimate = None if estimate is None else min(estimate, bound)
    return estimate, bound


def time_left(seconds_left: float | None, bound: float | None) -> str:
    """``~3 min``, ``at most 5 min`` (only ``max_time`` is known), or ''."""
    if seconds_left is not None:
        return f"~{format_seconds(seconds_left)}"
    return f"at most {format_seconds(bound)}" if bound is not None else ""
