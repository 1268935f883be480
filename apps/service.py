"""What the page serves, kept up to date in the background while the page is already up.

:class:`Service` (started by :func:`apps.demo.build_demo`) finds the finished runs
(:mod:`apps.registry`), loads them, trains the missing default models two at a time
(:class:`apps.supervisor.Supervisor`), and collects the example inputs once a corpus is there.
The page reads :meth:`Service.status` and :meth:`Service.path_status` on a timer.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from apps.examples import Example, collect, ready, source_of
from apps.progress import DEV_METRICS
from apps.registry import KINDS, Registry, dev_score, finished_runs, kinds_of, search_places
from apps.supervisor import Supervisor
from apps.training import default_jobs, jobs_for

log = logging.getLogger(__name__)

LABELS = {
    "e2e": "E2E speech model",
    "cascade": "cascade",
    "vision": "vision model",
    "ocr": "OCR cascade",
    "asr": "cascade recognizer",
    "e2e-quick": "E2E speech model (quick recipe)",
    "asr-quick": "cascade recognizer (quick recipe)",
    "cascade-quick": "cascade (quick recipe)",
    "vision-quick": "vision model (quick recipe)",
    "ocr-quick": "OCR cascade (quick recipe)",
}


class Service:
    """The demo's models, training and examples.

    Args:
        runs: ``--runs`` folders (run directories or folders of runs).
        base: where the default models are trained (``runs/demo``); searched too.
        train: train the default model of each kind no finished run was found for.
        quick: shortened training; ``extra``: more CLI arguments per job (see :func:`apps.training.default_jobs`).
        quick_first: train the quick recipes first (speech's, then vision's: every path answers within minutes); a full
            recipe's run replaces its quick one when its dev score is better.
        say: the console.
        poll: seconds between looks at a training child.
    """

    def __init__(
        self,
        runs: list[str | Path] | None = None,
        base: str | Path = "runs/demo",
        train: bool = True,
        quick: bool = False,
        extra: dict[str, list[str]] | None = None,
        say=print,
        poll: float = 1.0,
        quick_first: bool = True,
    ):
        self.runs, self.base, self.train, self.say, self.poll = runs, Path(base), train, say, poll
        self.jobs = default_jobs(self.base, quick=quick, extra=extra, quick_first=quick_first)
        self.registry = Registry()
        self.supervisor: Supervisor | None = None
        self.examples: dict[str, list[Example]] = {"audio": [], "image": []}
        self.searching = True
        self.search_error = ""
        self.version = 0  # bumped when the examples change
        self._images_from: Path | None = None  # the run whose corpus gave the image examples
        self._thread = threading.Thread(target=self._start, name="demo-service", daemon=True)
        self._stop = threading.Event()
        self._examples_lock = threading.Lock()
        self.examples_folder.mkdir(parents=True, exist_ok=True)

    @property
    def examples_folder(self) -> Path:
        return self.base / "examples"

    def start(self) -> Service:
        """Start the background work (once)."""
        if not self._thread.is_alive() and not self._stop.is_set() and self._thread.ident is None:
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop training (the child and its process group) and the background work."""
        self._stop.set()
        if self.supervisor is not None:
            self.supervisor.stop()

    # -- background ----------------------------------------------------------------------------------
    def _start(self) -> None:
        from speech import feature_cache

        feature_cache.set_writes(False)  # uploads read cached corpus features but never add to the disk
        places = search_places(self.runs, self.base)
        try:
            found = finished_runs(places)
        except Exception as err:  # noqa: BLE001 - a broken run dir must not stop the page or the training
            log.exception("demo: looking for runs failed")
            self.search_error = f"looking for runs in {', '.join(map(str, places))} failed: {type(err).__name__}: {err}"
            found = {kind: [] for kind in KINDS}
        # the first run of each kind first, then the training, then the other runs (a sweep may have many)
        self._load([(kind, runs[0]) for kind, runs in found.items() if runs])
        self.searching = False
        # the demo's own runs do not count: a quick run served while its full recipe is to come is trained on
        missing = {kind for kind in KINDS if not [run for run in found.get(kind, []) if not self._own(run)]}
        where = ", ".join(map(str, places)) or "nothing to search"
        self.say(f"[demo] finished runs in {where}: " + ", ".join(f"{k} {len(v)}" for k, v in found.items()))
        if self.train and missing and not self._stop.is_set():
            jobs = jobs_for(self.jobs, missing)
            self.say(f"[demo] training in the background: {', '.join(job.name for job in jobs)} (into {self.base})")
            self.supervisor = Supervisor(jobs, self._on_ready, say=self.say, poll=self.poll).start()
        self._gather_examples()
        self._load([(kind, run) for kind, runs in found.items() for run in runs[1:]])
        # the first training builds the embedded corpus: its clips become examples as soon as it is there
        while not self.examples["audio"] and not self._stop.wait(2 * self.poll):
            self._gather_examples()

    def _load(self, runs: list[tuple[str, Path]]) -> None:
        for kind, run in runs:
            if not self._stop.is_set():
                self.registry.add(run, kind)

    def _own(self, run: Path) -> bool:
        return Path(run).resolve().is_relative_to(self.base.resolve())

    def _tier(self, run: Path) -> str | None:
        """``quick`` or ``full``: the recipe of the demo's job that trains ``run``; None for any other run."""
        return next((job.tier for job in self.jobs if job.run_dir.resolve() == Path(run).resolve()), None)

    def _on_ready(self, job) -> None:
        if job.kind:
            name = self.registry.add(job.run_dir, job.kind)
            self.say(f"[demo] {LABELS[job.name]} ready: {job.run_dir}")
            self._serve_better(job.kind, name)
        self._gather_examples()

    def _serve_better(self, kind: str, name: str) -> None:
        """Serve ``name`` instead of the kind's served run when that is the demo's own and ``name`` is a full
        recipe's run with a dev score at least as good (or a quick one whose full run scored worse)."""
        served = self.registry.served(kind)
        if served is None or served == name or name not in self.registry.names(kind):
            return
        served_dir, new_dir = self.registry.run_dir(kind, served), self.registry.run_dir(kind, name)
        if not self._own(served_dir):
            return  # a run the person asked for (--runs, a sweep) stays served
        (monitor, old), (_, new) = dev_score(served_dir), dev_score(new_dir)
        new_is_full = self._tier(new_dir) == "full"
        if old is None or new is None or new == old:
            better = new_is_full  # the full recipe is the reference: it wins unless its dev score is worse
        else:
            better = (new > old) == DEV_METRICS.get(monitor or "", True)
        if better:
            self.registry.promote(kind, name)
            self.say(f"[demo] {kind} now serves {name} (dev {monitor} {new}; was {served}: {old})")
        else:
            self.say(f"[demo] {kind} keeps serving {served} (dev {monitor} {old}; {name}: {new})")

    def _gather_examples(self) -> None:
        with self._examples_lock:  # the service thread and the supervisor's may both look
            self._gather_examples_locked()

    def _gather_examples_locked(self) -> None:
        """Collect the example inputs that are missing, from a served run's corpus or the built default.

        Images come from the OCR cascade's text images (both vision paths read them), else from the
        vision run's set; the vision run's images give way to the text images once an OCR run is served.
        """
        # images: the OCR cascade's first (its text images serve both image paths)
        images = sorted(kinds_of("image"), key=lambda kind: KINDS[kind].path != "cascade")
        for field_name, kinds in (("audio", kinds_of("speech")), ("image", images)):
            runs = [self.registry_run(kind) for kind in kinds]
            run = next((r for r in runs if r is not None), None)
            if self.examples[field_name] and (field_name == "audio" or self._images_from == run):
                continue
            try:
                source = source_of(run) if run is not None or field_name == "audio" else None
            except Exception as err:  # noqa: BLE001 - a config that names no loadable source: no examples
                log.warning("demo: no example source: %s", err)
                source = None
            if source is not None and ready(source):
                self.examples[field_name] = collect(source, self.examples_folder, field_name)
                self.version += 1
                self._images_from = run if field_name == "image" else self._images_from

    def registry_run(self, kind: str) -> Path | None:
        names = self.registry.names(kind)
        return self.registry.get(kind, names[0]).run_dir if names else None

    # -- what the page shows ---------------------------------------------------------------------------
    def jobs_status(self) -> list[dict]:
        return self.supervisor.snapshot() if self.supervisor else []

    def path_status(self, kind: str) -> str:
        """One line on a path's model: ready (which run it serves, which recipe, its dev score, and how far a
        full recipe still training is), training (how far), failed, or how to get one."""
        served = self.registry.served(kind)
        if served:
            run_dir = self.registry.run_dir(kind, served)
            monitor, best = dev_score(run_dir)
            parts = [f"ready ({len(self.registry.names(kind))} run(s)) · serving {served}"]
            tier = self._tier(run_dir)
            if tier:
                parts.append(f"{tier} recipe")
            parts.append(f"dev {monitor} {best:.3f}" if best is not None else "no dev score")
            full = next((j for j in self.jobs_status() if j["kind"] == kind and j["tier"] == "full"), None)
            if full is not None and full["state"] in ("queued", "running") and tier == "quick":
                parts.append(f"full recipe {describe(full)}")
            return " · ".join(parts)
        if self.searching:
            return "looking for trained runs ..."
        jobs = {job["name"]: job for job in self.jobs_status()}
        job = next((j for j in jobs.values() if j["kind"] == kind and j["state"] not in ("failed", "skipped")), None)
        job = job or next((j for j in jobs.values() if j["kind"] == kind), None)
        if job is None:
            return "no run: pass one with --runs" + ("" if self.train else " (training is off: --no-train)")
        if job["state"] in ("failed", "skipped"):
            return f"training failed: {job['error']} (log: {job['log']})"
        blocking = [jobs[name] for name in job.get("needs", []) if name in jobs]
        current = next((j for j in blocking if j["state"] not in ("ready",)), job)
        return f"not ready yet: {LABELS.get(current['name'], current['name'])} {describe(current)}"

    def status_markdown(self) -> str:
        """The training panel: one row per model being trained, or what is served."""
        lines = []
        if self.searching:
            lines.append("Looking for trained runs ...")
        served = [f"{LABELS[k]}: {len(self.registry.names(k))}" for k in KINDS if self.registry.names(k)]
        if served:
            lines.append("**Serving** " + " · ".join(served))
        jobs = self.jobs_status()
        if jobs:
            lines += ["", "| model | stage | progress | dev score | time left |", "|---|---|---|---|---|"]
            for job in jobs:
                lines.append(job_row(job))
            failed = [job for job in jobs if job["state"] == "failed"]
            lines += [f"\n**{job['name']} failed:** `{job['error']}` — log: `{job['log']}`" for job in failed]
        lines += [f"\n**Could not load** {error}" for error in self.registry.errors()]
        lines += [f"\n**{self.search_error}**"] if self.search_error else []
        return "\n".join(lines) or "No models yet."


def describe(job: dict) -> str:
    """``(training · step 40/160 · ~3 min left)``."""
    parts = [job["stage"]]
    if job["epoch"]:
        parts.append(steps_of(job))
    if job["time_left"]:
        parts.append(f"{job['time_left']} left")
    return "(" + " · ".join(parts) + ")"


def steps_of(job: dict) -> str:
    """``step 40/160``: the steps taken of the budget (``step 40`` while it is unknown)."""
    return f"step {job['step']}/{job['total_steps']}" if job["total_steps"] else f"step {job['step']}"


def job_row(job: dict) -> str:
    """A markdown table row of one training job."""
    progress = ""
    if job["epoch"]:
        epochs = f"epoch {job['epoch']}/{job['max_epochs']}" if job["max_epochs"] else f"epoch {job['epoch']}"
        progress = f"{epochs} · {steps_of(job)}"
    elif job["state"] == "running" and job["detail"]:
        progress = job["detail"].replace("|", "/")
    dev = f"{job['monitor']} {job['dev']:.3f} (best {job['best_dev']:.3f})" if job["dev"] is not None else ""
    return f"| {LABELS.get(job['name'], job['name'])} | {job['stage']} | {progress} | {dev} | {job['time_left']} |"
