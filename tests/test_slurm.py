"""Sweeps on a real SLURM cluster (``scripts/slurm-local.sh``: slurmctld, slurmd and munge on this
machine): job arrays, setup jobs the points depend on, failures with their logs, resubmission of
only the unfinished points, and the cluster settings taken as submitit's own keys."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from workbench.errors import ConfigError
from workbench.sweep import load_sweep, run_sweep
from workbench.sweep.spec import slurm_keys

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent


@pytest.fixture
def program_on_path(monkeypatch):
    # the jobs inherit the submitting environment (sbatch --export=ALL): they find tests/sweep_program
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(TESTS), str(ROOT), os.environ.get("PYTHONPATH", "")]))


def job_info(job_id: str) -> dict[str, str]:
    """``scontrol show job`` of one job (or array element) as a dict: what the controller recorded."""
    text = subprocess.run(["scontrol", "show", "job", "-o", job_id], check=True, capture_output=True, text=True).stdout
    return dict(field.split("=", 1) for field in text.split() if "=" in field)


def mechanics_sweep(tmp_path: Path, **args) -> Path:
    """A setup step and two systems of the test program; ``ca-test`` reads the setup step's result."""
    base = tmp_path / "base.yaml"
    base.write_text("{}\n")
    setup_result = "${sweep_dir}/setup/prep/DONE"
    spec = {
        "name": "t",
        "out_dir": str(tmp_path / "out"),
        "engine": "submitit",
        "slurm": {"timeout_min": 5, "cpus_per_task": 1},
        "setup": [{"name": "prep", "program": "sweep_program", "configs": [str(base)], "args": {"--sleep": 3}}],
        "systems": {
            "e2e-test": {"program": "sweep_program", "configs": [str(base)], "args": {"--system": "e2e-test"}},
            "ca-test": {
                "program": "sweep_program",
                "configs": [str(base)],
                "args": {"--system": "ca-test", "--needs": setup_result},
            },
        },
        "protocols": {"zero_shot": [["eng"]]},
        "seeds": [0, 1],
        "args": args,
    }
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_points_run_as_job_arrays_after_their_setup_job(slurm_cluster, program_on_path, tmp_path):
    path = mechanics_sweep(tmp_path, **{"--fail_seed": 1})
    status = run_sweep(load_sweep(path))
    entries = json.loads((tmp_path / "out" / "status.json").read_text())
    assert sorted(status.failed()) == [t for t in sorted(entries) if t.endswith("seed1")]
    prep = entries["setup/prep"]
    assert prep["state"] == "done" and prep["job_state"] == "COMPLETED"
    setup_end = job_info(prep["job_id"])["EndTime"]
    points = {tag: e for tag, e in entries.items() if tag != "setup/prep"}
    arrays = {e["job_id"].split("_")[0] for e in points.values()}
    assert len(arrays) == 2 and all("_" in e["job_id"] for e in points.values())  # one array per dependency
    for tag, entry in points.items():
        info = job_info(entry["job_id"])
        assert Path(entry["job_log"]).is_file()  # every job's own log, linked from status.json
        if tag.startswith("ca-test"):  # afterok: started once the setup job had ended
            assert info["StartTime"] >= setup_end, (tag, info["StartTime"], setup_end)
        # the point ran inside its job, not on the submitting host
        assert json.loads((Path(entry["run_dir"]) / "point.json").read_text())["attempt"].startswith(info["JobId"])
    failed = points["ca-test/zero_shot-eng/seed1"]
    assert failed["job_state"] == "FAILED" and "failing on purpose" in failed["log_tail"]

    # resubmitted without the fault: finished points are skipped, only the failed ones run again
    finished = {tag: e["job_id"] for tag, e in entries.items() if e["state"] == "done"}
    path.write_text(path.read_text().replace("--fail_seed: 1", "--fail_seed: -1"))
    assert not run_sweep(load_sweep(path)).failed()
    again = json.loads((tmp_path / "out" / "status.json").read_text())
    assert all(again[tag].get("job_id") in (None, job) for tag, job in finished.items())
    rerun = {tag for tag, e in again.items() if e.get("job_id") and e["job_id"] not in finished.values()}
    assert rerun == set(status.failed())


def test_cluster_settings_are_submitits_own_keys(tmp_path):
    path = mechanics_sweep(tmp_path)
    spec = yaml.safe_load(path.read_text())
    spec["slurm"] = {"partition": "gpu", "timeout_min": 5}
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises(
        ConfigError, match=r"slurm: unknown key\(s\) \['partition'\]; submitit accepts: .*slurm_partition"
    ):
        load_sweep(path)
    assert {"slurm_partition", "gpus_per_node", "cpus_per_task", "timeout_min", "slurm_additional_parameters"} <= (
        slurm_keys()
    )
    spec["slurm"] = {"slurm_partition": "gpu", "gpus_per_node": 1, "slurm_additional_parameters": {"qos": "high"}}
    path.write_text(yaml.safe_dump(spec))
    assert load_sweep(path).slurm["slurm_partition"] == "gpu"
