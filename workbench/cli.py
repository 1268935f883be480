"""How every training program (speech.fit, cascade.fit, cascade.fit_asr, cascade.fit_ocr, vision.fit,
vision.fit_vlm) reads its command line: :func:`parse`, LightningCLI for parsing only.

LightningCLI reads the YAML overlays (``-c A -c B --key value``), prints ``--print_config``
and type-checks every ``class_path``; it builds the model and the data module from the
config, never the trainer (:func:`workbench.program.build_trainer` does). Every program
shares these arguments, one vocabulary:

- ``--run_dir`` (default ``runs/<config stems>``), where the run directory is written;
- ``--ckpt_path``, a checkpoint to resume training from;
- ``--fit`` (false: evaluate the model as loaded), ``--test`` (false: fit only);
- ``--monitor``, the dev metric ``checkpoints/best.ckpt`` is chosen by;
- ``--threads``, torch's CPU threads; unset, the sweep's per-worker share
  (``XLING_NUM_THREADS``), else the cores this process may use. No shipped config sets
  it: on a CPU shared with other jobs, pass ``--threads 1``;
- ``--tuning``, set by workbench.tune.

A key a program renamed (:data:`RENAMED`) is refused with one line naming the new key.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lightning.pytorch.cli import LightningCLI, SaveConfigCallback

from workbench.errors import ConfigError
from workbench.runs import RunDir

THREADS_ENV = "XLING_NUM_THREADS"  # set by workbench.sweep for each worker
# old key -> the key of the one vocabulary (refused, never translated)
RENAMED = {
    "data.text": "data.script",
    "data.target": "data.script",
    "system": "model.system",
    "model.prompts.script": "data.script",
}


def default_run_dir(config_paths: list | None, fallback: str) -> str:
    """``runs/<stem of the first config>[-<stem of each overlay>]``."""
    stems = [Path(str(p)).stem for p in config_paths or []]
    return str(Path("runs") / ("-".join(stems) if stems else fallback))


def use_threads(threads: int) -> None:
    """torch's CPU threads for this process, held under Lightning's DDP too: on CPU it resets them to
    the cores per process unless ``OMP_NUM_THREADS`` is set (``_set_num_threads_if_needed``)."""
    import torch

    torch.set_num_threads(threads)
    os.environ["OMP_NUM_THREADS"] = str(threads)


def default_threads(threads: int | None = None) -> int:
    """``threads`` if given, else the sweep worker's share (``XLING_NUM_THREADS``), else the usable cores;
    never more than ``OMP_THREAD_LIMIT``: torch asked for more OpenMP threads than that limit lets
    start waits for them forever in its first convolution backward (pytorch/pytorch#91547)."""
    if threads:
        wanted = int(threads)
    elif os.environ.get(THREADS_ENV):
        wanted = int(os.environ[THREADS_ENV])
    else:
        wanted = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    limit = os.environ.get("OMP_THREAD_LIMIT", "")
    return min(wanted, int(limit)) if limit.isdigit() and int(limit) > 0 else wanted


def nested_keys(tree: dict, prefix: str = "") -> set[str]:
    """Every dotted key of a nested config: ``{"data": {"text": 1}}`` -> ``{"data", "data.text"}``."""
    keys = set()
    for key, value in tree.items() if isinstance(tree, dict) else ():
        keys.add(prefix + str(key))
        keys |= nested_keys(value, f"{prefix}{key}.")
    return keys


def check_renamed(args: list[str], renamed: dict[str, str]) -> None:
    """ConfigError naming the new key when ``args`` or a config file they pass (``-c``, ``--config``)
    set a key of ``renamed`` (old dotted key -> new)."""
    import yaml

    for i, arg in enumerate(str(a) for a in args):
        key = arg[2:].split("=", 1)[0]
        if arg.startswith("--") and key in renamed:
            raise ConfigError(f"--{key} is now --{renamed[key]} (same values)")
        path = args[i + 1] if arg in ("-c", "--config") and i + 1 < len(args) else arg.partition("--config=")[2]
        if path and Path(str(path)).is_file():
            old = sorted(nested_keys(yaml.safe_load(Path(str(path)).read_text(encoding="utf-8"))) & set(renamed))
            if old:
                raise ConfigError(f"{path}: {old[0]} is now {renamed[old[0]]} (same values)")


class RunDirConfig(SaveConfigCallback):
    """Writes the resolved config into the run directory (:mod:`workbench.runs`; overwriting on resume; rank 0)."""

    def __init__(self, parser, config, **kwargs):
        super().__init__(parser, config, overwrite=True, save_to_log_dir=False)

    def save_config(self, trainer, pl_module, stage: str) -> None:
        run = RunDir(self.config["run_dir"])
        run.path.mkdir(parents=True, exist_ok=True)
        self.parser.save(self.config, str(run.config_path), overwrite=True)


@dataclass
class Parsed:
    """A parsed command line: the config, what it instantiated, and the parser (to save the config)."""

    parser: object
    config: object  # jsonargparse Namespace: the resolved config
    model: object
    datamodule: object
    trainer: dict  # the trainer's arguments, callbacks and loggers instantiated

    @property
    def run_dir(self) -> Path:
        return Path(self.config["run_dir"])


class _ParseOnly(LightningCLI):
    """LightningCLI that stops once model and data are built: its hooks add the shared arguments."""

    def __init__(self, *args, links: Sequence[tuple[str, str]], monitor: str, fallback: str, **kwargs):
        self.links, self.monitor_default, self.fallback = links, monitor, fallback
        super().__init__(*args, **kwargs)

    def add_arguments_to_parser(self, parser) -> None:
        add_shared_arguments(parser, self.monitor_default)
        for source, target in self.links:
            parser.link_arguments(source, target, apply_on="instantiate")

    def parse_arguments(self, parser, args) -> None:
        # LightningCLI warns whenever args and sys.argv are both given: entry() passes sys.argv itself
        check_renamed(list(args), RENAMED)
        self.config = parser.parse_args(list(args))

    def before_instantiate_classes(self) -> None:
        use_threads(default_threads(self.config.get("threads")))
        if not self.config.get("run_dir"):
            self.config["run_dir"] = default_run_dir(self.config.get("config"), self.fallback)

    def instantiate_classes(self) -> None:
        self.config_init = self.parser.instantiate_classes(self.config)
        self.datamodule = self.config_init.get("data")
        self.model = self.config_init.get("model")


def add_shared_arguments(parser, monitor: str) -> None:
    """The arguments every program takes (see the module docstring)."""
    parser.add_argument("--run_dir", type=str | None, default=None, help="run directory (default runs/<configs>)")
    parser.add_argument("--ckpt_path", type=str | None, default=None, help="checkpoint to resume training from")
    parser.add_argument("--fit", type=bool, default=True, help="false: only evaluate the model as loaded")
    parser.add_argument("--test", type=bool, default=True, help="predict with the best checkpoint after fitting")
    parser.add_argument("--monitor", type=str, default=monitor, help="dev metric the best checkpoint is chosen by")
    parser.add_argument(
        "--threads",
        type=int | None,
        default=None,
        help=f"torch CPU threads (default: ${THREADS_ENV}, else this machine's cores); 1 suits a shared CPU",
    )
    parser.add_argument("--tuning", type=dict | None, default=None, help="set by workbench.tune: the tuning budget")


def parse(
    model_class: type,
    data_class: type,
    args: list[str] | None,
    *,
    fallback: str,
    monitor: str = "val/acc",
    links: Sequence[tuple[str, str]] = (("data.num_classes", "model.num_classes"),),
    trainer_defaults: dict | None = None,
) -> Parsed:
    """Parse ``args`` (``-c`` overlays, ``--key value``, ``--print_config``), seed, build model and data.

    ``fallback`` names the run directory when no config is given; ``links`` copy data
    attributes into the model's arguments once the data module exists.
    """
    import sys

    cli = _ParseOnly(
        model_class,
        data_class,
        args=sys.argv[1:] if args is None else list(args),
        run=False,
        save_config_callback=None,
        seed_everything_default=0,
        trainer_defaults=trainer_defaults or {"log_every_n_steps": 10},
        auto_configure_optimizers=False,
        links=links,
        monitor=monitor,
        fallback=fallback,
    )
    return Parsed(cli.parser, cli.config, cli.model, cli.datamodule, dict(cli.config_init.get("trainer") or {}))
