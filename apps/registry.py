"""The runs the demo serves: found on disk or trained by it, by kind and display name, loaded once.

Where finished runs are looked for (:func:`search_places`): the folders given with ``--runs``,
the demo's own ``runs/demo/``, the README main job's run directory (``runs/speech``) and every
sweep's ``sweeps/*/runs``. A run is *finished* when :class:`~workbench.runs.RunDir` says so
(its metrics, written last, exist). What the demo serves is :data:`KINDS`: a name for each
(path, modality) of the run record that has a place on the page. Loading is
:func:`apps.models.demo_model`, done once per run, in the background as soon as a run is
registered so that its path of the page is usable the moment it is ready.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

from workbench.errors import WorkbenchError
from workbench.record import RunRecord
from workbench.runs import RunDir, find_runs

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Kind:
    """A kind of run the demo serves: the run record's ``path`` and ``modality``, and its title."""

    path: str
    modality: str
    title: str


# the demo's kinds by name (recognizer runs serve only inside their cascades)
KINDS = {
    "e2e": Kind("e2e", "speech", "E2E"),
    "cascade": Kind("cascade", "speech", "Cascade"),
    "vision": Kind("e2e", "image", "Vision E2E"),
    "ocr": Kind("cascade", "image", "OCR cascade"),
}


def demo_kind(record: RunRecord) -> str | None:
    """The name of the demo's kind a run serves as; None when it has no place in the demo."""
    return next((n for n, k in KINDS.items() if (k.path, k.modality) == (record.path, record.modality)), None)


def kinds_of(modality: str) -> tuple[str, ...]:
    """The demo's kinds on ``modality``, in :data:`KINDS`' order."""
    return tuple(name for name, kind in KINDS.items() if kind.modality == modality)


MAIN_JOB_CONFIGS = ["configs/embedded/speech.yaml"]  # the README's main job: python -m speech.fit -c ...


def search_places(runs: list[str | Path] | None, base: str | Path, sweeps: str | Path = "sweeps") -> list[Path]:
    """The folders searched for finished runs, in the order their runs are offered."""
    from workbench.cli import default_run_dir  # imports Lightning: not before the page is up

    places = [Path(p) for p in runs or []] + [Path(base), Path(default_run_dir(MAIN_JOB_CONFIGS, "speech"))]
    places += sorted(Path(sweeps).glob("*/runs"))
    out: list[Path] = []
    for place in places:
        if place.exists() and place.resolve() not in [p.resolve() for p in out]:
            out.append(place)
    return out


def finished_runs(places: list[Path]) -> dict[str, list[Path]]:
    """``{kind: [finished run dirs]}`` under ``places``: every servable run with a place in the demo."""
    found: dict[str, list[Path]] = {kind: [] for kind in KINDS}
    for place in places:  # one place at a time: keep the order of the places
        for run, record in find_runs([place]):
            kind = demo_kind(record)
            if kind is not None and run not in found[kind]:
                found[kind].append(run)
    return found


def record_or_none(run_dir: Path) -> RunRecord | None:
    try:
        return RunDir(run_dir).record()
    except (WorkbenchError, OSError, ValueError):  # not finished, or not readable: nothing to show
        return None


def display_name(run_dir: Path, kind: str) -> str:
    """``<system> (<parent>/<run>)``: short, yet tells runs of the same system apart."""
    record = record_or_none(run_dir)
    return f"{record.system if record else kind} ({'/'.join(run_dir.parts[-2:])})"


def dev_score(run_dir: Path) -> tuple[str | None, float | None]:
    """``(monitor, best dev score)`` of a finished run, from its run record (``(None, None)`` when unknown)."""
    record = record_or_none(Path(run_dir))
    return (record.training.monitor, record.training.best_dev) if record else (None, None)


@dataclass
class Entry:
    """One registered run; ``model`` once loaded, ``error`` when loading failed."""

    kind: str
    run_dir: Path
    model: object = None
    error: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)


class Registry:
    """Registered runs by kind and display name (the first registered is each kind's default)."""

    def __init__(self):
        self._entries: dict[str, dict[str, Entry]] = {kind: {} for kind in KINDS}
        self._lock = threading.Lock()
        self.version = 0  # bumped at each change: the page refreshes its choices when it moves

    def add(self, run_dir: str | Path, kind: str, load: bool = True) -> str:
        """Register a run (and load it now when ``load``); returns its display name."""
        run_dir = Path(run_dir).resolve()
        name = display_name(run_dir, kind)
        with self._lock:
            if name in self._entries[kind]:
                return name
            self._entries[kind][name] = Entry(kind, run_dir)
        if load:
            self.get(kind, name)
        with self._lock:
            self.version += 1
        return name

    def names(self, kind: str, loaded_only: bool = True) -> list[str]:
        """Display names of the runs of ``kind`` (by default only those loaded and usable)."""
        with self._lock:
            return [n for n, e in self._entries[kind].items() if e.model is not None or not loaded_only]

    def get(self, kind: str, name: str | None = None):
        """The model of run ``name`` (the kind's first usable one when None), loaded on first use.

        Raises:
            KeyError: no such run, or no usable run of ``kind``.
        """
        from apps.models import demo_model

        with self._lock:
            entries = self._entries[kind]
            if not name:
                name = next((n for n, e in entries.items() if e.model is not None), None)
            entry = entries.get(name) if name else None
        if entry is None:
            raise KeyError(f"no {kind} run {name or ''}".strip())
        with entry.lock:
            if entry.model is None and not entry.error:
                try:
                    entry.model = demo_model(entry.run_dir)
                except Exception as err:  # noqa: BLE001 - shown in the page; the other runs still serve
                    log.exception("demo: loading %s failed", entry.run_dir)
                    entry.error = f"{type(err).__name__}: {err}"
                with self._lock:
                    self.version += 1
        if entry.model is None:
            raise KeyError(f"{kind} run {name} could not be loaded: {entry.error}")
        return entry.model

    def served(self, kind: str) -> str | None:
        """The display name of the run ``kind`` serves (the first usable one), None when there is none."""
        names = self.names(kind)
        return names[0] if names else None

    def run_dir(self, kind: str, name: str) -> Path:
        with self._lock:
            return self._entries[kind][name].run_dir

    def promote(self, kind: str, name: str) -> None:
        """Serve run ``name`` for ``kind`` from now on (it becomes the kind's first run)."""
        with self._lock:
            entries = self._entries[kind]
            self._entries[kind] = {name: entries[name], **{n: e for n, e in entries.items() if n != name}}
            self.version += 1

    def errors(self) -> list[str]:
        """``run dir: error`` of every run that failed to load."""
        with self._lock:
            return [f"{e.run_dir}: {e.error}" for kinds in self._entries.values() for e in kinds.values() if e.error]

    def speech_languages(self) -> list[str]:
        """Languages of the loaded speech runs (from their models), sorted."""
        with self._lock:
            models = [e.model for kind in kinds_of("speech") for e in self._entries[kind].values() if e.model]
        return sorted({lang for model in models for lang in getattr(model, "languages", [])})
