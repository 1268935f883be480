"""The demo's default models: the embedded-default configs, trained on first use into ``runs/demo/``.

Each model is the engineers' own program run on its shipped config (``python -m cascade.fit_asr
-c configs/embedded/asr.yaml`` ...), with the ``all_languages`` protocol so every language of
the embedded corpus can be tried in the demo. ``quick=True`` shortens training (few epochs) for
a first look; the full configs take ~15-20 min of CPU in all (the configs' own budgets).
"""

from __future__ import annotations

import importlib
import logging
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_BASE = Path("runs/demo")


@dataclass
class Job:
    """One training program run: ``python -m <module> <args>`` into ``run_dir``."""

    name: str
    module: str
    configs: list[str]
    run_dir: Path
    args: list[str] = field(default_factory=list)

    def argv(self) -> list[str]:
        out = []
        for config in self.configs:
            out += ["-c", config]
        return [*out, "--run_dir", str(self.run_dir), *self.args]

    def finished(self) -> bool:
        return (self.run_dir / "metrics.json").is_file() and any((self.run_dir / "checkpoints").glob("*.ckpt"))


def default_jobs(
    base: str | Path = DEFAULT_BASE, quick: bool = False, extra: dict[str, list[str]] | None = None
) -> list[Job]:
    """The four default runs, in dependency order (the cascade reads the recognizer's checkpoint).

    Args:
        base: folder of the runs (``<base>/asr``, ``cascade``, ``e2e``, ``vision``).
        quick: a shortened training (2-3 epochs each) for the demo's first use.
        extra: more CLI arguments per job name (``asr``, ``cascade``, ``e2e``, ``vision``),
            e.g. a tiny corpus and model for tests.
    """
    base, extra = Path(base), extra or {}
    asr_ckpt = base / "asr" / "checkpoints" / "best.ckpt"
    short = {
        "asr": ["--trainer.max_epochs=2"],
        "cascade": ["--trainer.max_epochs=3"],
        "e2e": ["--trainer.max_epochs=3"],
        "vision": ["--trainer.max_epochs=3"],
    }
    jobs = [
        Job("asr", "cascade.fit_asr", ["configs/embedded/asr.yaml"], base / "asr"),
        Job(
            "cascade",
            "cascade.fit",
            ["configs/embedded/cascade.yaml", "configs/embedded/cascade/all_languages.yaml"],
            base / "cascade",
            [f"--data.recognizer.init_args.checkpoint={asr_ckpt}", f"--data.cache_dir={base / 'cache'}"],
        ),
        Job(
            "e2e",
            "speech.fit",
            ["configs/embedded/speech.yaml", "configs/speech/protocol/all_languages.yaml"],
            base / "e2e",
        ),
        Job(
            "vision",
            "vision.fit",
            ["configs/embedded/vision.yaml", "configs/embedded/vision/all_languages.yaml"],
            base / "vision",
        ),
    ]
    for job in jobs:
        job.args += (short[job.name] if quick else []) + extra.get(job.name, [])
    return jobs


def run_job(job: Job, in_process: bool = False) -> None:
    """Run one training program; its output goes to ``<run_dir>.log``.

    Raises:
        RuntimeError: the program failed (the log's tail is in the message).
    """
    job.run_dir.parent.mkdir(parents=True, exist_ok=True)
    if in_process:  # tests: no interpreter start-up, same code
        importlib.import_module(job.module).main(job.argv())
        return
    logfile = job.run_dir.parent / f"{job.name}.log"
    with logfile.open("w") as handle:
        code = subprocess.call([sys.executable, "-m", job.module, *job.argv()], stdout=handle, stderr=subprocess.STDOUT)
    if code != 0:
        tail = "\n".join(logfile.read_text(errors="replace").splitlines()[-15:])
        raise RuntimeError(f"training '{job.name}' failed (exit {code}); see {logfile}:\n{tail}")


def ensure_trained(jobs: list[Job], in_process: bool = False, say=print) -> list[Path]:
    """Train every job whose run is not finished; returns the run directories.

    ``say`` receives the progress messages (the console for ``python -m apps.demo``).
    """
    todo = [job for job in jobs if not job.finished()]
    if todo:
        say(f"First use: training {len(todo)} embedded-default model(s) into {jobs[0].run_dir.parent} ...")
    for number, job in enumerate(todo, 1):
        say(f"[{number}/{len(todo)}] python -m {job.module} {' '.join(job.argv())}")
        started = time.perf_counter()
        run_job(job, in_process)
        say(f"[{number}/{len(todo)}] {job.name} done in {time.perf_counter() - started:.0f} s")
    return [job.run_dir for job in jobs]
