"""The feature cache's keys and layout, from the contract in :mod:`speech.feature_cache`'s docstring.

A key that misses a setting, or a clip digest that depends on how the samples are held, would
make two front ends or two clips share an entry with no error: the features a model trains on
would silently be another front end's. These tests pin the keys (what changes a key, what does
not) and the documented layout on small tensors, without a front end.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from speech import feature_cache
from speech.feature_cache import FeatureCache, cache_root, clip_digest, front_end_digest

BINS = 4


def _constant_front_end(waves: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    frames = lengths // 160
    return torch.ones(len(lengths), int(frames.max()), BINS), frames


def test_the_cache_folder_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv(feature_cache.ENV_VAR, raising=False)
    assert cache_root() == Path("data/cache/features")  # the documented default
    for word in ["", "0", "off", "none", "false", "no", " OFF ", "None", "False\n", "NO"]:
        monkeypatch.setenv(feature_cache.ENV_VAR, word)
        assert cache_root() is None, word
    monkeypatch.setenv(feature_cache.ENV_VAR, "/scratch/features")
    assert cache_root() == Path("/scratch/features")


def test_a_clip_digest_is_its_float32_samples_however_they_are_held():
    every_other = torch.randn(2002, generator=torch.Generator().manual_seed(0))[::2]  # a non-contiguous view
    samples = every_other.clone()
    key = clip_digest(samples)
    assert len(key) == 32 and int(key, 16) >= 0  # XXH3-128 in hex
    assert clip_digest(samples.double()) == key  # float32 bytes, whatever the input dtype
    assert not every_other.is_contiguous() and clip_digest(every_other) == key
    changed = samples.clone()
    changed[500] += 1e-3
    assert clip_digest(changed) != key and clip_digest(samples[:1000]) != key


def test_a_front_end_digest_changes_with_every_setting_and_tensor_and_nothing_else(monkeypatch):
    config = {"n_fft": 400, "window": Path("hann"), "f_min": 0.0}  # a setting that is not JSON: str()
    tensors = {"mel_fb": torch.arange(12.0).reshape(3, 4), "window": torch.ones(5)}
    digest = front_end_digest(config, tensors)
    assert front_end_digest(dict(reversed(config.items())), dict(reversed(tensors.items()))) == digest
    assert front_end_digest({**config, "f_min": 20.0}, tensors) != digest
    assert front_end_digest(config, {**tensors, "mel_fb": tensors["mel_fb"].reshape(4, 3)}) != digest  # shape
    assert front_end_digest(config, {"mel_fb": tensors["window"], "window": tensors["mel_fb"]}) != digest  # names
    assert front_end_digest(config, {**tensors, "window": torch.ones(5) * 2}) != digest  # values
    monkeypatch.setattr(feature_cache, "FORMAT_VERSION", feature_cache.FORMAT_VERSION + 1)
    assert front_end_digest(config, tensors) != digest  # a bumped format is a new folder


def test_an_entry_is_raw_little_endian_float16_in_the_documented_layout(tmp_path):
    config = {"n_mels": BINS, "window": Path("hann")}
    cache = FeatureCache(tmp_path, "frontend", bins=BINS, config=config)
    key = clip_digest(torch.ones(10))
    value = np.arange(3 * BINS, dtype=np.float32).reshape(3, BINS) / 7
    cache.write(key, value)
    entry = tmp_path / "frontend" / key[:2] / f"{key}.f16"
    assert {p for p in tmp_path.rglob("*") if p.is_file()} == {entry, tmp_path / "frontend" / "format.json"}
    assert entry.read_bytes() == value.astype("<f2").tobytes()
    read = cache.read(key, 3)
    assert read.dtype == torch.float32 and torch.equal(read, torch.from_numpy(value.astype("<f2").astype(np.float32)))
    assert cache.read(key, 2) is None and cache.read(clip_digest(torch.zeros(10)), 3) is None
    described = json.loads((tmp_path / "frontend" / "format.json").read_text())
    assert described["n_mels"] == BINS and described["window"] == "hann"
    assert described["format"] == feature_cache.FORMAT_VERSION


def test_the_temporary_file_is_renamed_within_the_entrys_folder(tmp_path, monkeypatch):
    renames = []
    real_replace = os.replace

    def recording_replace(src, dst):
        renames.append((Path(src).parent, Path(dst).parent))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", recording_replace)
    FeatureCache(tmp_path, "frontend", bins=BINS).write("ab" * 16, np.zeros((2, BINS), np.float32))
    # a rename is atomic only within one file system: the temporary file sits beside its entry
    assert renames and all(src == dst for src, dst in renames)


def test_a_front_end_that_gives_other_frame_counts_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setattr(feature_cache, "_WRITES", True)
    cache = FeatureCache(tmp_path, "frontend", bins=BINS)
    waves, lengths = torch.randn(2, 800), torch.tensor([800, 500])

    def one_frame_short(waves, lengths):
        frames = lengths // 160
        return torch.zeros(len(lengths), int(frames.max()), BINS), frames - 1

    with pytest.raises(RuntimeError, match="front end gave 4 frames, expected 5"):
        cache.features(waves, lengths, lengths // 160, one_frame_short)
    assert not list(tmp_path.rglob("*.f16"))


def test_set_writes_switches_writing_off_and_on_and_the_counters_add_up(tmp_path, monkeypatch):
    monkeypatch.setattr(feature_cache, "_WRITES", True)  # restored after the test
    cache = FeatureCache(tmp_path, "frontend", bins=BINS)
    waves, lengths = torch.randn(1, 800), torch.tensor([800])
    feature_cache.set_writes(False)  # the demo: misses are computed, nothing is written
    cache.features(waves, lengths, lengths // 160, _constant_front_end)
    assert cache.misses == 1 and not list(tmp_path.rglob("*.f16"))
    feature_cache.set_writes(True)
    cache.features(waves, lengths, lengths // 160, _constant_front_end)
    assert cache.misses == 2 and len(list(tmp_path.rglob("*.f16"))) == 1
    for _ in range(2):  # the counters add up over calls
        cache.features(waves, lengths, lengths // 160, _constant_front_end)
    assert (cache.hits, cache.misses) == (2, 2)


def test_a_batch_whose_frame_counts_do_not_match_its_clips_is_refused(tmp_path):
    cache = FeatureCache(tmp_path, "frontend", bins=BINS)
    waves, lengths = torch.randn(2, 800), torch.tensor([800, 500])
    # one frame count for two clips: refused, not the second clip silently left as zeros
    with pytest.raises(ValueError):
        cache.features(waves, lengths, torch.tensor([5]), _constant_front_end)
