"""What every training program (speech.fit, cascade.fit, cascade.fit_asr, vision.fit) shares.

- ``--run_dir`` (default ``runs/<config stems>``), where the run directory is written;
- ``--ckpt_path``, a checkpoint to resume training from;
- ``--threads``, torch's CPU threads; unset, the sweep's per-worker share
  (``XLING_NUM_THREADS``), else the cores this process may use. No shipped config sets
  it: on a CPU shared with other jobs, pass ``--threads 1``;
- :class:`RunDirConfig`, which saves the resolved config in the run directory (:mod:`workbench.runs`);
- ``renamed``: config keys a program renamed, refused with one line naming the new key.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from lightning.pytorch.cli import LightningCLI, SaveConfigCallback

from workbench.errors import ConfigError
from workbench.runs import RunDir

THREADS_ENV = "XLING_NUM_THREADS"  # set by workbench.sweep for each worker


def default_run_dir(config_paths: list | None, fallback: str) -> str:
    """``runs/<stem of the first config>[-<stem of each overlay>]``."""
    stems = [Path(str(p)).stem for p in config_paths or []]
    return str(Path("runs") / ("-".join(stems) if stems else fallback))


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
    """Writes the resolved config into the run directory (overwriting on resume)."""

    def __init__(self, parser, config, **kwargs):
        super().__init__(parser, config, overwrite=True, save_to_log_dir=False)

    def save_config(self, trainer, pl_module, stage: str) -> None:
        run = RunDir(self.config["run_dir"])
        run.path.mkdir(parents=True, exist_ok=True)
        self.parser.save(self.config, str(run.config_path), overwrite=True)


class RunDirCLI(LightningCLI):
    """LightningCLI with ``--run_dir``, ``--ckpt_path`` and ``--threads``.

    Subclasses set ``fallback_name`` (the run directory's name when no config is given)
    and add their own arguments after calling ``super().add_arguments_to_parser``.
    """

    fallback_name = "run"
    renamed: dict[str, str] = {}  # old config key -> its new name (refused with a clear error)

    def parse_arguments(self, parser, args) -> None:
        if isinstance(args, list | None):
            check_renamed(sys.argv[1:] if args is None else list(args), self.renamed)
        super().parse_arguments(parser, args)

    def add_arguments_to_parser(self, parser) -> None:
        parser.add_argument("--run_dir", type=str | None, default=None, help="run directory (default runs/<configs>)")
        parser.add_argument("--ckpt_path", type=str | None, default=None, help="checkpoint to resume training from")
        parser.add_argument(
            "--threads",
            type=int | None,
            default=None,
            help=f"torch CPU threads (default: ${THREADS_ENV}, else this machine's cores); 1 suits a shared CPU",
        )

    def before_instantiate_classes(self) -> None:
        import torch

        torch.set_num_threads(default_threads(self.config.get("threads")))
        if not self.config.get("run_dir"):
            self.config["run_dir"] = default_run_dir(self.config.get("config"), self.fallback_name)

    @property
    def run_dir(self) -> Path:
        return Path(self.config["run_dir"])

    def configured_callbacks(self) -> list:
        """The callbacks the config lists (one or a list), to which a program adds its own."""
        callbacks = self._get(self.config_init, "trainer", default={}).get("callbacks") or []
        return list(callbacks) if isinstance(callbacks, list) else [callbacks]
