"""Starting a point's program: forked from a preloaded forkserver it behaves as ``python -m`` does
(arguments, working folder, environment, output, exit status, atexit), like a new interpreter."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from workbench.sweep.launch import ForkLauncher, run_subprocess

TESTS = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def launcher():
    return ForkLauncher()


def probe_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    # the forkserver may have started before this folder was on the path: the child adds it
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")])
    env["LAUNCH_PROBE"] = "seen"
    env["LAUNCH_PROBE_ATEXIT"] = str(tmp_path / "atexit.txt")
    return env


def run_probe(how: str, launcher: ForkLauncher, args: list[str], tmp_path: Path, log: Path) -> int:
    """The probe program started as a sweep point: forked, or in a new interpreter; its exit status."""
    if how == "fork":
        return launcher.run("launch_probe", args, probe_env(tmp_path), log)
    return run_subprocess([sys.executable, "-m", "launch_probe", *args], probe_env(tmp_path), log)


def read_log(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


@pytest.mark.parametrize("how", ["fork", "subprocess"])
def test_a_program_sees_what_python_m_gives_it(how, launcher, tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    log = tmp_path / "run.log"
    args = ["-c", "a.yaml", "--run_dir=x", "--exit", "0"]
    code = run_probe(how, launcher, args, tmp_path, log)
    seen = read_log(log)
    assert code == 0
    assert seen["name"] == "__main__" and seen["argv"] == str(args)
    assert seen["cwd"] == str(work) and seen["probe_env"] == "seen"
    assert (tmp_path / "atexit.txt").read_text() == "ran\n"  # loggers' exit hooks run in a forked child too
    # the point of forking: torch was imported once, before the program started
    assert seen["torch_preloaded"] == str(how == "fork")


@pytest.mark.parametrize("how", ["fork", "subprocess"])
def test_exit_status_and_traceback_reach_the_sweep(how, launcher, tmp_path):
    def run(*args: str) -> tuple[int, str]:
        log = tmp_path / f"{len(list(tmp_path.iterdir()))}.log"
        code = run_probe(how, launcher, list(args), tmp_path, log)
        return code, log.read_text()

    assert run("--exit", "3")[0] == 3
    code, text = run("--raise")
    assert code == 1 and "RuntimeError: probe failed on purpose" in text


def test_a_killed_child_reports_the_signal(launcher, tmp_path):
    env = probe_env(tmp_path)
    log = tmp_path / "run.log"
    (tmp_path / "suicide.py").write_text("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n")
    code = launcher.run("suicide", [], {**env, "PYTHONPATH": str(tmp_path)}, log)
    assert code == -9  # as subprocess reports it: the sweep records the point as failed
