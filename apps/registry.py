"""The runs the demo serves: found on disk or trained by it, by kind and display name, loaded once.

Where finished runs are looked for (:func:`search_places`): the folders given with ``--runs``,
the demo's own ``runs/demo/``, the README main job's run directory (``runs/speech``) and every
sweep's ``sweeps/*/runs``. A run is *finished* when its ``metrics.json`` exists (programs write
it last). Loading is :func:`apps.models.load_run`, done once per run, in the background as soon
as a run is registered so that its path of the page is usable the moment it is ready.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

KINDS = ("e2e", "cascade", "vision", "ocr")  # ocr: a cascade on images (apps.models.demo_kind)
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
    """``{kind: [finished run dirs]}`` under ``places`` (E2E, cascade, vision and OCR cascade runs)."""
    from apps.models import discover_runs

    found: dict[str, list[Path]] = {kind: [] for kind in KINDS}
    for place in places:  # one place at a time: keep the order of the places
        for kind, runs in discover_runs([place]).items():
            found.setdefault(kind, [])
            found[kind] += [run for run in runs if (run / "metrics.json").is_file() and run not in found[kind]]
    return found


def display_name(run_dir: Path, kind: str) -> str:
    """``<system> (<parent>/<run>)``: short, yet tells runs of the same system apart."""
    system = kind
    try:
        metrics = json.loads((run_dir / "metrics.json").read_text())
        system = (metrics.get("record") or {}).get("system") or metrics.get("system") or kind
    except (OSError, ValueError):
        pass
    return f"{system} ({'/'.join(run_dir.parts[-2:])})"


def dev_score(run_dir: Path) -> tuple[str | None, float | None]:
    """``(monitor, best dev score)`` of a finished run, from its run record (``(None, None)`` when unknown)."""
    try:
        training = (json.loads((Path(run_dir) / "metrics.json").read_text()).get("record") or {}).get("training")
    except (OSError, ValueError):
        return None, None
    training = training or {}
    return training.get("monitor"), training.get("best_dev")


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
        from apps.models import load_run

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
                    entry.model = load_run(entry.run_dir)
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
            models = [e.model for kind in ("e2e", "cascade") for e in self._entries[kind].values() if e.model]
        return sorted({lang for model in models for lang in getattr(model, "languages", [])})
