"""How far a training run has got, read from what the program already writes in its run directory.

Nothing is added to the training programs: the reader looks at

- ``config.yaml`` (written when fitting starts): ``trainer.max_epochs``, ``trainer.max_time``
  and the metric the best checkpoint is chosen by;
- Lightning's ``CSVLogger`` files (``<run_dir>/**/metrics.csv``; Lightning rewrites them each
  time it logs, every ``log_every_n_steps`` and at each validation): the global step, the epoch
  and the dev scores so far;
- the program's log file (its last line says what it is doing before training starts: building
  the corpus, transcribing, ...).

The time left is estimated by the caller (:class:`apps.training.Supervisor`), which samples the
step over wall-clock time, from :attr:`Progress.total_steps`.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from workbench.runs import RunDir

# dev metrics a program may choose its best checkpoint by, and whether higher is better
COMMAND_MARK = "$ "  # the first line of a training log: the command, written by the demo, not the program
DEV_METRICS = {"val/acc": True, "val/macro_f1": True, "val/cer": False, "val/wer": False, "val/loss": False}


@dataclass
class Progress:
    """A run's progress, as far as its files tell.

    Attributes:
        started: the program has written ``config.yaml`` (data and model are set up, fitting began).
        step: optimizer steps taken, as last logged (0 before any).
        epoch: the epoch being trained, counted from 1 (0 before any).
        max_epochs: ``trainer.max_epochs`` (None when unbounded).
        max_steps: ``trainer.max_steps``, the step budget (None when unbounded: ``-1``).
        epochs_done: epochs whose validation was logged.
        steps_per_epoch: optimizer steps per epoch, known once the first epoch has been validated.
        monitor: the dev metric (``val/acc``, ``val/cer`` ...), None when none was logged yet.
        dev: the dev scores so far, one per validated epoch.
        higher_is_better: the direction of ``monitor``.
        max_seconds: ``trainer.max_time`` in seconds (None when unset).
    """

    started: bool = False
    step: int = 0
    epoch: int = 0
    max_epochs: int | None = None
    max_steps: int | None = None
    epochs_done: int = 0
    steps_per_epoch: int | None = None
    monitor: str | None = None
    dev: list[float] = field(default_factory=list)
    higher_is_better: bool = True
    max_seconds: float | None = None

    @property
    def best_dev(self) -> float | None:
        """The best dev score so far."""
        if not self.dev:
            return None
        return max(self.dev) if self.higher_is_better else min(self.dev)

    @property
    def total_steps(self) -> int | None:
        """Steps of the whole fit: the step budget, or the epoch budget's steps once an epoch's length is
        known, whichever ends the fit first (early stopping may end it sooner)."""
        by_epochs = self.steps_per_epoch * self.max_epochs if self.steps_per_epoch and self.max_epochs else None
        budgets = [b for b in (self.max_steps, by_epochs) if b]
        return min(budgets) if budgets else None

    def describe(self) -> str:
        """``epoch 2 · step 130/900 · dev val/acc 0.412 (best 0.450)`` (``epoch 2/8`` with an epoch budget);
        '' before training."""
        if not self.started or not self.epoch:
            return ""
        parts = [f"epoch {self.epoch}/{self.max_epochs}" if self.max_epochs else f"epoch {self.epoch}"]
        parts.append(f"step {self.step}/{self.total_steps}" if self.total_steps else f"step {self.step}")
        if self.dev:
            parts.append(f"dev {self.monitor} {self.dev[-1]:.3f} (best {self.best_dev:.3f})")
        return " · ".join(parts)


def parse_max_time(value) -> float | None:
    """Lightning's ``max_time`` (``"DD:HH:MM:SS"`` or ``{days, hours, minutes, seconds}``) in seconds."""
    if not value:
        return None
    if isinstance(value, dict):
        units = {"days": 86400, "hours": 3600, "minutes": 60, "seconds": 1}
        return float(sum(units[k] * float(v) for k, v in value.items() if k in units))
    try:
        days, hours, minutes, seconds = (float(x) for x in str(value).split(":"))
    except ValueError:
        return None
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


def read_rows(run_dir: Path) -> list[dict[str, str]]:
    """Every row of every ``metrics.csv`` under the run (a resumed vision run logs to a new version folder)."""
    rows: list[dict[str, str]] = []
    for path in sorted(run_dir.glob("**/metrics.csv"), key=lambda p: p.stat().st_mtime):
        try:
            with path.open(newline="") as handle:
                rows += list(csv.DictReader(handle))
        except (OSError, csv.Error):  # being rewritten by Lightning this very moment: read it next time
            continue
    return rows


def _number(text: str | None) -> float | None:
    try:
        value = float(text) if text not in (None, "") else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


def read_progress(run_dir: str | Path) -> Progress:
    """The progress of the run in ``run_dir`` (see the module docstring); empty when nothing is there yet."""
    run_dir = Path(run_dir)
    progress = Progress()
    config_path = RunDir(run_dir).config_path
    config: dict = {}
    if config_path.is_file():
        try:
            config = yaml.safe_load(config_path.read_text()) or {}
        except (OSError, yaml.YAMLError):  # half-written: the next poll reads it
            config = {}
    trainer = config.get("trainer") or {}
    progress.started = bool(config)
    max_epochs = trainer.get("max_epochs")
    progress.max_epochs = int(max_epochs) if isinstance(max_epochs, int) and max_epochs > 0 else None
    max_steps = trainer.get("max_steps")
    progress.max_steps = int(max_steps) if isinstance(max_steps, int) and max_steps > 0 else None
    progress.max_seconds = parse_max_time(trainer.get("max_time"))
    rows = read_rows(run_dir)
    columns = set().union(*(row.keys() for row in rows)) if rows else set()
    wanted = config.get("monitor")
    progress.monitor = wanted if wanted in columns else next((m for m in DEV_METRICS if m in columns), None)
    progress.higher_is_better = DEV_METRICS.get(progress.monitor or "", True)
    dev_by_epoch: dict[int, tuple[float, int]] = {}
    for row in rows:
        step, epoch = _number(row.get("step")), _number(row.get("epoch"))
        if step is not None:  # Lightning logs the 0-based index of the step just taken
            progress.step = max(progress.step, int(step) + 1)
        if epoch is not None:
            progress.epoch = max(progress.epoch, int(epoch) + 1)
        score = _number(row.get(progress.monitor)) if progress.monitor else None
        if score is not None and epoch is not None:
            dev_by_epoch[int(epoch)] = (score, int(step or 0))
    progress.dev = [dev_by_epoch[e][0] for e in sorted(dev_by_epoch)]
    progress.epochs_done = len(dev_by_epoch)
    if dev_by_epoch:
        first = min(dev_by_epoch)
        # validation at the end of 0-based epoch e is logged with the index of the epoch's last step
        progress.steps_per_epoch = max(1, (dev_by_epoch[first][1] + 1) // (first + 1))
    return progress


def last_line(log_path: str | Path, max_bytes: int = 8192) -> str:
    """The last non-empty line of a log file ('' when there is none), without reading all of it."""
    path = Path(log_path)
    if not path.is_file():
        return ""
    with path.open("rb") as handle:
        handle.seek(max(0, path.stat().st_size - max_bytes))
        tail = handle.read().decode("utf-8", errors="replace")
    # progress bars redraw with carriage returns: the last drawing is what is on screen
    lines = [line.split("\r")[-1].strip() for line in tail.splitlines()]
    return next((line for line in reversed(lines) if line and not line.startswith(COMMAND_MARK)), "")


def building_corpus(roots: list[Path]) -> str:
    """``building the embedded corpus: 1158 clips so far`` while a build under ``roots`` is under way, else ''.

    The build (``speech.embedded``) writes its clips first and ``dataset.json`` last.
    """
    for root in roots:
        for folder in sorted(Path(root).glob("embedded-*")):
            if not (folder / "dataset.json").is_file():
                clips = sum(1 for _ in folder.rglob("*.flac"))
                return f"building the embedded corpus: {clips} clips so far"
    return ""


def error_line(log_path: str | Path) -> str:
    """The line of a failed program's log that says why (the last ``...Error: ...`` line), else its last line."""
    path = Path(log_path)
    if not path.is_file():
        return ""
    text = path.read_text(errors="replace")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith(COMMAND_MARK)]
    for line in reversed(lines):
        head = line.split(":", 1)[0]
        if ":" in line and (head.endswith(("Error", "Exception", "Interrupt")) or head.startswith("error")):
            return line
    return lines[-1] if lines else ""


def format_seconds(seconds: float | None) -> str:
    """``45 s``, ``3 min``, ``1 h 05 min``; '' for None."""
    if seconds is None:
        return ""
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"
