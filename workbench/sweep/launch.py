"""Starting a point's program: a fresh interpreter, or a fork of one that has imported it already.

Every point is ``python -m <program> <args>`` with its output in ``<run_dir>/run.log``. Two ways
to start one, with the same isolation (an own process, its own exit status, killed with the
sweep):

- :func:`run_subprocess`: a new interpreter, as the command line says. Used by the cluster
  engine, whose jobs run elsewhere.
- :class:`ForkLauncher`: a child forked from multiprocessing's *forkserver*, a process that
  imported the programs' libraries (:data:`PRELOAD`) once. Importing them costs ~7.5 s of CPU
  a process on this project's 2-core machine (``python -X importtime``: Lightning alone ~5 s),
  which was ~10 % of the embedded vision sweep's 32 points. The child runs the program with
  :func:`runpy.run_module` as ``__main__``, so it behaves as ``python -m`` does. The programs
  themselves are not preloaded: a module may run its program on import, as ``python -m``
  allows.

The forkserver imports modules and runs nothing else: no torch thread pool, no CUDA context
exists in it when it forks, so a child may set its own threads and ``CUDA_VISIBLE_DEVICES``.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import runpy
import subprocess
import sys
from multiprocessing import forkserver
from pathlib import Path

from workbench.children import die_with_parent

#: Imported once by the forkserver: what every program imports (the programs add ~0.1-0.4 s on
#: top), and transformers' model loading, which every pretrained or stand-in model goes through (~0.9 s
#: of CPU a process). One that is not installed is skipped by the forkserver (the child then imports it).
PRELOAD = (
    "torch",
    "lightning.pytorch",
    "lightning.pytorch.cli",
    "open_clip",
    "transformers.modeling_utils",
    "transformers.models.auto.modeling_auto",
)


def run_subprocess(command: list[str], env: dict[str, str] | None, log_path: Path) -> int:
    """Run ``command`` in a new interpreter, its output appended to ``log_path``; its exit status."""
    with log_path.open("a") as handle:
        result = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT, env=env, preexec_fn=die_with_parent)
    return result.returncode


def _run_program(program: str, args: list[str], env: dict[str, str], cwd: str, log_path: str) -> None:
    """The forked child: become ``python -m program args`` in ``cwd`` with ``env``, output to the log."""
    die_with_parent()
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    # the forkserver started with the sweep's first environment: later PYTHONPATH entries
    # (a test's program folder, a user's plugin) must still be importable
    for entry in reversed([p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]):
        if entry not in sys.path:
            sys.path.insert(0, entry)
    log = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    for stream in (sys.stdout, sys.stderr):  # unbuffered like PYTHONUNBUFFERED: a killed run's log is whole
        stream.reconfigure(write_through=True, line_buffering=True)
    sys.argv = [program, *args]
    try:
        runpy.run_module(program, run_name="__main__", alter_sys=True)
    finally:
        # multiprocessing ends its children with os._exit, which skips atexit: run what the
        # program registered (loggers' flushes) as an interpreter's exit would
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()


class ForkLauncher:
    """Start programs as children of a forkserver that has imported ``preload`` (module names).

    multiprocessing keeps one forkserver per process: the first launcher's ``preload`` is the
    one it imports, later launchers in the same process reuse it (their programs then import
    what it lacks themselves).
    """

    def __init__(self, preload: tuple[str, ...] = PRELOAD):
        self.context = multiprocessing.get_context("forkserver")
        self.context.set_forkserver_preload(["workbench.sweep.forkserver_guard", *preload])
        # started here, by the calling (main) thread: the guard's parent-death signal fires when
        # the thread that started the forkserver ends, and a worker thread ends before the sweep
        forkserver.ensure_running()

    def run(self, program: str, args: list[str], env: dict[str, str] | None, log_path: Path) -> int:
        """Run ``program`` with ``args`` in a forked child; its exit status (like a subprocess's)."""
        child_env = dict(os.environ if env is None else env)
        process = self.context.Process(
            target=_run_program,
            args=(program, list(args), child_env, os.getcwd(), str(log_path)),
            name=f"point:{log_path.parent.name}",
        )
        process.start()
        process.join()
        code = process.exitcode
        return code if code is not None else 1


def fork_available() -> bool:
    """Whether this platform has the forkserver start method (not on Windows)."""
    return "forkserver" in multiprocessing.get_all_start_methods()
