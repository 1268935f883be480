"""The demo's background training: progress read from the programs' own files, failures shown with
their error line and log, resumption from ``last.ckpt``, and training children that die with the
demo (``python -m apps.demo`` killed with SIGKILL or stopped with SIGTERM, in a real process)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tests.helpers.demo import answers, free_port, start_demo, stop, tiny_extra, train_args, wait_for

REPO = Path(__file__).resolve().parents[1]

# what Lightning's CSVLogger wrote for a cascade.fit_asr run (val/cer, lower is better), 16 steps an epoch
ASR_CSV = """epoch,step,train/loss,val/cer,val/loss
0,9,6.87,,
0,15,,1.169,7.35
1,19,7.30,,
1,29,4.28,,
1,31,,0.835,4.20
2,39,3.46,,
2,47,,0.966,3.24
3,49,3.07,,
"""


def write_run(run_dir: Path, config: str, csvs: dict[str, str]) -> Path:
    run_dir.mkdir(parents=True)
    (run_dir / "config.yaml").write_text(config)
    for relative, text in csvs.items():
        (run_dir / relative).parent.mkdir(parents=True, exist_ok=True)
        (run_dir / relative).write_text(text)
    return run_dir


def test_progress_from_lightning_csv_and_config(tmp_path):
    from apps.progress import read_progress

    run = write_run(
        tmp_path / "asr", "trainer:\n  max_epochs: 6\n  max_time: '00:00:40:00'\n", {"csv/metrics.csv": ASR_CSV}
    )
    progress = read_progress(run)
    assert progress.started and progress.max_epochs == 6 and progress.max_seconds == 2400
    assert (progress.epoch, progress.step, progress.steps_per_epoch, progress.total_steps) == (4, 50, 16, 96)
    assert progress.monitor == "val/cer" and progress.dev == pytest.approx([1.169, 0.835, 0.966])
    assert progress.best_dev == pytest.approx(0.835)  # lower is better for an error rate
    assert progress.describe() == "epoch 4/6 · step 50/96 · dev val/cer 0.966 (best 0.835)"
    assert read_progress(tmp_path / "nothing").describe() == ""


def test_progress_of_a_resumed_run_reads_every_log_version(tmp_path):
    """vision.fit logs a resumed fit into a new ``logs/version_N``: the progress spans both."""
    from apps.progress import read_progress

    first = "epoch,step,val/acc,val/loss\n0,2,0.30,2.0\n1,5,0.50,1.5\n"
    second = "epoch,step,val/acc,val/loss\n2,8,0.40,1.4\n"
    run = write_run(
        tmp_path / "vision",
        "monitor: val/acc\ntrainer:\n  max_epochs: 12\n",
        {"logs/version_0/metrics.csv": first, "logs/version_1/metrics.csv": second},
    )
    os.utime(run / "logs/version_1/metrics.csv", (2e9, 2e9))  # written after version_0
    progress = read_progress(run)
    assert (progress.epoch, progress.step, progress.steps_per_epoch, progress.epochs_done) == (3, 9, 3, 3)
    assert progress.dev == pytest.approx([0.30, 0.50, 0.40]) and progress.best_dev == pytest.approx(0.50)


def test_corpus_build_is_shown_until_its_dataset_json_is_written(tmp_path):
    from apps.progress import building_corpus

    folder = tmp_path / "embedded-0123456789"
    (folder / "audio" / "eng").mkdir(parents=True)
    for k in range(3):
        (folder / "audio" / "eng" / f"eng-train-{k:04d}.flac").write_bytes(b"")
    assert building_corpus([tmp_path / "elsewhere", tmp_path]) == "building the embedded corpus: 3 clips so far"
    (folder / "dataset.json").write_text("{}")  # written last: the build is finished
    assert building_corpus([tmp_path]) == ""


def test_time_left_from_the_step_rate_capped_by_max_time(tmp_path):
    from apps.progress import Progress
    from apps.training import Job, JobStatus, estimate_seconds_left, time_left

    status = JobStatus(Job("e2e", "speech.fit", [], tmp_path))
    status.progress = Progress(started=True, step=40, epoch=3, max_epochs=10, steps_per_epoch=20, max_seconds=600)
    assert estimate_seconds_left(status, 100.0) == (None, None)  # nothing seen yet
    status.fit_started, status.samples = 0.0, [(10.0, 20), (30.0, 40)]  # 1 step/s, 160 steps to go
    assert estimate_seconds_left(status, 30.0) == (160.0, 570.0)
    assert time_left(160.0, 570.0) == "~3 min" and time_left(None, 570.0) == "at most 10 min"
    assert estimate_seconds_left(status, 500.0) == (100.0, 100.0)  # max_time ends training first


def test_failed_training_shows_its_error_line_and_log_and_resumes_from_last(tmp_path, monkeypatch):
    """A training that fails: its error line and log path are in the page; the jobs that need it are
    skipped; an earlier start's last.ckpt is passed back as --ckpt_path."""
    from apps.service import Service
    from apps.training import Job

    monkeypatch.chdir(tmp_path)  # no runs/ or sweeps/ of the developer's to find
    base = tmp_path / "runs" / "demo"
    (base / "asr" / "checkpoints").mkdir(parents=True)
    (base / "asr" / "checkpoints" / "last.ckpt").write_bytes(b"an earlier start's checkpoint")
    service = Service(runs=[], base=base, poll=0.1, say=lambda line: None)
    service.jobs = [
        Job("asr", "apps.no_such_program", [], base / "asr"),
        Job("cascade", "cascade.fit", [], base / "cascade", kind="cascade", needs=["asr"]),
    ]
    service.start()
    wait_for(lambda: service.supervisor and service.supervisor.done(), what="the supervisor to finish")
    asr, cascade = service.jobs_status()
    assert asr["state"] == "failed" and "No module named apps.no_such_program" in asr["error"]
    assert cascade["state"] == "skipped" and "asr" in cascade["error"]
    line = service.path_status("cascade")
    assert "training failed" in line and "asr" in line
    panel = service.status_markdown()
    assert "No module named apps.no_such_program" in panel and str(base / "asr.log") in panel
    command = (base / "asr.log").read_text().splitlines()[0]
    assert f"--ckpt_path {base / 'asr' / 'checkpoints' / 'last.ckpt'}" in command
    service.stop()


def test_two_trainings_side_by_side_in_order_each_with_its_share_of_the_cores(tmp_path):
    """Jobs start in order, two at once (the quick E2E model beside the quick recognizer), a job only once the
    jobs it needs are ready; each child's torch threads are its share of the cores (real processes)."""
    import json

    from apps.supervisor import Supervisor
    from apps.training import Job
    from workbench.cli import THREADS_ENV, default_threads

    def job(name, seconds, needs=()):
        return Job(
            name, "tests.helpers.stand_in_training", [], tmp_path / name, [f"--seconds={seconds}"], needs=[*needs]
        )

    jobs = [job("e2e-quick", 1.0), job("asr-quick", 2.0), job("cascade-quick", 0.2, ["asr-quick"]), job("vision", 0.2)]
    ready = []
    supervisor = Supervisor(jobs, ready.append, say=lambda line: None, poll=0.05, lanes=2).start()
    wait_for(supervisor.done, what="the supervisor to finish")
    assert [status["state"] for status in supervisor.snapshot()] == ["ready"] * 4
    ran = {job.name: json.loads((job.run_dir / "ran.json").read_text()) for job in jobs}
    e2e, asr, cascade, vision = (ran[job.name] for job in jobs)
    assert asr["started"] < e2e["ended"]  # side by side
    assert cascade["started"] >= asr["ended"]  # once what it needs is ready, though a lane was free before
    assert vision["started"] >= cascade["started"]  # in order: never before the job ahead of it
    assert {r["env"][THREADS_ENV] for r in ran.values()} == {str(max(1, default_threads() // 2))}
    assert {job.name for job in ready} == set(ran)


# -- a real demo process ------------------------------------------------------------------------------


def progress(url: str) -> dict:
    """The demo's ``/progress`` endpoint, through gradio_client."""
    from gradio_client import Client

    return Client(url, verbose=False).predict(api_name="/progress")


def process_start(pid: int) -> str | None:
    """The start time of a live (not zombie) process, from /proc; None when there is none.

    A pid can be reused once its process is gone: comparing the start time tells them apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[0] == "Z" else fields[19]


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_training_child_dies_with_the_demo(tmp_path, tiny_root, tiny_corpus, sig):
    extra = tiny_extra(tiny_root, tmp_path / "digits")
    extra["e2e"] += ["--trainer.max_epochs=100000", "--trainer.max_time=null"]  # trains until stopped
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    demo = start_demo(tmp_path, port, ["--full-only", *train_args(extra)])  # quick recipes: test_demo_quick_first
    try:
        wait_for(lambda: answers(url) or demo.poll() is not None, timeout=180, what="the page")
        assert demo.poll() is None, (tmp_path / "demo.log").read_text()
        running = lambda: [job for job in progress(url)["jobs"] if job["state"] == "running"]  # noqa: E731
        job = wait_for(running, timeout=180, what="the training to start")[0]
        assert job["name"] == "e2e" and job["pid"], job
        child, started = job["pid"], process_start(job["pid"])
        assert started is not None, "the training child is not running"
        os.kill(demo.pid, sig)  # our own child, not yet waited for: its pid cannot have been reused
        demo.wait(timeout=120)
        wait_for(lambda: process_start(child) != started, timeout=60, what="the training child to die")
    finally:
        stop(demo)
    log = (tmp_path / "demo.log").read_text()
    if sig == signal.SIGTERM:  # the orderly way: the demo stops its child's process group itself
        assert f"Stopping training (pid {child})" in log
