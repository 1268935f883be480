"""The sweep engine: grid expansion, parallel workers, skip finished, failures isolated, kill and rerun."""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml

from tests.helpers.kill_mid_point import kill_mid_point, running_points
from tests.helpers.sweep_program import chained_setup, program_sweep, repo_on_path
from workbench.errors import ConfigError
from workbench.sweep import load_sweep, run_sweep
from workbench.sweep.__main__ import main as sweep_main
from workbench.sweep.runner import is_finished
from workbench.sweep.schedule import next_ready
from workbench.sweep.spec import steps_read


@pytest.fixture(autouse=True)
def program_on_path(monkeypatch):
    repo_on_path(monkeypatch)


def sweep_file(tmp_path: Path, engine: str = "local", **args) -> Path:
    spec = program_sweep(tmp_path, {"e2e-test": {}, "ca-test": {}}, engine=engine, args=args)
    if engine == "submitit":  # submitit's local cluster starts every job at once: keep the grid small
        spec["slurm"] = {"cluster": "local", "timeout_min": 5}
        spec["systems"].pop("ca-test")
        spec["protocols"] = {"zero_shot": [["eng"]]}
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_grid_expansion_and_commands(tmp_path):
    sweep = load_sweep(sweep_file(tmp_path))
    assert len(sweep.points) == 2 * 3 * 2
    tags = {p.tag for p in sweep.points}
    assert "e2e-test/zero_shot-eng/seed1" in tags and "ca-test/all_languages/seed0" in tags
    point = next(p for p in sweep.points if p.tag == "e2e-test/zero_shot-eng/seed1")
    command = point.command()
    assert "--data.protocol.name=zero_shot" in command and '--data.protocol.sources=["eng"]' in command
    assert (
        "--seed_everything=1" in command
        and f"--run_dir={tmp_path / 'out/runs/e2e-test/zero_shot-eng/seed1'}" in command
    )


def starts(path: Path) -> Counter:
    """Run directory -> how many times a point's program started in it."""
    return Counter(Path(line) for line in path.read_text().splitlines())


def test_runs_skips_finished_and_reports_failures(tmp_path, capsys):
    started = tmp_path / "starts.txt"
    path = sweep_file(tmp_path, **{"--fail_seed": 1, "--starts_file": str(started)})
    assert sweep_main(["-c", str(path), "--no-report"]) == 1  # seed 1 fails everywhere
    points = load_sweep(path).points
    assert starts(started) == {p.run_dir: 1 for p in points}
    status = json.loads((tmp_path / "out" / "status.json").read_text())
    assert sum(e["state"] == "done" for e in status.values()) == 6
    failed = [e for e in status.values() if e["state"] == "failed"]
    assert (
        len(failed) == 6
        and "failing on purpose" in failed[0]["log_tail"]
        and "--seed_everything=1" in failed[0]["command"]
    )
    done = tmp_path / "out/runs/e2e-test/in_language-eng/seed0/metrics.json"
    stamp = done.stat().st_mtime_ns
    # rerun without the fault: finished points are skipped, failed ones are redone
    path.write_text(path.read_text().replace("--fail_seed: 1", "--fail_seed: -1"))
    assert sweep_main(["-c", str(path)]) == 0
    assert done.stat().st_mtime_ns == stamp
    # the runs themselves, not only the status file: every finished point was not started again,
    # every failed one was started once more
    assert starts(started) == {p.run_dir: 1 + (p.seed == 1) for p in points}
    assert (tmp_path / "out/report/report.md").is_file()
    assert all(e["state"] == "done" for e in json.loads((tmp_path / "out" / "status.json").read_text()).values())


def test_killed_sweep_keeps_finished_points(tmp_path):
    path = sweep_file(tmp_path, **{"--sleep": 1.5})
    spec = yaml.safe_load(path.read_text())
    spec["systems"].pop("ca-test")  # 6 points are enough to kill a sweep half-way
    path.write_text(yaml.safe_dump(spec))
    runs = tmp_path / "out" / "runs"
    command = [sys.executable, "-m", "workbench.sweep", "-c", str(path), "--workers", "1", "--no-report"]
    finished = kill_mid_point(command, runs)
    assert 2 <= len(finished) < 6
    # wait until no point process of this sweep is left: an orphan would run on and finish its
    # point (a new metrics.json); a child that dies with the sweep leaves the set as it was
    deadline = time.monotonic() + 120
    while running_points(runs) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not running_points(runs)
    assert {p: p.stat().st_mtime_ns for p in runs.rglob("metrics.json")} == finished
    status = run_sweep(load_sweep(path), workers=2)
    assert not status.failed()
    after = {p: p.stat().st_mtime_ns for p in runs.rglob("metrics.json")}
    assert len(after) == 6 and all(after[p] == stamp for p, stamp in finished.items())


def test_setup_from_shares_another_sweeps_setup_steps_and_runs_them_once(tmp_path):
    """``setup_from`` (the matrix reads the main comparison's recognizers): whichever sweep runs first
    trains the shared step in the other's folder; the second reuses it; one started with other
    arguments is trained again, not silently reused."""
    started = tmp_path / "starts.txt"
    counted = {"--starts_file": str(started)}  # every start of a run is written down
    main = program_sweep(tmp_path, {"ca-test": {}}, out_dir=str(tmp_path / "sweeps" / "main"), args=counted)
    system = main["systems"]["ca-test"]
    main["setup"] = [{"name": "asr", "program": system["program"], "configs": system["configs"], "args": counted}]
    main["systems"]["ca-test"]["args"]["--needs"] = "${sweep_dir}/setup/asr/DONE"
    main_path = tmp_path / "main.yaml"
    main_path.write_text(yaml.safe_dump(main))
    matrix = program_sweep(tmp_path, {"ca-test": {}}, out_dir=str(tmp_path / "sweeps" / "matrix"), args=counted)
    matrix["setup_from"] = str(main_path)
    matrix["protocols"] = {"zero_shot": [["eng"]]}
    matrix["systems"]["ca-test"]["args"]["--needs"] = "${setup_dir}/asr/DONE"
    matrix_path = tmp_path / "matrix.yaml"
    matrix_path.write_text(yaml.safe_dump(matrix))

    sweep = load_sweep(matrix_path)
    shared = tmp_path / "sweeps" / "main" / "setup" / "asr"
    assert [step.run_dir for step in sweep.setup] == [shared] == [s.run_dir for s in load_sweep(main_path).setup]
    assert all(dict(p.args)["--needs"] == str(shared / "DONE") for p in sweep.points)
    # the main sweep's setup step alone (--only setup/), then the matrix: it trains no recognizer
    assert sweep_main(["-c", str(main_path), "--only", "setup/", "--no-report"]) == 0
    assert starts(started) == {shared: 1}
    assert sweep_main(["-c", str(matrix_path), "--no-report"]) == 0
    assert starts(started)[shared] == 1 and sum(starts(started).values()) == 1 + len(sweep.points)
    # the same step started with other arguments (another budget) is not this one: trained again
    other = load_sweep(matrix_path, extra_args={"--sleep": 0})
    assert not is_finished(other.setup[0])
    assert sweep_main(["-c", str(matrix_path), "--no-report", "--set=--sleep=0", "--only", "setup/"]) == 0
    assert starts(started)[shared] == 2 and is_finished(other.setup[0])
    main["setup_from"] = str(matrix_path)
    main_path.write_text(yaml.safe_dump(main))
    with pytest.raises(ConfigError, match="not both"):
        load_sweep(main_path)


def test_a_setup_step_that_reads_another_waits_for_it(tmp_path):
    """The local engine starts the second step once the first has ended, even with a worker free; --only takes the
    steps its points read through another step too; a step reads only steps listed before it."""
    spec = chained_setup(tmp_path)
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(spec))
    sweep = load_sweep(path)
    first, second = sweep.setup
    (point,) = sweep.points
    assert steps_read([point], sweep.setup) == [first, second]
    assert next_ready([second, point], {first, second, point}, sweep.setup) is None  # the first pending or running
    assert next_ready([second, point], {second, point}, sweep.setup) is second
    spec["setup"].reverse()
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises(ConfigError, match=r"setup step 'adapters' reads \['masked-lm'\], listed after it"):
        load_sweep(path)


def test_submitit_local_engine(tmp_path):
    path = sweep_file(tmp_path, engine="submitit")
    status = run_sweep(load_sweep(path))
    assert not status.failed() and len(list((tmp_path / "out/runs").rglob("metrics.json"))) == 2


def test_bad_sweep_files_are_named(tmp_path):
    path = sweep_file(tmp_path)
    spec = yaml.safe_load(path.read_text())
    spec["protocol"] = spec.pop("protocols")
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['protocol'\]"):
        load_sweep(path)
    spec["protocols"] = {"few_shot": [["eng"]]}
    del spec["protocol"]
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises(ConfigError, match="unknown protocol 'few_shot'"):
        load_sweep(path)
    spec["protocols"] = {"zero_shot": [["eng"]]}
    spec["systems"]["e2e-test"]["configs"] = ["configs/nope.yaml"]
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises(ConfigError, match="config file not found: configs/nope.yaml"):
        load_sweep(path)
