"""The front-end feature cache: same features as recomputation, invalidation, atomic writes, concurrency."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
import torch

from speech import feature_cache
from speech.encoders.conv import ConvEncoder
from speech.feature_cache import FeatureCache, clip_digest
from speech.features import LogMel, num_frames

# The raw log-mel is stored as float16: relative error <= 2**-11. After per-utterance
# normalisation the error is that divided by a bin's spread, small on average but up to a few
# hundredths in a near-constant bin (the tones below have some).
FP16_RELATIVE = 2.0**-11
FP16_TOLERANCE = 0.1  # largest error of a normalised value
FP16_MEAN_TOLERANCE = 2e-3  # mean error of the normalised values


@pytest.fixture
def cache_dir(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "features"
    monkeypatch.setenv(feature_cache.ENV_VAR, str(root))
    monkeypatch.setattr(feature_cache, "_WRITES", True)  # the demo tests turn writes off in this process
    return root


def clips(seed: int = 0, lengths=(16000, 11000, 7000, 3300)) -> tuple[torch.Tensor, torch.Tensor]:
    """Zero-padded noisy tones of different lengths, ``(B, T)`` and ``(B,)``."""
    gen = torch.Generator().manual_seed(seed)
    lengths_t = torch.tensor(lengths)
    t = torch.arange(max(lengths)) / 16000
    waves = torch.zeros(len(lengths), max(lengths))
    for i, n in enumerate(lengths):
        tone = 0.4 * torch.sin(2 * torch.pi * (200 + 150 * i) * t[:n]) + 0.05 * torch.randn(n, generator=gen)
        waves[i, :n] = tone
    return waves, lengths_t


def entries(root: Path) -> list[Path]:
    return sorted(root.rglob("*.f16"))


def test_cached_features_equal_recomputed_ones(cache_dir):
    front = LogMel(specaugment=False)
    waves, lengths = clips()
    first, frames = front(waves, lengths)  # misses: computed, written
    cache = front.feature_cache()
    assert (cache.hits, cache.misses) == (0, 4) and len(entries(cache_dir)) == 4
    second, frames2 = front(waves, lengths)  # hits: read back
    assert (cache.hits, cache.misses) == (4, 4)
    assert torch.equal(first, second) and torch.equal(frames, frames2)  # a hit equals the miss exactly
    front.cache = False
    plain, plain_frames = front(waves, lengths)
    assert torch.equal(frames, plain_frames) and frames.tolist() == num_frames(lengths).tolist()
    error = (first - plain).abs()
    assert error.max() < FP16_TOLERANCE and error.mean() < FP16_MEAN_TOLERANCE
    # the stored raw log-mel is the recomputed one rounded to float16, nothing else
    raw, _ = front.log_mel(waves, lengths)
    stored = cache.features(waves, lengths, frames, front.log_mel)
    padding = torch.arange(first.shape[1])[None, :] >= frames[:, None]
    assert torch.all((stored - raw).abs()[~padding] <= FP16_RELATIVE * raw.abs()[~padding] + 1e-6)
    assert first[padding].abs().max() == 0 and stored[padding].abs().max() == 0  # padding stays zero


def test_an_items_features_do_not_depend_on_its_batch(cache_dir):
    front = LogMel(specaugment=False)
    waves, lengths = clips()
    batch, _ = front(waves, lengths)
    alone, frames = front(waves[2:3, : lengths[2]], lengths[2:3])  # a hit written by the batch
    assert front.feature_cache().hits == 1
    assert torch.allclose(alone[0], batch[2, : frames[0]], atol=1e-5)


def test_specaugment_runs_on_the_cached_tensor(cache_dir):
    torch.manual_seed(0)
    front = LogMel(specaugment=True, freq_masks=2, freq_width=10, time_masks=2, time_width=0.2).train()
    waves, lengths = clips()
    a, _ = front(waves, lengths)
    b, _ = front(waves, lengths)
    assert front.feature_cache().hits == 4  # the second call read the cache ...
    assert not torch.equal(a, b)  # ... and drew new masks
    front.eval()
    c, _ = front(waves, lengths)
    front.cache = False
    d, _ = front(waves, lengths)
    assert (c - d).abs().max() < FP16_TOLERANCE


def test_changed_audio_is_a_new_entry(cache_dir):
    front = LogMel(specaugment=False)
    waves, lengths = clips()
    front(waves, lengths)
    changed = waves.clone()
    changed[1, 100] += 1e-3  # one sample of one clip
    out, _ = front(changed, lengths)
    cache = front.feature_cache()
    assert (cache.hits, cache.misses) == (3, 5) and len(entries(cache_dir)) == 5
    front.cache = False
    assert (out - front(changed, lengths)[0]).abs().max() < FP16_TOLERANCE


@pytest.mark.parametrize("change", [{"n_mels": 32}, {"n_fft": 512}, {"f_min": 20.0}, {"window": "hamming"}])
def test_changed_front_end_is_a_new_folder(cache_dir, change):
    base = LogMel(specaugment=False)
    other = LogMel(specaugment=False, n_mels=change.get("n_mels", 40))
    if "n_fft" in change or "f_min" in change or "window" in change:
        import torchaudio

        window = torch.hamming_window if change.get("window") == "hamming" else torch.hann_window
        other.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=16000, n_fft=change.get("n_fft", 400), hop_length=160, n_mels=40,
            f_min=change.get("f_min", 0.0), window_fn=window,
        )  # fmt: skip
    assert base.feature_cache().folder != other.feature_cache().folder
    waves, lengths = clips()
    base(waves, lengths)
    other(waves, lengths)
    assert other.feature_cache().misses == 4  # nothing read from the other front end's folder


def test_settings_and_switches(cache_dir, monkeypatch):
    front = LogMel(specaugment=False)
    waves, lengths = clips()
    monkeypatch.setenv(feature_cache.ENV_VAR, "off")
    front(waves, lengths)
    assert front.feature_cache() is None and not cache_dir.exists()
    monkeypatch.setenv(feature_cache.ENV_VAR, str(cache_dir))
    feature_cache.set_writes(False)  # read-only (the demo): computes misses, writes nothing
    front(waves, lengths)
    assert front.feature_cache().misses == 4 and not entries(cache_dir)
    feature_cache.set_writes(True)
    front(waves.requires_grad_(), lengths)  # a differentiable front end is never cached
    assert not entries(cache_dir)


def test_writes_are_atomic_and_damaged_entries_are_recomputed(cache_dir, monkeypatch):
    front = LogMel(specaugment=False)
    waves, lengths = clips()
    reference, _ = front(waves, lengths)
    paths = entries(cache_dir)
    assert not list(cache_dir.rglob("*.tmp")) and (paths[0].parent.parent / "format.json").is_file()
    paths[0].write_bytes(paths[0].read_bytes()[:100])  # truncated
    paths[1].write_bytes(b"")  # empty
    again, _ = front(waves, lengths)
    assert torch.equal(again, reference) and front.feature_cache().misses == 6
    sizes = {p: p.stat().st_size for p in entries(cache_dir)}
    assert sizes[paths[0]] > 100 and sizes[paths[1]] > 0  # rewritten whole

    # a write that fails before its rename leaves neither an entry nor a temporary file
    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    fresh = FeatureCache(cache_dir, "fresh", bins=40)
    with pytest.raises(OSError):
        fresh.write("ab" * 16, torch.zeros(3, 40).numpy())
    assert not fresh.path("ab" * 16).exists() and not list(fresh.folder.rglob("*.tmp"))


def test_concurrent_readers_see_no_entry_or_a_whole_one(cache_dir):
    cache = FeatureCache(cache_dir, "concurrent", bins=40)
    frames = 400
    values = [torch.full((frames, 40), float(v)).half().numpy() for v in (1, 2)]
    key = clip_digest(torch.ones(10))
    seen, errors, stop = [], [], threading.Event()

    def writer():
        try:
            for i in range(200):
                cache.write(key, values[i % 2])
        except Exception as error:  # a failing write fails the test, it does not leave the readers waiting
            errors.append(repr(error))
        finally:
            stop.set()

    def reader():
        while True:  # at least one read after the last write, however the threads are scheduled
            finished = stop.is_set()
            value = cache.read(key, frames)
            if value is not None:
                distinct = value.unique().tolist()
                if distinct not in ([1.0], [2.0]):
                    errors.append(distinct)
                seen.append(distinct[0])
            if finished:
                return

    threads = [threading.Thread(target=writer)] + [threading.Thread(target=reader) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and seen  # every read was a whole entry of one writer's value
    assert not list(cache.folder.rglob("*.tmp"))


def test_the_conv_encoder_reads_the_cache_in_training_and_evaluation(cache_dir):
    torch.manual_seed(0)
    encoder = ConvEncoder(dim=32, num_blocks=2).train()
    waves, lengths = clips()
    encoder(waves, lengths)
    encoder.eval()
    with torch.no_grad():
        cached = encoder(waves, lengths).hidden
        assert encoder.features.feature_cache().hits == 4  # evaluation read what training wrote
        encoder.features.cache = False
        plain = encoder(waves, lengths).hidden
    assert (cached - plain).abs().max() < 0.1 and cached.abs().max() > 0


def test_the_frozen_encoder_path_fills_the_same_cache(cache_dir, tmp_path):
    from speech.model import SpeechClassifier

    torch.manual_seed(0)
    model = SpeechClassifier(
        ConvEncoder(dim=32, num_blocks=1), num_classes=3, mode="frozen", cache_dir=str(tmp_path / "enc")
    )
    waves, lengths = clips()
    keys = [f"clip{i}" for i in range(len(lengths))]
    model({"waves": waves, "lengths": lengths, "keys": keys})  # encoder-output misses run the front end
    assert len(entries(cache_dir)) == 4
    recognizer_front = ConvEncoder(dim=16, num_blocks=1).features  # another model, the same front end
    recognizer_front(waves, lengths)
    assert recognizer_front.feature_cache().hits == 4 and len(entries(cache_dir)) == 4
