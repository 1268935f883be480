"""The sweep's schedule: recognizers (setup steps) first, free points beside them, dependants after."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import yaml

from workbench.sweep import load_sweep, run_sweep
from workbench.sweep.schedule import dependencies, next_ready, priority_order, thread_share

ROOT = Path(__file__).resolve().parents[1]


def test_the_embedded_sweep_runs_recognizers_first_and_cascades_after_their_recognizer(tmp_path):
    sweep = load_sweep(ROOT / "configs/sweeps/embedded.yaml", out_dir=tmp_path)
    setup = {step.system: step for step in sweep.setup}
    steps = ["asr-romanized", "asr-native", "translator", "masked-lm", "language-adapters"]
    assert list(setup) == steps
    needs = {
        "language-adapters": ["masked-lm"],  # a setup step too: it starts once the masked LM has ended
        "ca-native": ["asr-native"],
        "ca-romanized": ["asr-romanized"],
        "ca-translated-standin": ["asr-native", "translator"],
        "ca-pixel-standin": ["asr-native"],
        "ca-madx-standin": ["asr-native", "masked-lm", "language-adapters"],
        "ca-xlmr-standin": ["asr-native", "masked-lm"],
    }
    for point in sweep.setup + sweep.points:
        assert [step.system for step in dependencies(point, sweep.setup)] == needs.get(point.system, []), point.tag
    order = priority_order(sweep.setup, sweep.points)
    systems = [point.system for point in order]
    assert systems[:5] == steps
    assert set(systems[5:11]) == {"e2e-conv"} and set(systems[11:]) == set(needs) - {"language-adapters"}
    assert sorted(order, key=id) == sorted([*sweep.setup, *sweep.points], key=id)  # nothing lost or doubled
    # the masked LM training: the language adapters wait for it, an E2E point starts
    assert next_ready(order[4:], set(order), sweep.setup).system == "e2e-conv"

    pending = order[5:]
    # the setup steps training: an E2E point is next, and no cascade point is ready
    assert next_ready(pending, {*sweep.setup, *pending}, sweep.setup).system == "e2e-conv"
    cascades = [p for p in pending if p.system.startswith("ca-")]
    assert next_ready(cascades, {*sweep.setup, *cascades}, sweep.setup) is None
    # the native recognizer has ended: its cascade points may start, the romanized ones still wait
    ready = next_ready(cascades, {setup["asr-romanized"], setup["translator"], *cascades}, sweep.setup)
    assert ready is not None and ready.system == "ca-native"


def test_thread_share_divides_the_usable_cores():
    cores = len(os.sched_getaffinity(0))
    assert thread_share(1) == cores
    assert thread_share(cores) == 1 and thread_share(4 * cores) == 1


PROGRAM = """
import argparse, json, sys, time
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("-c", action="append", default=[])
parser.add_argument("--role")
parser.add_argument("--marker")
parser.add_argument("--needs")
parser.add_argument("--run_dir")
args, _ = parser.parse_known_args()
run_dir = Path(args.run_dir)
if args.role == "setup":  # a recognizer: ends only once a free point has run beside it
    deadline = time.monotonic() + 120
    while not Path(args.marker).exists():
        if time.monotonic() > deadline:
            sys.exit("no point ran beside the setup step")
        time.sleep(0.05)
    sys.exit(0)
if args.role == "free":
    Path(args.marker).write_text("ran")
if args.role == "dependent" and not (Path(args.needs) / "DONE").is_file():
    sys.exit("started before its setup step ended")
# a finished point is a metrics.json holding this point's run record (workbench.sweep.runner)
from workbench.record import ProtocolRecord, RunRecord
from workbench.runs import RunDir
RunDir(run_dir).write(RunRecord("e2e", "speech", "x", ProtocolRecord("all_languages", [], ["eng"]), 0), None)
"""


def test_free_points_run_beside_the_setup_steps_and_dependants_wait(tmp_path, monkeypatch):
    (tmp_path / "sched_program.py").write_text(textwrap.dedent(PROGRAM))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))
    base, out, marker = tmp_path / "base.yaml", tmp_path / "out", tmp_path / "free-ran"
    base.write_text("{}\n")
    spec = {
        "name": "s",
        "out_dir": str(out),
        "workers": 2,
        "setup": [{"name": "asr", "program": "sched_program", "configs": [str(base)], "args": {
            "--role": "setup", "--marker": str(marker)}}],
        "systems": {
            "ca": {"program": "sched_program", "configs": [str(base)], "args": {
                "--role": "dependent", "--needs": "${sweep_dir}/setup/asr"}},
            "e2e": {"program": "sched_program", "configs": [str(base)], "args": {
                "--role": "free", "--marker": str(marker)}},
        },
        "protocols": {"all_languages": [None]},
        "seeds": [0],
    }  # fmt: skip
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(spec))
    status = run_sweep(load_sweep(path))
    assert not status.failed(), {tag: e.get("log_tail") for tag, e in status.entries.items()}
    assert {e["state"] for e in status.entries.values()} == {"done"} and len(status.entries) == 3


def test_only_runs_just_the_setup_steps_its_points_read(tmp_path, monkeypatch):
    (tmp_path / "sched_program.py").write_text(textwrap.dedent(PROGRAM))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))
    base, out = tmp_path / "base.yaml", tmp_path / "out"
    base.write_text("{}\n")
    # the setup step fails if it runs (it "needs" a folder that never exists)
    failing = {"--role": "dependent", "--needs": str(tmp_path / "never")}
    spec = {
        "name": "s",
        "out_dir": str(out),
        "setup": [{"name": "asr", "program": "sched_program", "configs": [str(base)], "args": failing}],
        "systems": {
            "ca": {"program": "sched_program", "configs": [str(base)], "args": {
                "--role": "dependent", "--needs": "${sweep_dir}/setup/asr"}},
            "e2e": {"program": "sched_program", "configs": [str(base)], "args": {"--role": "plain"}},
        },
        "protocols": {"all_languages": [None]},
        "seeds": [0],
    }  # fmt: skip
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(spec))
    status = run_sweep(load_sweep(path), only="e2e/")
    assert set(status.entries) == {"e2e/all_languages/seed0"} and not status.failed()
    status = run_sweep(load_sweep(path), only="ca/")  # a cascade point: its recognizer runs first (and fails)
    assert set(status.failed()) == {"setup/asr", "ca/all_languages/seed0"}
