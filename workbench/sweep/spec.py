"""A sweep file: base configs per system and a grid of protocol x sources x system x seed.

Example (see ``configs/sweeps/embedded.yaml``)::

    name: embedded
    out_dir: sweeps/embedded
    workers: 2
    setup:                      # run once, in order, before the grid (shared recognizers...); a step
                                # reads only steps listed before it, and starts once they have ended
      - name: asr-romanized
        program: cascade.fit_asr
        configs: [configs/embedded/asr.yaml]
    systems:
      e2e-conv:
        program: speech.fit
        configs: [configs/embedded/speech.yaml]
      ca-romanized:
        program: cascade.fit
        configs: [configs/embedded/cascade.yaml, configs/embedded/cascade/romanized.yaml]
        args: {--model.recognizer.init_args.checkpoint: "${sweep_dir}/setup/asr-romanized/checkpoints/best.ckpt"}
        protocols: [zero_shot]  # this system in these of the grid's protocols only (default: all)
    protocols:
      in_language: [[eng], [rus]]
      zero_shot: [[eng]]
      all_languages: [null]
    seeds: [0, 1]
    args: {--trainer.max_epochs: 20}   # for every point
    engine: submitit            # or local (the default)
    slurm: {timeout_min: 60, cpus_per_task: 2, slurm_partition: gpu}   # submitit's own keys

A sweep that needs another's setup steps (the transfer matrix, the main comparison's
recognizers) names that file instead of copying them: ``setup_from: configs/sweeps/embedded.yaml``;
its systems read them through ``${setup_dir}`` (``${sweep_dir}/setup`` otherwise).

The ``slurm`` section is what submitit's ``AutoExecutor.update_parameters`` takes (its shared
keys, and ``slurm_``-prefixed keys of its SLURM executor), plus ``cluster`` (``slurm``, the
default, or ``local``); an unknown key is an error naming the accepted ones.

Every point is one LightningCLI run in ``<out_dir>/runs/<system>/<protocol tag>/seed<k>``.
The protocol and seed reach the program as ordinary CLI arguments
(``--data.protocol.name``, ``--data.protocol.sources``, ``--seed_everything``,
``--run_dir``), so a point can be re-run by hand with the command the sweep prints.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from workbench.errors import ConfigError

PROTOCOLS = ("in_language", "all_languages", "zero_shot")
ENGINES = ("local", "submitit")
KNOWN_KEYS = {
    "name",
    "out_dir",
    "workers",
    "engine",
    "setup",
    "setup_from",
    "systems",
    "protocols",
    "seeds",
    "args",
    "slurm",
}
KNOWN_KEYS |= {"tune"}  # read by workbench.tune (budget, tuned protocols); a sweep ignores it


@dataclass(frozen=True)
class Point:
    """One run of the grid (or a setup step when ``protocol`` is None)."""

    system: str
    program: str
    configs: tuple[str, ...]
    args: tuple[tuple[str, str], ...]
    run_dir: Path
    protocol: str | None = None
    sources: tuple[str, ...] | None = None
    seed: int | None = None

    @property
    def tag(self) -> str:
        if self.protocol is None:
            return f"setup/{self.system}"
        sources = f"-{'+'.join(self.sources)}" if self.sources else ""
        return f"{self.system}/{self.protocol}{sources}/seed{self.seed}"

    def command(self, python: str = "python") -> list[str]:
        """The exact command line of this run."""
        return [python, "-m", self.program, *self.arguments()]

    def arguments(self) -> list[str]:
        """The program's arguments (the command line after ``python -m <program>``)."""
        cmd = []
        for config in self.configs:
            cmd += ["-c", config]
        if self.protocol is not None:
            cmd += [f"--data.protocol.name={self.protocol}"]
            cmd += [f"--data.protocol.sources={json.dumps(list(self.sources)) if self.sources else 'null'}"]
            cmd += [f"--seed_everything={self.seed}"]
        cmd += [f"{key}={value}" for key, value in self.args]
        cmd += [f"--run_dir={self.run_dir}"]
        return cmd

    @property
    def devices(self) -> int:
        """Processes this run starts (``trainer.devices``: the last of its configs, then its args); 1 unless
        a count or a list of devices is given. On a cluster each is a task of the point's job."""
        value = None
        for config in self.configs:
            trainer = (yaml.safe_load(Path(config).read_text(encoding="utf-8")) or {}).get("trainer") or {}
            value = trainer.get("devices", value)
        for key, text in self.args:
            if key == "--trainer.devices":
                value = yaml.safe_load(text)
        if isinstance(value, list):
            return len(value)
        return value if isinstance(value, int) and value > 0 else 1


@dataclass
class Sweep:
    name: str
    out_dir: Path
    setup: list[Point]
    points: list[Point]
    workers: int = 1
    engine: str = "local"
    slurm: dict = field(default_factory=dict)


def _args(mapping: dict | None, sweep_dir: Path, setup_dir: Path) -> tuple[tuple[str, str], ...]:
    out = []
    for key, value in (mapping or {}).items():
        if not str(key).startswith("--"):
            raise ConfigError(f"sweep args: '{key}' must be a CLI flag starting with '--'")
        text = json.dumps(value) if isinstance(value, (list, dict, bool)) or value is None else str(value)
        text = text.replace("${sweep_dir}", str(sweep_dir)).replace("${setup_dir}", str(setup_dir))
        out.append((str(key), text))
    return tuple(out)


def _system(name: str, spec: dict, where: str) -> tuple[str, tuple[str, ...]]:
    if not isinstance(spec, dict) or "program" not in spec:
        raise ConfigError(f"{where} '{name}': needs 'program' (e.g. speech.fit) and 'configs'")
    configs = tuple(str(c) for c in spec.get("configs", []))
    for config in configs:
        if not Path(config).is_file():
            raise ConfigError(f"{where} '{name}': config file not found: {config}")
    return spec["program"], configs


def _system_protocols(name: str, spec: dict, protocols: dict, path: Path) -> list[str]:
    """The sweep's protocols this system runs in: its own ``protocols`` list (a subset), else all."""
    wanted = spec.get("protocols", list(protocols))
    unknown = [p for p in wanted if p not in protocols] if isinstance(wanted, list) else wanted
    if unknown:
        raise ConfigError(
            f"sweep file {path}: systems.{name}.protocols: {unknown} is not a list of this sweep's protocols "
            f"{list(protocols)}"
        )
    return wanted


def slurm_keys() -> set[str]:
    """The keys a sweep file's ``slurm`` section accepts: submitit's own (its AutoExecutor's shared
    parameters and its SLURM executor's, ``slurm_``-prefixed), and ``cluster``."""
    from submitit import AutoExecutor, SlurmExecutor

    return {"cluster", *AutoExecutor._valid_parameters(), *(f"slurm_{k}" for k in SlurmExecutor._valid_parameters())}


def _slurm(section, path: Path) -> dict:
    if not isinstance(section, dict):
        raise ConfigError(f"sweep file {path}: 'slurm' must be a mapping of submitit parameters")
    unknown = sorted(set(section) - slurm_keys())
    if unknown:
        raise ConfigError(
            f"sweep file {path}: slurm: unknown key(s) {unknown}; submitit accepts: {', '.join(sorted(slurm_keys()))}"
        )
    return dict(section)


def reads(point: Point, step: Point) -> bool:
    """Whether ``point``'s arguments name ``step``'s run directory (e.g. a recognizer's checkpoint)."""
    values = [str(value) for _, value in point.args]
    return point is not step and any(v == str(step.run_dir) or v.startswith(f"{step.run_dir}/") for v in values)


def steps_read(points: list[Point], setup: list[Point]) -> list[Point]:
    """The setup steps ``points`` read, and those these read in turn (the language adapters read the masked
    LM), in the setup's order."""
    needed, todo = set(), list(points)
    while todo:
        point = todo.pop()
        for step in setup:
            if step not in needed and reads(point, step):
                needed.add(step)
                todo.append(step)
    return [step for step in setup if step in needed]


def check_setup_order(setup: list[Point], path: Path) -> None:
    """A setup step reads only steps listed before it: the engines start them in that order."""
    for k, step in enumerate(setup):
        later = [other.system for other in setup[k + 1 :] if reads(step, other)]
        if later:
            raise ConfigError(
                f"sweep file {path}: setup step '{step.system}' reads {later}, listed after it: list it first"
            )


def shared_setup(source: Path, sweep_dir: Path, extra_args: dict | None, path: Path) -> list[Point]:
    """``setup_from``: the setup steps of another sweep file, run in that sweep's folder beside this
    one (``<sweep_dir>/../<its out_dir's name>/setup``), so that whichever of the two sweeps runs
    first trains them and the other reuses them (a step started with other arguments is run again).
    :func:`load_sweep` keeps those this sweep's points read."""
    if not source.is_file():
        raise ConfigError(f"sweep file {path}: setup_from: sweep file not found: {source}")
    other = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    if other.get("setup_from"):
        raise ConfigError(f"sweep file {path}: setup_from: {source} takes its setup from another file itself")
    other_dir = sweep_dir.parent / Path(other.get("out_dir") or source.stem).name
    return load_sweep(source, other_dir, extra_args).setup


def load_sweep(path: str | Path, out_dir: str | Path | None = None, extra_args: dict | None = None) -> Sweep:
    """Read and expand a sweep file; every error names the key at fault.

    ``extra_args`` (``{"--trainer.max_epochs": 1}``) are added to every point and setup
    step, after the file's own: a quick variant of a sweep without editing it.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"sweep file not found: {path}")
    spec = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    unknown = set(spec) - KNOWN_KEYS
    if unknown:
        raise ConfigError(f"sweep file {path}: unknown key(s) {sorted(unknown)}; known: {sorted(KNOWN_KEYS)}")
    sweep_dir = Path(out_dir or spec.get("out_dir") or Path("sweeps") / path.stem)
    common = dict(spec.get("args") or {})
    extra = dict(extra_args or {})

    setup_dir = sweep_dir / "setup"
    setup = []
    for step in spec.get("setup") or []:
        program, configs = _system(step.get("name", "?"), step, "setup step")
        run_dir = setup_dir / step["name"]
        args = _args({**(step.get("args") or {}), **extra}, sweep_dir, setup_dir)
        setup.append(Point(step["name"], program, configs, args, run_dir))
    check_setup_order(setup, path)
    if spec.get("setup_from"):
        if setup:
            raise ConfigError(f"sweep file {path}: give 'setup' or 'setup_from', not both")
        setup = shared_setup(Path(spec["setup_from"]), sweep_dir, extra_args, path)
        setup_dir = setup[0].run_dir.parent if setup else setup_dir

    systems = spec.get("systems") or {}
    if not systems:
        raise ConfigError(f"sweep file {path}: 'systems' is empty")
    protocols = spec.get("protocols") or {}
    for name in protocols:
        if name not in PROTOCOLS:
            raise ConfigError(f"sweep file {path}: unknown protocol '{name}', expected one of {PROTOCOLS}")
    seeds = spec.get("seeds") or [0]
    engine = spec.get("engine", "local")
    if engine not in ENGINES:
        raise ConfigError(f"sweep file {path}: unknown engine '{engine}', expected one of {ENGINES}")

    points = []
    for (system, sys_spec), (protocol, source_sets), seed in itertools.product(
        systems.items(), protocols.items(), seeds
    ):
        program, configs = _system(system, sys_spec, "system")
        if protocol not in _system_protocols(system, sys_spec, protocols, path):
            continue
        for sources in source_sets or [None]:
            sources = tuple([sources] if isinstance(sources, str) else sources) if sources else None
            args = _args({**common, **(sys_spec.get("args") or {}), **extra}, sweep_dir, setup_dir)
            draft = Point(system, program, configs, args, Path(), protocol, sources, int(seed))
            points.append(
                Point(system, program, configs, args, sweep_dir / "runs" / draft.tag, protocol, sources, int(seed))
            )
    if spec.get("setup_from"):  # of the other file's steps, those this sweep's points read (and those these read)
        setup = steps_read(points, setup)
    return Sweep(
        name=spec.get("name", path.stem),
        out_dir=sweep_dir,
        setup=setup,
        points=points,
        workers=int(spec.get("workers", 1)),
        engine=engine,
        slurm=_slurm(spec.get("slurm") or {}, path),
    )
