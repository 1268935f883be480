"""Each benchmark runs in --quick mode on tiny inputs and prints its ratio lines; never asserts timings.

The benchmark runs are subprocesses with warm-ups and profiler passes (tens of CPU seconds
each), so they are marked ``slow`` (CI runs them too).
"""

from __future__ import annotations

import re

import pytest

from tests.helpers.benchmark_runs import ratios, run


@pytest.fixture(scope="module")
def data_root(tiny_corpus, tiny_root):
    """The folder holding the tiny embedded build (built once per session by conftest)."""
    return str(tiny_root)


def test_interleave_alternates_and_reports_the_median():
    from benchmarks.common import interleave

    calls = []
    result = interleave("demo", "fast", "slow", lambda: calls.append("a") or 1.0, lambda: calls.append("b") or 3.0, 3)
    assert calls == ["a", "b", "b", "a", "a", "b"]
    assert result.median_ratio() == 3.0
    lines = result.lines(target=2)
    assert lines[-1].startswith("RATIO demo: 3.00x fast vs slow (target >= 2x: met)")


def test_interleave_many_runs_the_reference_once_a_round_and_rotates():
    from benchmarks.common import interleave_many

    calls = []
    sides = {"x": lambda: calls.append("x") or 1.0, "y": lambda: calls.append("y") or 2.0}
    results = interleave_many(("ref", lambda: calls.append("r") or 4.0), sides, 3)
    assert calls == ["r", "x", "y", "x", "y", "r", "y", "r", "x"]
    assert results["x"].median_ratio() == 4.0 and results["y"].median_ratio() == 2.0
    assert results["y"].lines()[-1].startswith("RATIO y: 2.00x y vs ref")


@pytest.mark.timeout(900)
@pytest.mark.long
def test_e2e_training_quick(data_root, tmp_path):
    out = run("e2e_training", "--quick", "--data-root", data_root, "--work-dir", str(tmp_path))
    found = ratios(out)
    assert "e2e_training_epoch" in found and found["e2e_training_epoch"] > 0
    assert "throughput: ours" in out and "audio s/s" in out
    assert out.count("-- torch.profiler") == 2 and "Self CPU time total" in out  # top ops of both sides


@pytest.mark.timeout(600)
@pytest.mark.long
def test_frozen_cache_quick(data_root, tmp_path):
    out = run("frozen_cache", "--quick", "--data-root", data_root, "--work-dir", str(tmp_path))
    assert "frozen_cache_epoch" in ratios(out)
    # both sides compute the same logits (the cache stores float16) and cached epochs never run the encoder
    diff = float(re.search(r"max \|logit difference\| cached vs recomputed = (\S+)", out).group(1))
    assert diff < 5e-2
    assert "encoder calls in cached epochs after the first: 0 " in out


@pytest.mark.timeout(600)
@pytest.mark.long
def test_feature_cache_quick(data_root, tmp_path):
    out = run("feature_cache", "--quick", "--data-root", data_root, "--work-dir", str(tmp_path))
    assert {"feature_cache_e2e_epoch", "feature_cache_recognizer_epoch"} <= set(ratios(out))
    # epochs after the first compute no features; the recognizer reads what the E2E side cached
    assert out.count("clips computed in the cached epochs after the first: 0 ") == 2
    assert re.search(r"recognizer: first epoch of the cached side \(computes and writes 0 clips, reads [1-9]", out)
    assert not list(tmp_path.rglob("*.f16"))  # the cache lived in the work dir's temporary folder


@pytest.mark.timeout(600)
@pytest.mark.long
def test_data_build_quick(tmp_path):
    out = run("data_build", "--quick", "--work-dir", str(tmp_path))
    assert {"data_build_main_job", "data_build_per_utterance"} <= set(ratios(out))
    assert "the main job builds 910 of 7280 utterances" in out
    assert not list(tmp_path.iterdir())  # every build went to the temporary folder, now removed


@pytest.mark.timeout(600)
@pytest.mark.long
def test_cascade_quick_gives_identical_outputs(data_root, tmp_path):
    out = run("cascade_recognition", "--quick", "--data-root", data_root, "--work-dir", str(tmp_path))
    found = ratios(out)
    assert {"whisper_batched_decoding", "romanize_stage"} <= set(found)
    same = re.search(r"SAME_TRANSCRIPTS whisper: (\d+)/(\d+) identical", out)
    assert same and same.group(1) == same.group(2) and int(same.group(2)) > 0
    same = re.search(r"SAME_ROMANIZATIONS: (\d+)/(\d+) identical", out)
    assert same and same.group(1) == same.group(2)


@pytest.mark.timeout(600)
@pytest.mark.long
def test_sweep_launch_quick_runs_the_same_point_both_ways(data_root, tiny_corpus, tmp_path):
    out = run("sweep_launch", "--quick", "--data-root", data_root, "--work-dir", str(tmp_path))
    assert "sweep_point_launch" in ratios(out)
    assert "forkserver start + warm-up point" in out and "seconds saved a point" in out
    assert not list(tmp_path.iterdir())  # every point's run directory was in the removed scratch folder


@pytest.mark.timeout(600)
@pytest.mark.long
def test_image_decode_quick_compares_the_two_data_paths(data_root, tmp_path):
    out = run("image_decode", "--quick", "--data-root", data_root)
    assert "image_decode_train_path" in ratios(out)
    assert "tower input (64, 128)" in out
    difference = float(re.search(r"over 32 images: (\S+)", out).group(1))
    assert difference < 0.1  # the same pictures, decoded at another scale: close, not equal


@pytest.mark.timeout(600)
@pytest.mark.long
def test_wall_time_quick_times_the_cut_down_main_job(data_root, tmp_path):
    out = run("wall_time", "--quick", "--data-root", data_root, "--out", str(tmp_path / "runs"))
    assert re.search(r"^WALL_TIME main: \d+\.\d s", out, re.MULTILINE)
    assert (tmp_path / "runs" / "main" / "metrics.json").is_file()  # the job really ran to the end


def test_wall_time_dry_run_prints_both_commands():
    out = run("wall_time", "--job", "both", "--dry-run")
    assert "speech.fit -c configs/embedded/speech.yaml" in out
    assert "workbench.sweep -c configs/sweeps/embedded.yaml --out" in out


def test_speechtaxi_prepare_quick_compares_processes_with_one():
    out = run("speechtaxi_prepare", "--quick")
    assert "speechtaxi_prepare" in ratios(out) and "16 clips" in out
