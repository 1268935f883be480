"""What a sweep gives each worker: its share of the CPU threads and, with XLING_GPUS, its own GPU."""

from __future__ import annotations

import os

from workbench.sweep.runner import worker_env


def test_each_worker_gets_its_share_of_threads_and_one_gpu(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)))  # the cores this process may use
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setenv("XLING_GPUS", "0,1,2,3")
    envs = [worker_env(slot, 4) for slot in range(4)]
    assert [env["CUDA_VISIBLE_DEVICES"] for env in envs] == ["0", "1", "2", "3"]
    assert all(env["XLING_NUM_THREADS"] == env["OMP_NUM_THREADS"] == "2" for env in envs)
    monkeypatch.delenv("XLING_GPUS")
    assert "CUDA_VISIBLE_DEVICES" not in worker_env(0, 4)  # no GPUs named: none chosen for the point
    assert worker_env(0, 16)["XLING_NUM_THREADS"] == "1"  # more workers than cores: never 0 threads


def test_torch_threads_never_exceed_an_openmp_thread_limit(monkeypatch):
    """A 2-thread torch under OMP_THREAD_LIMIT=1 hangs in its first backward (pytorch/pytorch#91547):
    the programs ask for no more threads than the limit lets OpenMP start."""
    from workbench.cli import default_threads

    monkeypatch.setenv("XLING_NUM_THREADS", "2")
    monkeypatch.delenv("OMP_THREAD_LIMIT", raising=False)
    assert default_threads() == 2 and default_threads(4) == 4
    monkeypatch.setenv("OMP_THREAD_LIMIT", "1")
    assert default_threads() == 1 and default_threads(4) == 1
    monkeypatch.setenv("OMP_THREAD_LIMIT", "8")
    assert default_threads(4) == 4


def test_threads_hold_under_lightnings_ddp_on_cpu(monkeypatch):
    """``--threads 1`` under a DDP strategy on CPU (the SpeechTaxi configs name one): Lightning resets
    torch's threads to the cores per process unless OMP_NUM_THREADS is set; the programs set it."""
    import torch
    from lightning.fabric.utilities.distributed import _set_num_threads_if_needed

    from workbench.cli import use_threads

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(4)), raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    before = torch.get_num_threads()
    try:
        use_threads(1)
        _set_num_threads_if_needed(num_processes=1)  # what DDP's setup_environment does on CPU
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
