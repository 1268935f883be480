"""Sweeps on a real SLURM cluster (``scripts/slurm-local.sh``: slurmctld, slurmd and munge on this
machine): job arrays, setup jobs the points depend on, failures with their logs, resubmission of
only the unfinished points, and the cluster settings taken as submitit's own keys."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.helpers.sweep_program import PROGRAM, chained_setup, repo_on_path
from workbench.errors import ConfigError
from workbench.runs import RunDir
from workbench.sweep import load_sweep, run_sweep
from workbench.sweep.runner import is_finished
from workbench.sweep.spec import slurm_keys

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def program_on_path(monkeypatch):
    repo_on_path(monkeypatch)  # the jobs inherit the submitting environment (sbatch --export=ALL)


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
        "setup": [{"name": "prep", "program": PROGRAM, "configs": [str(base)], "args": {"--sleep": 3}}],
        "systems": {
            "e2e-test": {"program": PROGRAM, "configs": [str(base)], "args": {"--system": "e2e-test"}},
            "ca-test": {
                "program": PROGRAM,
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


@pytest.mark.slurm
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


@pytest.mark.slurm
@pytest.mark.long  # 12 s of cluster jobs in a row; the local engine's same wait: tests/test_sweep.py, in the suite
def test_a_setup_job_that_reads_another_starts_after_it_has_ended(slurm_cluster, program_on_path, tmp_path):
    """The language adapters' job reads the masked LM's folder: submitted after it (afterok), not beside it."""
    spec = {**chained_setup(tmp_path), "engine": "submitit", "slurm": {"timeout_min": 5, "cpus_per_task": 1}}
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(spec))
    status = run_sweep(load_sweep(path))
    entries = json.loads((tmp_path / "out" / "status.json").read_text())
    assert not status.failed(), {tag: e.get("log_tail") for tag, e in entries.items()}
    first, second = (job_info(entries[f"setup/{name}"]["job_id"]) for name in ("masked-lm", "adapters"))
    assert second["StartTime"] >= first["EndTime"], (second["StartTime"], first["EndTime"])


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


def speech_sweep(tmp_path: Path, root: Path, name: str, engine: str, **slurm) -> Path:
    """One tiny E2E point (speech.fit on the tiny corpus, 6 short epochs), on this machine or the cluster."""
    spec = {
        "name": name,
        "out_dir": str(tmp_path / name),
        "engine": engine,
        "slurm": {"timeout_min": 10, **slurm},
        "systems": {"e2e-conv": {"program": "speech.fit", "configs": ["configs/embedded/speech.yaml"]}},
        "protocols": {"in_language": [["eng"]]},
        "seeds": [0],
        "args": {
            "--data.source.init_args.root": str(root),
            "--data.source.init_args.tiny": True,
            "--model.encoder.init_args.dim": 32,
            "--model.encoder.init_args.num_blocks": 2,
            "--data.batch_size": 6,
            "--trainer.max_steps": -1,
            "--trainer.min_steps": 0,
            "--trainer.max_epochs": 6,
            "--trainer.enable_progress_bar": False,
            "--threads": 1,
        },
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def results(run: Path) -> tuple[dict, list[str]]:
    metrics = json.loads((run / "metrics.json").read_text())
    return metrics["splits"], (run / "predictions.jsonl").read_text().splitlines()


def start_sweep(path: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "workbench.sweep", "-c", str(path), "--no-report"]
    return subprocess.Popen(command, cwd=ROOT, env=os.environ.copy())


def interrupt_mid_training(path: Path, how: list[str]) -> tuple[subprocess.Popen, Path, str]:
    """Start the sweep, and once its point's job has written ``last.ckpt`` (an epoch done, 5 to go)
    interrupt that job with ``how + [job id]``; returns the sweep's process, the run and the job id."""
    process = start_sweep(path)
    run = load_sweep(path).points[0].run_dir
    status = path.parent / load_sweep(path).name / "status.json"
    deadline = time.monotonic() + 300
    while not (run / "checkpoints" / "last.ckpt").is_file() and process.poll() is None:
        assert time.monotonic() < deadline, "the point never wrote last.ckpt"
        time.sleep(0.2)
    job_id = json.loads(status.read_text())["e2e-conv/in_language-eng/seed0"]["job_id"]
    subprocess.run([*how, job_id], check=True)
    assert not (run / "metrics.json").exists(), "the point had finished before it was interrupted"
    if how[-1] == "requeue":  # SLURM holds a requeued job for 2 minutes; an operator may let it start at once
        while job_info(job_id)["JobState"] != "PENDING":
            assert time.monotonic() < deadline
            time.sleep(0.2)
        subprocess.run(["scontrol", "update", f"JobId={job_id}", "StartTime=now"], check=True)
    return process, run, job_id


@pytest.mark.slow
@pytest.mark.slurm
def test_a_requeued_or_cancelled_point_resumes_from_last_ckpt(
    slurm_cluster, tiny_corpus, tiny_root, tmp_path, monkeypatch
):
    monkeypatch.chdir(ROOT)
    assert not run_sweep(load_sweep(speech_sweep(tmp_path, tiny_root, "here", "local"))).failed()
    uninterrupted = results(load_sweep(tmp_path / "here.yaml").points[0].run_dir)

    # requeued mid-training: SLURM kills the job and starts it again; the point resumes from last.ckpt
    process, run, job_id = interrupt_mid_training(
        speech_sweep(tmp_path, tiny_root, "requeued", "submitit"), ["scontrol", "requeue"]
    )
    assert process.wait(timeout=600) == 0
    assert job_info(job_id)["Restarts"] == "1"
    log = (run / "run.log").read_text()
    assert f"--ckpt_path={run}/checkpoints/last.ckpt" in log and "Restoring states from the checkpoint" in log
    assert results(run) == uninterrupted

    # cancelled mid-training: final in SLURM; the sweep reports it, a resubmitted sweep resumes the point
    path = speech_sweep(tmp_path, tiny_root, "cancelled", "submitit")
    process, run, job_id = interrupt_mid_training(path, ["scancel"])
    assert process.wait(timeout=600) == 1
    entry = json.loads((tmp_path / "cancelled" / "status.json").read_text())["e2e-conv/in_language-eng/seed0"]
    assert entry["state"] == "failed" and entry["job_state"] == "CANCELLED"
    assert (run / "run.log").read_text()[-1000:] in entry["log_tail"]  # reported with its log's tail
    assert start_sweep(path).wait(timeout=600) == 0
    log = (run / "run.log").read_text()
    assert f"--ckpt_path={run}/checkpoints/last.ckpt" in log and "Restoring states from the checkpoint" in log
    assert results(run) == uninterrupted


@pytest.mark.slow
@pytest.mark.slurm
def test_a_two_device_point_is_a_two_task_ddp_job(slurm_cluster, tiny_corpus, tiny_root, tmp_path, monkeypatch):
    from speech.data import SpeechDataModule
    from speech.sources import Embedded
    from workbench.protocols import Protocol

    monkeypatch.chdir(ROOT)
    path = speech_sweep(tmp_path, tiny_root, "ddp", "submitit", cpus_per_task=1)
    spec = yaml.safe_load(path.read_text())
    spec["args"].update({"--trainer.devices": 2, "--trainer.strategy": "ddp", "--trainer.max_epochs": 1})
    path.write_text(yaml.safe_dump(spec))
    sweep = load_sweep(path)
    assert sweep.points[0].devices == 2
    status = run_sweep(sweep)
    entry = json.loads((tmp_path / "ddp" / "status.json").read_text())["e2e-conv/in_language-eng/seed0"]
    assert not status.failed(), entry.get("log_tail")
    assert job_info(entry["job_id"])["NumTasks"] == "2"
    data = SpeechDataModule(Embedded(root=str(tiny_root), tiny=True), Protocol("in_language", ["eng"]), 6, 0, 120.0)
    data.setup()
    batches = len(data.train_dataloader())  # one process, one epoch
    metrics = json.loads((sweep.points[0].run_dir / "metrics.json").read_text())
    # two ranks, each on half of the batches: half the optimizer steps of one process
    assert batches >= 2 and metrics["record"]["training"]["steps"] == batches // 2
    assert (sweep.points[0].run_dir / "run.rank1.log").is_file()


@pytest.mark.slow
@pytest.mark.slurm
def test_the_embedded_sweep_on_the_cluster_predicts_as_the_local_engine(
    slurm_cluster, tiny_corpus, tiny_root, tmp_path, monkeypatch
):
    from workbench.sweep.schedule import thread_share

    monkeypatch.chdir(ROOT)
    tiny = {
        "--data.source.init_args.tiny": "true",
        "--data.source.init_args.root": str(tiny_root),
        "--trainer.max_epochs": "1",
        "--trainer.limit_train_batches": "2",
    }
    predictions = {}
    for engine in ("local", "submitit"):
        sweep = load_sweep(ROOT / "configs" / "sweeps" / "embedded.yaml", tmp_path / engine, tiny)
        # E2E and the two cascades (the stand-ins and their translator add time, not engines)
        sweep.points = [p for p in sweep.points if not p.system.endswith("-standin")]
        sweep.setup = [step for step in sweep.setup if step.system.startswith("asr-")]
        # the same threads a point: the local engine's share of 2 workers, as many CPUs a job
        sweep.engine, sweep.slurm = engine, {"timeout_min": 15, "cpus_per_task": thread_share(2)}
        status = run_sweep(sweep, workers=2, only="zero_shot-eng/seed0")
        assert not status.failed(), {tag: status.entries[tag].get("log_tail", "")[-800:] for tag in status.failed()}
        # the recognizers' error rates, the points' predictions
        setup = {p.tag: RunDir(p.run_dir).sections()["asr"] for p in sweep.setup}
        points = {p.tag: (p.run_dir / "predictions.jsonl").read_text() for p in sweep.points if is_finished(p)}
        predictions[engine] = setup, points
    assert len(predictions["local"][1]) == 3 and predictions["submitit"] == predictions["local"]
    entries = json.loads((tmp_path / "submitit" / "status.json").read_text())
    for step in ("asr-native", "asr-romanized"):
        system = f"ca-{step.removeprefix('asr-')}/zero_shot-eng/seed0"
        # the cascade point's job started after its recognizer's job had ended (afterok)
        assert (
            job_info(entries[system]["job_id"])["StartTime"] >= job_info(entries[f"setup/{step}"]["job_id"])["EndTime"]
        )
    assert all(Path(e["job_log"]).is_file() for e in entries.values() if "job_id" in e)
